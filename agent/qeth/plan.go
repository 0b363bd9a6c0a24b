package qeth

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/zguest/zguest/agent/ccw"
	"github.com/zguest/zguest/agent/nic"
)

// Op is one kind of step.
type Op int

// The steps, in the order they run.
const (
	OpWaitDevices Op = iota // wait until the subchannels are registered and bound to qeth
	OpGroup                 // write read,write,data to the qeth group file
	OpSetAttr               // write an attribute of the offline group (read first)
	OpOnline                // set the group online (read first)
	OpWaitName              // wait until udev has named the interface
	OpRename                // rename the interface (rd.znet_ifname, NIC list ifname)
	OpSetMAC                // set the MAC through netlink (read first)
)

// Step is one action of a plan.
type Step struct {
	Op    Op
	IDs   []ccw.BusID // OpWaitDevices, OpGroup
	Attr  string      // OpSetAttr
	Value string      // OpSetAttr
	Name  string      // OpRename
	MAC   net.HardwareAddr
}

func (s Step) String() string {
	switch s.Op {
	case OpWaitDevices:
		return "wait for " + joinIDs(s.IDs)
	case OpGroup:
		return "group " + joinIDs(s.IDs)
	case OpSetAttr:
		return "set " + s.Attr + "=" + s.Value
	case OpOnline:
		return "online"
	case OpWaitName:
		return "wait for udev"
	case OpRename:
		return "rename to " + s.Name
	case OpSetMAC:
		return "set MAC " + s.MAC.String()
	}
	return fmt.Sprintf("op(%d)", int(s.Op))
}

func joinIDs(ids []ccw.BusID) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = id.String()
	}
	return strings.Join(s, ",")
}

// Plan is what has to happen for one NIC.
type Plan struct {
	NIC nic.NIC
	// Members are the subchannels actually used: the NIC's, or those of a
	// group that already exists when the source did not name them.
	Members [3]ccw.BusID
	// Free lists subchannels to remove from cio_ignore first; the caller
	// frees all NICs' subchannels in one write and settles once.
	Free  []ccw.BusID
	Steps []Step
	// Warnings are worth telling but do not make the NIC fail.
	Warnings []string
}

// Refusal is a NIC the agent will not touch, with the reason and what to
// do about it.
type Refusal struct {
	ID     ccw.BusID
	Reason string
}

func (r *Refusal) Error() string { return r.ID.String() + ": " + r.Reason }

// MakePlan computes the steps for one NIC from what Observe found. It is
// pure: it reads nothing and changes nothing.
func MakePlan(n nic.NIC, o Observed) (Plan, error) {
	p := Plan{NIC: n, Members: n.Subchannels()}
	refuse := func(format string, a ...any) (Plan, error) {
		return Plan{}, &Refusal{ID: n.Read, Reason: fmt.Sprintf(format, a...)}
	}
	if n.Layer2 == nic.Layer3 && n.MAC != nil {
		return refuse("layer 3 was asked for together with MAC %s, but a qeth layer-3 device has no MAC to set; ask for layer 2 or drop the MAC", n.MAC)
	}
	if n.MAC != nil {
		if w := nic.MACWarning(n.MAC); w != "" {
			p.Warnings = append(p.Warnings, w)
		}
	}
	wantL2 := n.WantLayer2()
	wantPort := n.WantPort()
	if g := o.Group; g != nil {
		if g.Members != p.Members {
			if n.Explicit {
				return refuse("a group already exists with subchannels %s, but %s asks for %s; ungroup it (echo 1 > /sys/bus/ccwgroup/devices/%s/ungroup) if the source is right",
					joinIDs(g.Members[:]), strings.Join(n.Sources, ", "), joinIDs(p.Members[:]), n.Read)
			}
			p.Members = g.Members
			p.Warnings = append(p.Warnings, fmt.Sprintf("already grouped with subchannels %s; keeping them", joinIDs(g.Members[:])))
		}
		if g.Online {
			if g.Layer2 != wantL2 {
				return refuse("the group is online in layer %d but layer %d is wanted; the agent does not take an online NIC down. Set it offline (echo 0 > /sys/bus/ccwgroup/devices/%s/online) and run zguest-agent again, or reboot",
					layerNum(g.Layer2), layerNum(wantL2), n.Read)
			}
			if g.PortNo != wantPort {
				return refuse("the group is online on port %d but port %d is wanted; the agent does not take an online NIC down. Set it offline (echo 0 > /sys/bus/ccwgroup/devices/%s/online) and run zguest-agent again",
					g.PortNo, wantPort, n.Read)
			}
			for _, a := range n.Attrs {
				if v, ok := g.Attrs[a.Name]; ok && v != a.Value {
					p.Warnings = append(p.Warnings, fmt.Sprintf("%s is %s, not %s; it can only be changed while the group is offline", a.Name, v, a.Value))
				}
			}
		} else {
			if g.Layer2 != wantL2 {
				p.Steps = append(p.Steps, Step{Op: OpSetAttr, Attr: "layer2", Value: strconv.Itoa(wantL2)})
			}
			if g.PortNo != wantPort {
				p.Steps = append(p.Steps, Step{Op: OpSetAttr, Attr: "portno", Value: strconv.Itoa(wantPort)})
			}
			p.Steps = append(p.Steps, attrSteps(n.Attrs, g.Attrs)...)
			p.Steps = append(p.Steps, Step{Op: OpOnline})
		}
		return finish(p, wantL2), nil
	}
	for _, m := range o.Members {
		if m.Group != "" && m.Group != n.Read.String() {
			return refuse("subchannel %s already belongs to group %s; ungroup that first if this NIC is right", m.ID, m.Group)
		}
		if m.Driver != "" && m.Driver != "qeth" {
			return refuse("subchannel %s is bound to driver %q, not qeth: it is not an OSA or HiperSockets device (check the device number)", m.ID, m.Driver)
		}
		if m.Ignored && !m.Present {
			p.Free = append(p.Free, m.ID)
		}
	}
	ids := p.Members[:]
	p.Steps = append(p.Steps,
		Step{Op: OpWaitDevices, IDs: ids},
		Step{Op: OpGroup, IDs: ids},
		Step{Op: OpSetAttr, Attr: "layer2", Value: strconv.Itoa(wantL2)},
		Step{Op: OpSetAttr, Attr: "portno", Value: strconv.Itoa(wantPort)},
	)
	p.Steps = append(p.Steps, attrSteps(n.Attrs, nil)...)
	p.Steps = append(p.Steps, Step{Op: OpOnline})
	return finish(p, wantL2), nil
}

func attrSteps(want []nic.Attr, have map[string]string) []Step {
	var s []Step
	for _, a := range want {
		if v, ok := have[a.Name]; ok && v == a.Value {
			continue
		}
		s = append(s, Step{Op: OpSetAttr, Attr: a.Name, Value: a.Value})
	}
	return s
}

func finish(p Plan, wantL2 int) Plan {
	p.Steps = append(p.Steps, Step{Op: OpWaitName})
	if p.NIC.IfName != "" {
		p.Steps = append(p.Steps, Step{Op: OpRename, Name: p.NIC.IfName})
	}
	if p.NIC.MAC != nil && wantL2 == 1 {
		p.Steps = append(p.Steps, Step{Op: OpSetMAC, MAC: p.NIC.MAC})
	}
	return p
}

func layerNum(l2 int) int {
	if l2 == 1 {
		return 2
	}
	return 3
}
