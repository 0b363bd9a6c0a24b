// Package nic holds the agent's description of one qeth NIC to bring up,
// as found in one of its sources (the DPM kernel command line tokens,
// rd.znet parameters, the NIC list file the host pushes), the problems
// found while reading those sources, and the rules for merging them.
package nic

import (
	"fmt"
	"net"
	"sort"
	"strings"

	"github.com/zguest/zguest/agent/ccw"
)

// Layer values for NIC.Layer2.
const (
	LayerDefault = -1 // not said: the agent uses layer 2
	Layer3       = 0
	Layer2       = 1
)

// NIC is one qeth device the guest should have.
type NIC struct {
	// Read is the first subchannel; the group and the interface take its name.
	Read ccw.BusID
	// Write and Data are the other two subchannels. When Explicit is false
	// they were derived as Read+1 and Read+2 and an existing group with
	// other members is accepted.
	Write, Data ccw.BusID
	Explicit    bool
	// Port is the OSA port number (portno); -1 if no source said.
	Port int
	// MAC is the address to set; nil keeps the card's.
	MAC net.HardwareAddr
	// Layer2 is LayerDefault, Layer3 or Layer2.
	Layer2 int
	// IfName is a requested interface name (rd.znet_ifname); "" keeps udev's.
	IfName string
	// Attrs are further sysfs attributes to set while offline (rd.znet
	// options such as buffer_count), in order.
	Attrs []Attr
	// Sources says where this NIC came from, e.g. "cmdline 0001,1,02..;".
	Sources []string
}

// Attr is one sysfs attribute of the group device and its value.
type Attr struct{ Name, Value string }

// New returns a NIC with derived write and data subchannels and nothing
// else set.
func New(read ccw.BusID, source string) (NIC, error) {
	w, err := read.Add(1)
	if err != nil {
		return NIC{}, err
	}
	d, err := read.Add(2)
	if err != nil {
		return NIC{}, err
	}
	return NIC{Read: read, Write: w, Data: d, Port: -1, Layer2: LayerDefault, Sources: []string{source}}, nil
}

// Subchannels returns read, write and data.
func (n NIC) Subchannels() [3]ccw.BusID { return [3]ccw.BusID{n.Read, n.Write, n.Data} }

// WantLayer2 is the layer2 value to write: 1 unless a source asked for layer 3.
func (n NIC) WantLayer2() int {
	if n.Layer2 == Layer3 {
		return 0
	}
	return 1
}

// WantPort is the portno to write: 0 unless a source said.
func (n NIC) WantPort() int {
	if n.Port < 0 {
		return 0
	}
	return n.Port
}

// Problem is something wrong in a source, reported with where it was.
type Problem struct {
	Source string // "/proc/cmdline", "/run/zguest/nics.json"
	Where  string // "offset 57", "nics[2].mac"
	Text   string // the offending input
	Reason string // what is wrong and what to do
	// Warning marks a problem that loses nothing the host asked for.
	Warning bool
}

func (p Problem) String() string {
	s := p.Source
	if p.Where != "" {
		s += " " + p.Where
	}
	if p.Text != "" {
		s += fmt.Sprintf(" %q", p.Text)
	}
	return s + ": " + p.Reason
}

// CheckMAC refuses what no qeth layer-2 device can carry: anything but 6
// bytes, a multicast (group) address, the all-zero address. The kernel's
// qeth_l2_set_mac_address takes every other address (is_valid_ether_addr),
// universally administered ones included; whether the adapter or z/VM
// accepts it is the card's answer, reported when the MAC is set.
func CheckMAC(mac net.HardwareAddr) error {
	if len(mac) != 6 {
		return fmt.Errorf("MAC must be 6 bytes, got %d", len(mac))
	}
	if mac[0]&1 != 0 {
		return fmt.Errorf("MAC %s is a multicast address; use a unicast one", mac)
	}
	if string(mac) == "\x00\x00\x00\x00\x00\x00" {
		return fmt.Errorf("MAC %s is all zero; use a unicast address", mac)
	}
	return nil
}

// MACWarning says why a MAC that CheckMAC accepts may still be refused:
// a universally administered address (the second hex digit of the first
// byte is not 2, 6, a or e) belongs to some manufacturer's card, and
// nova-dpm's tools and some OSA or z/VM setups accept only locally
// administered ones. "" means nothing to say.
func MACWarning(mac net.HardwareAddr) string {
	if len(mac) != 6 || mac[0]&2 != 0 {
		return ""
	}
	return fmt.Sprintf("MAC %s is universally administered (the second hex digit is not 2, 6, a or e); setting it anyway, but an adapter or z/VM VSWITCH may refuse it or it may clash with a real card's address", mac)
}

// Merge combines NICs from several sources, given in precedence order
// (earlier wins on conflicting values). NICs are keyed by their read
// subchannel. Conflicts are returned as problems; the merged NIC keeps the
// value of the earlier source. The result is sorted by bus id.
func Merge(sources ...[]NIC) ([]NIC, []Problem) {
	byRead := map[ccw.BusID]*NIC{}
	var order []ccw.BusID
	var probs []Problem
	for _, list := range sources {
		for _, n := range list {
			cur, ok := byRead[n.Read]
			if !ok {
				c := n
				c.Sources = append([]string(nil), n.Sources...)
				c.Attrs = append([]Attr(nil), n.Attrs...)
				byRead[n.Read] = &c
				order = append(order, n.Read)
				continue
			}
			probs = append(probs, mergeInto(cur, n)...)
		}
	}
	out := make([]NIC, 0, len(order))
	for _, r := range order {
		out = append(out, *byRead[r])
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Read.Less(out[j].Read) })
	return out, probs
}

func mergeInto(cur *NIC, n NIC) []Problem {
	var probs []Problem
	conflict := func(what, have, got string) {
		probs = append(probs, Problem{
			Source: strings.Join(n.Sources, ", "),
			Where:  cur.Read.String(),
			Reason: fmt.Sprintf("%s %s conflicts with %s from %s; using %s", what, got, have, strings.Join(cur.Sources, ", "), have),
		})
	}
	if n.Explicit {
		if !cur.Explicit {
			cur.Write, cur.Data, cur.Explicit = n.Write, n.Data, true
		} else if cur.Write != n.Write || cur.Data != n.Data {
			conflict("subchannels", fmt.Sprintf("%s,%s,%s", cur.Read, cur.Write, cur.Data), fmt.Sprintf("%s,%s,%s", n.Read, n.Write, n.Data))
		}
	}
	if n.Port >= 0 {
		if cur.Port < 0 {
			cur.Port = n.Port
		} else if cur.Port != n.Port {
			conflict("port", fmt.Sprint(cur.Port), fmt.Sprint(n.Port))
		}
	}
	if n.MAC != nil {
		if cur.MAC == nil {
			cur.MAC = n.MAC
		} else if cur.MAC.String() != n.MAC.String() {
			conflict("MAC", cur.MAC.String(), n.MAC.String())
		}
	}
	if n.Layer2 != LayerDefault {
		if cur.Layer2 == LayerDefault {
			cur.Layer2 = n.Layer2
		} else if cur.Layer2 != n.Layer2 {
			conflict("layer2", fmt.Sprint(cur.Layer2), fmt.Sprint(n.Layer2))
		}
	}
	if n.IfName != "" {
		if cur.IfName == "" {
			cur.IfName = n.IfName
		} else if cur.IfName != n.IfName {
			conflict("interface name", cur.IfName, n.IfName)
		}
	}
	cur.Attrs = append(cur.Attrs, n.Attrs...)
	for _, s := range n.Sources {
		if !contains(cur.Sources, s) {
			cur.Sources = append(cur.Sources, s)
		}
	}
	return probs
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
