// Package link sets MAC addresses and names of network interfaces through
// rtnetlink, in the network namespace the agent runs in. It never sets a
// link up: cloud-init and the distribution's network stack do that.
package link

import (
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
)

// Netlink implements the agent's Links over a netlink handle.
type Netlink struct{ h *netlink.Handle }

// New opens a netlink handle in the current network namespace.
func New() (*Netlink, error) {
	h, err := netlink.NewHandle()
	if err != nil {
		return nil, fmt.Errorf("open rtnetlink socket: %w", err)
	}
	return &Netlink{h: h}, nil
}

// Close releases the handle.
func (n *Netlink) Close() { n.h.Close() }

func (n *Netlink) byName(name string) (netlink.Link, error) {
	l, err := n.h.LinkByName(name)
	if err != nil {
		return nil, fmt.Errorf("find interface %s: %w", name, err)
	}
	return l, nil
}

// HardwareAddr returns the interface's MAC.
func (n *Netlink) HardwareAddr(name string) (net.HardwareAddr, error) {
	l, err := n.byName(name)
	if err != nil {
		return nil, err
	}
	return l.Attrs().HardwareAddr, nil
}

// SetHardwareAddr sends RTM_SETLINK with IFLA_ADDRESS. The kernel's errno
// (EADDRINUSE, EADDRNOTAVAIL, EOPNOTSUPP, ENODEV) is kept in the chain.
func (n *Netlink) SetHardwareAddr(name string, mac net.HardwareAddr) error {
	l, err := n.byName(name)
	if err != nil {
		return err
	}
	return n.h.LinkSetHardwareAddr(l, mac)
}

// IsUp says whether the interface is administratively up.
func (n *Netlink) IsUp(name string) (bool, error) {
	l, err := n.byName(name)
	if err != nil {
		return false, err
	}
	return l.Attrs().Flags&net.FlagUp != 0, nil
}

// Rename renames a link that is down.
func (n *Netlink) Rename(oldName, newName string) error {
	l, err := n.byName(oldName)
	if err != nil {
		return err
	}
	return n.h.LinkSetName(l, newName)
}
