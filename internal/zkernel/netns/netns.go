// Package netns is a zkernel.NetBackend made of real network interfaces,
// so that an agent under test changes MACs, flags and names with real
// RTM_SETLINK requests and gets real kernel errors. It needs root.
//
// Each qeth net device is a macvlan (mode bridge) on its own "LAN uplink"
// veth that lives in a private LAN namespace; the macvlan is created
// there, moved into the guest namespace and named ethN/hsiN. MACs held by
// other hosts on the LAN (MACInUse) are UP neighbour macvlans on the same
// uplink, so changing the device's MAC to one of them fails with the real
// kernel's EADDRINUSE; multicast or zero MACs give EADDRNOTAVAIL, as on
// qeth. Rename refuses an UP device with EBUSY itself (see Rename). The carrier follows the
// uplink: for LinkDown the veth peer stays down.
//
// approximation: real qeth keeps an offline group's net device visible
// but "not present". Detach moves it back into the LAN namespace instead,
// so the agent's by-name and by-index requests fail with "not found" or
// ENODEV; Attach moves it back and restores IFF_UP, which the move
// clears. The ifindex is kept unless the guest namespace reused it.
// approximation: layer-3 and OSM/OSX devices accept MAC changes here (qeth
// refuses with EOPNOTSUPP); MemLinks models that.
//
// All netlink traffic goes through handles bound to the two namespaces
// (netlink.NewHandleAt); no thread ever switches namespace here.
package netns

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"

	"github.com/zguest/zguest/internal/zkernel"
)

// Backend implements zkernel.NetBackend with macvlans.
type Backend struct {
	mu    sync.Mutex
	guest *netlink.Handle
	lan   *netlink.Handle
	gns   vnetns.NsHandle
	lns   vnetns.NsHandle
	links map[string]*link // by current name
	next  int              // counter for helper device names
}

type link struct {
	busID      string
	name       string
	uplink     string // veth in the LAN namespace (its peer is uplink+"p")
	neighbours []string
	detached   bool
	wasUp      bool
}

var _ zkernel.NetBackend = (*Backend)(nil)

// New returns a backend putting devices into the guest namespace and
// keeping uplinks and detached devices in the LAN namespace. The handles
// stay owned by the caller and must outlive the backend.
func New(guest, lan vnetns.NsHandle) (*Backend, error) {
	gh, err := netlink.NewHandleAt(guest)
	if err != nil {
		return nil, fmt.Errorf("netns: handle in guest namespace: %w", err)
	}
	lh, err := netlink.NewHandleAt(lan)
	if err != nil {
		gh.Close()
		return nil, fmt.Errorf("netns: handle in LAN namespace: %w", err)
	}
	return &Backend{guest: gh, lan: lh, gns: guest, lns: lan, links: map[string]*link{}}, nil
}

// Guest returns the netlink handle of the guest namespace.
func (b *Backend) Guest() *netlink.Handle { return b.guest }

// Close deletes every device the backend made and closes its handles.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var errs []error
	for name := range b.links {
		if err := b.unregister(name); err != nil {
			errs = append(errs, err)
		}
	}
	b.guest.Close()
	b.lan.Close()
	return errors.Join(errs...)
}

// wrap turns netlink errors into errors wrapping a syscall.Errno: a
// missing link is ENODEV (what RTM_GETLINK returns).
func wrap(op, name string, err error) error {
	if err == nil {
		return nil
	}
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		return fmt.Errorf("netns: %s %s: %w", op, name, syscall.ENODEV)
	}
	return fmt.Errorf("netns: %s %s: %w", op, name, err)
}

func (b *Backend) helperName(prefix string) string {
	b.next++
	return prefix + strconv.Itoa(b.next)
}

// handle returns the handle of the namespace l currently lives in.
func (b *Backend) handle(l *link) *netlink.Handle {
	if l.detached {
		return b.lan
	}
	return b.guest
}

func (b *Backend) get(op, name string) (*link, netlink.Link, error) {
	l := b.links[name]
	if l == nil {
		return nil, nil, fmt.Errorf("netns: %s %s: %w", op, name, syscall.ENODEV)
	}
	nl, err := b.handle(l).LinkByName(name)
	if err != nil {
		return nil, nil, wrap(op, name, err)
	}
	return l, nl, nil
}

// freeName returns template's lowest free name: not used in the guest
// namespace nor by a detached device (which still owns it on real qeth).
func (b *Backend) freeName(template string) (string, error) {
	prefix, ok := strings.CutSuffix(template, "%d")
	if !ok || strings.Contains(prefix, "%") {
		return "", fmt.Errorf("netns: bad name template %q: %w", template, syscall.EINVAL)
	}
	used := map[string]bool{}
	for name := range b.links {
		used[name] = true
	}
	list, err := listLinks(b.guest)
	if err != nil {
		return "", err
	}
	for _, l := range list {
		used[l.Attrs().Name] = true
	}
	for n := 0; ; n++ {
		if c := prefix + strconv.Itoa(n); !used[c] {
			return c, nil
		}
	}
}

// listLinks dumps the links, retrying interrupted dumps.
func listLinks(h *netlink.Handle) ([]netlink.Link, error) {
	var err error
	for try := 0; try < 10; try++ {
		var list []netlink.Link
		list, err = h.LinkList()
		if err == nil {
			return list, nil
		}
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	return nil, fmt.Errorf("netns: list links: %w", err)
}

// Register implements zkernel.NetBackend.
func (b *Backend) Register(busID, template string, mac net.HardwareAddr, carrier bool, inUse []net.HardwareAddr) (name string, ifindex int, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	name, err = b.freeName(template)
	if err != nil {
		return "", 0, err
	}
	l := &link{busID: busID, uplink: b.helperName("zup")}
	defer func() {
		if err != nil {
			b.cleanup(l)
		}
	}()
	// The LAN: a veth whose peer being up gives the uplink its carrier.
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: l.uplink}, PeerName: l.uplink + "p"}
	if err := b.lan.LinkAdd(veth); err != nil {
		return "", 0, wrap("add uplink", l.uplink, err)
	}
	up, err := b.lan.LinkByName(l.uplink)
	if err != nil {
		return "", 0, wrap("find uplink", l.uplink, err)
	}
	if err := b.lan.LinkSetUp(up); err != nil {
		return "", 0, wrap("set up", l.uplink, err)
	}
	if carrier {
		if err := setUpByName(b.lan, l.uplink+"p"); err != nil {
			return "", 0, err
		}
	}
	for _, a := range inUse {
		nb := b.helperName("znb")
		mv := &netlink.Macvlan{LinkAttrs: netlink.LinkAttrs{Name: nb, ParentIndex: up.Attrs().Index, HardwareAddr: a},
			Mode: netlink.MACVLAN_MODE_BRIDGE}
		if err := b.lan.LinkAdd(mv); err != nil {
			return "", 0, wrap("add neighbour", nb, err)
		}
		l.neighbours = append(l.neighbours, nb)
		if err := setUpByName(b.lan, nb); err != nil {
			return "", 0, err
		}
	}
	// The net device, made in the LAN namespace and moved to the guest.
	tmp := b.helperName("zmv")
	mv := &netlink.Macvlan{LinkAttrs: netlink.LinkAttrs{Name: tmp, ParentIndex: up.Attrs().Index, HardwareAddr: mac},
		Mode: netlink.MACVLAN_MODE_BRIDGE}
	if err := b.lan.LinkAdd(mv); err != nil {
		return "", 0, wrap("add macvlan", tmp, err)
	}
	nl, err := b.lan.LinkByName(tmp)
	if err != nil {
		return "", 0, wrap("find macvlan", tmp, err)
	}
	l.name = tmp
	l.detached = true
	if err := b.lan.LinkSetNsFd(nl, int(b.gns)); err != nil {
		return "", 0, wrap("move to guest", tmp, err)
	}
	l.detached = false
	if nl, err = b.guest.LinkByName(tmp); err != nil {
		return "", 0, wrap("find in guest", tmp, err)
	}
	if err := b.guest.LinkSetName(nl, name); err != nil {
		return "", 0, wrap("name", tmp, err)
	}
	l.name = name
	b.links[name] = l
	return name, nl.Attrs().Index, nil
}

func setUpByName(h *netlink.Handle, name string) error {
	nl, err := h.LinkByName(name)
	if err != nil {
		return wrap("find", name, err)
	}
	return wrap("set up", name, h.LinkSetUp(nl))
}

// cleanup deletes l's devices, wherever they are (best effort).
func (b *Backend) cleanup(l *link) error {
	var errs []error
	if l.name != "" {
		if nl, err := b.handle(l).LinkByName(l.name); err == nil {
			if err := b.handle(l).LinkDel(nl); err != nil {
				errs = append(errs, wrap("delete", l.name, err))
			}
		}
	}
	for _, nb := range l.neighbours {
		if nl, err := b.lan.LinkByName(nb); err == nil {
			if err := b.lan.LinkDel(nl); err != nil {
				errs = append(errs, wrap("delete", nb, err))
			}
		}
	}
	if nl, err := b.lan.LinkByName(l.uplink); err == nil {
		if err := b.lan.LinkDel(nl); err != nil {
			errs = append(errs, wrap("delete", l.uplink, err))
		}
	}
	return errors.Join(errs...)
}

// Rename implements zkernel.NetBackend; the kernel refuses with EBUSY
// while the device is up.
func (b *Backend) Rename(oldName, newName string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	l, nl, err := b.get("rename", oldName)
	if err != nil {
		return err
	}
	if oldName == newName {
		return nil
	}
	// The kernels docs/facts/qeth.md describes refuse to rename an UP device
	// (dev_change_name without IFF_LIVE_RENAME_OK); newer kernels, like
	// the 6.18 host this was measured on, allow it, so refuse here.
	if nl.Attrs().Flags&net.FlagUp != 0 || (l.detached && l.wasUp) {
		return fmt.Errorf("netns: rename %s: %w", oldName, syscall.EBUSY)
	}
	if err := b.handle(l).LinkSetName(nl, newName); err != nil {
		return wrap("rename", oldName, err)
	}
	delete(b.links, oldName)
	l.name = newName
	b.links[newName] = l
	return nil
}

// Detach implements zkernel.NetBackend by moving the device into the LAN
// namespace (see the package comment).
func (b *Backend) Detach(name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	l, nl, err := b.get("detach", name)
	if err != nil {
		return err
	}
	if l.detached {
		return nil
	}
	l.wasUp = nl.Attrs().Flags&net.FlagUp != 0
	if err := b.guest.LinkSetNsFd(nl, int(b.lns)); err != nil {
		return wrap("detach", name, err)
	}
	l.detached = true
	return nil
}

// Attach implements zkernel.NetBackend.
func (b *Backend) Attach(name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	l, nl, err := b.get("attach", name)
	if err != nil {
		return err
	}
	if !l.detached {
		return nil
	}
	if err := b.lan.LinkSetNsFd(nl, int(b.gns)); err != nil {
		return wrap("attach", name, err)
	}
	l.detached = false
	if l.wasUp {
		return setUpByName(b.guest, name)
	}
	return nil
}

// Unregister implements zkernel.NetBackend.
func (b *Backend) Unregister(name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.unregister(name)
}

func (b *Backend) unregister(name string) error {
	l := b.links[name]
	if l == nil {
		return fmt.Errorf("netns: unregister %s: %w", name, syscall.ENODEV)
	}
	delete(b.links, name)
	return b.cleanup(l)
}

// HardwareAddr implements zkernel.NetBackend.
func (b *Backend) HardwareAddr(name string) (net.HardwareAddr, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, nl, err := b.get("get address of", name)
	if err != nil {
		return nil, err
	}
	return nl.Attrs().HardwareAddr, nil
}

// IsUp implements zkernel.NetBackend.
func (b *Backend) IsUp(name string) (bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	l, nl, err := b.get("get flags of", name)
	if err != nil {
		return false, err
	}
	if l.detached {
		return l.wasUp, nil
	}
	return nl.Attrs().Flags&net.FlagUp != 0, nil
}
