// Package qeth brings qeth NICs up in layer 2 through the kernel's sysfs
// interface: free the subchannels from cio_ignore, group them, set
// layer2 and portno while offline, set the group online, wait until udev
// has named the interface, and set its MAC. It observes the current
// state, computes a plan as data (Plan), and applies it (Applier), reading
// every attribute before writing it, so that applying twice changes
// nothing.
package qeth

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/zguest/zguest/agent/ccw"
	"github.com/zguest/zguest/agent/sysfs"
)

// Paths of the kernel interfaces, relative to the root.
const (
	CIOIgnore   = "proc/cio_ignore"
	CIOSettle   = "proc/cio_settle"
	GroupFile   = "sys/bus/ccwgroup/drivers/qeth/group"
	ccwDevices  = "sys/bus/ccw/devices/"
	groupDevice = "sys/bus/ccwgroup/devices/"
)

// CCWDir is the sysfs directory of a CCW device.
func CCWDir(id ccw.BusID) string { return ccwDevices + id.String() }

// GroupDir is the sysfs directory of a ccwgroup device.
func GroupDir(id ccw.BusID) string { return groupDevice + id.String() }

// Member is what sysfs says about one subchannel.
type Member struct {
	ID      ccw.BusID
	Present bool   // the CCW device is registered
	Ignored bool   // listed in /proc/cio_ignore
	Driver  string // bound driver, "" if none
	Group   string // bus id of the group it belongs to, "" if none
}

// GroupState is what sysfs says about an existing qeth group device.
type GroupState struct {
	Members  [3]ccw.BusID
	Online   bool
	Layer2   int // -1 (undecided), 0, 1
	PortNo   int
	CardType string
	IfName   string // "" while the net device is unnamed or absent
	Attrs    map[string]string
}

// Observed is the state relevant to one NIC.
type Observed struct {
	Members    [3]Member
	QethLoaded bool
	Group      *GroupState // nil if no group is named after the read subchannel
}

// IgnoreList is the parsed content of /proc/cio_ignore.
type IgnoreList []idRange

type idRange struct{ from, to ccw.BusID }

// ParseIgnoreList reads the /proc/cio_ignore format: one "0.0.f500" or
// "0.0.f500-0.0.f5ff" per line.
func ParseIgnoreList(s string) (IgnoreList, error) {
	var l IgnoreList
	for i, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		a, b, isRange := strings.Cut(line, "-")
		from, err := ccw.Parse(a)
		if err != nil {
			return nil, fmt.Errorf("/%s line %d: %w", CIOIgnore, i+1, err)
		}
		to := from
		if isRange {
			if to, err = ccw.Parse(b); err != nil {
				return nil, fmt.Errorf("/%s line %d: %w", CIOIgnore, i+1, err)
			}
		}
		l = append(l, idRange{from, to})
	}
	return l, nil
}

// Contains says whether id is ignored.
func (l IgnoreList) Contains(id ccw.BusID) bool {
	for _, r := range l {
		if id.SSID == r.from.SSID && !id.Less(r.from) && !r.to.Less(id) {
			return true
		}
	}
	return false
}

// ReadIgnoreList reads /proc/cio_ignore; a missing file (not an s390
// kernel, or an old one) means nothing is ignored.
func ReadIgnoreList(f sysfs.FS) (IgnoreList, error) {
	b, err := f.ReadFile(CIOIgnore)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read /%s: %w", CIOIgnore, err)
	}
	return ParseIgnoreList(string(b))
}

// Observe reads the state of the subchannels and the group of one NIC.
func Observe(f sysfs.FS, ign IgnoreList, ids [3]ccw.BusID, attrs []string) (Observed, error) {
	var o Observed
	for i, id := range ids {
		m := Member{ID: id, Ignored: ign.Contains(id)}
		dir := CCWDir(id)
		if sysfs.Exists(f, dir) {
			m.Present = true
			m.Driver = sysfs.LinkBase(f, dir+"/driver")
			m.Group = sysfs.LinkBase(f, dir+"/group_device")
		}
		o.Members[i] = m
	}
	o.QethLoaded = sysfs.Exists(f, GroupFile)
	g, err := ObserveGroup(f, ids[0], attrs)
	if err != nil {
		return o, err
	}
	o.Group = g
	return o, nil
}

// ObserveGroup reads a group device; nil if it does not exist.
func ObserveGroup(f sysfs.FS, id ccw.BusID, attrs []string) (*GroupState, error) {
	dir := GroupDir(id)
	if !sysfs.Exists(f, dir) {
		return nil, nil
	}
	g := &GroupState{Attrs: map[string]string{}}
	for i := range g.Members {
		name := sysfs.LinkBase(f, fmt.Sprintf("%s/cdev%d", dir, i))
		m, err := ccw.Parse(name)
		if err != nil {
			return nil, fmt.Errorf("group %s: member link cdev%d: %w", id, i, err)
		}
		g.Members[i] = m
	}
	on, err := readInt(f, dir+"/online")
	if err != nil {
		return nil, err
	}
	g.Online = on == 1
	if g.Layer2, err = readInt(f, dir+"/layer2"); err != nil {
		return nil, err
	}
	if g.PortNo, err = readInt(f, dir+"/portno"); err != nil {
		return nil, err
	}
	g.CardType, _ = sysfs.ReadAttr(f, dir+"/card_type")
	g.IfName = IfName(f, id)
	for _, a := range attrs {
		if v, err := sysfs.ReadAttr(f, dir+"/"+a); err == nil {
			g.Attrs[a] = v
		}
	}
	return g, nil
}

// IfName returns the current name of a group's net device, or "" if it
// has none yet. It prefers the net/ directory and falls back to if_name.
func IfName(f sysfs.FS, id ccw.BusID) string {
	if ents, err := f.ReadDir(GroupDir(id) + "/net"); err == nil && len(ents) > 0 {
		return ents[0].Name()
	}
	n, err := sysfs.ReadAttr(f, GroupDir(id)+"/if_name")
	if err != nil || n == "" || strings.HasPrefix(n, "(") {
		return ""
	}
	return n
}

func readInt(f sysfs.FS, name string) (int, error) {
	s, err := sysfs.ReadAttr(f, name)
	if err != nil {
		return 0, fmt.Errorf("read /%s: %w", name, err)
	}
	v, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("read /%s: unexpected value %q", name, s)
	}
	return v, nil
}
