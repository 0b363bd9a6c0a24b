package qeth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/zguest/zguest/agent/ccw"
	"github.com/zguest/zguest/agent/nic"
	"github.com/zguest/zguest/agent/sysfs"
)

// Links is what the agent needs from netlink. Names are current interface
// names in the agent's network namespace.
type Links interface {
	HardwareAddr(name string) (net.HardwareAddr, error)
	SetHardwareAddr(name string, mac net.HardwareAddr) error
	IsUp(name string) (bool, error)
	Rename(oldName, newName string) error
}

// Namer waits until udev has finished with the net device of a group and
// returns the interface's name.
type Namer interface {
	WaitName(ctx context.Context, id ccw.BusID) (string, error)
}

// Applier carries out plans.
type Applier struct {
	FS    sysfs.FS
	Links Links
	Namer Namer
	Log   *slog.Logger
	// Poll is the first interval of the waits, which back off to 50 ms.
	// Zero means 2 ms.
	Poll time.Duration
	// DeviceWait bounds the wait for a NIC's subchannels to be registered
	// and bound; zero means only the context bounds it.
	DeviceWait time.Duration
	// Progress, if set, is told what a NIC is waiting for.
	Progress func(id ccw.BusID, waiting string)
}

// Result is what happened to one NIC.
type Result struct {
	ID       ccw.BusID
	Members  [3]ccw.BusID
	IfName   string
	MAC      string // the interface's MAC at the end ("" if unknown)
	Port     int
	Layer2   int
	Changed  []string // the steps that changed something
	Warnings []string
	Err      error
}

// OK says whether the NIC ended up as wanted.
func (r Result) OK() bool { return r.Err == nil }

// FreeAndSettle removes subchannels from cio_ignore in one write and waits
// for the channel subsystem to register them. The kernel applies the valid
// ids of a list even when it rejects one (EINVAL); the caller checks each
// device anyway.
func FreeAndSettle(f sysfs.FS, ids []ccw.BusID) error {
	if len(ids) == 0 {
		return nil
	}
	var errs []error
	if err := sysfs.WriteAttr(f, CIOIgnore, "free "+joinIDs(ids)); err != nil {
		errs = append(errs, err)
	}
	if err := Settle(f); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Settle writes /proc/cio_settle, which blocks until the channel subsystem
// has finished its queued work. A kernel without it is not an error.
func Settle(f sysfs.FS) error {
	if !sysfs.Exists(f, CIOSettle) {
		return nil
	}
	return sysfs.WriteAttr(f, CIOSettle, "1")
}

// Apply runs a plan. It stops at the first failing step: the steps depend
// on each other.
func (a *Applier) Apply(ctx context.Context, p Plan) Result {
	r := Result{ID: p.NIC.Read, Members: p.Members, Port: p.NIC.WantPort(), Layer2: p.NIC.WantLayer2(), Warnings: p.Warnings}
	log := a.log().With("busid", p.NIC.Read.String())
	for _, s := range p.Steps {
		changed, err := a.step(ctx, p, s, &r)
		if err != nil {
			r.Err = err
			break
		}
		if changed {
			r.Changed = append(r.Changed, s.String())
			log.Debug("step done", "step", s.String())
		}
	}
	if r.IfName != "" {
		if m, err := a.Links.HardwareAddr(r.IfName); err == nil {
			r.MAC = m.String()
		}
	}
	return r
}

func (a *Applier) log() *slog.Logger {
	if a.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return a.Log
}

func (a *Applier) step(ctx context.Context, p Plan, s Step, r *Result) (bool, error) {
	dir := GroupDir(p.NIC.Read)
	switch s.Op {
	case OpWaitDevices:
		return false, a.waitDevices(ctx, s.IDs)
	case OpGroup:
		return a.group(p.NIC.Read, s.IDs)
	case OpSetAttr:
		return a.setAttr(dir, s.Attr, s.Value)
	case OpOnline:
		return a.online(dir)
	case OpWaitName:
		if a.Progress != nil {
			a.Progress(p.NIC.Read, "udev")
		}
		name, err := a.Namer.WaitName(ctx, p.NIC.Read)
		if err != nil {
			return false, err
		}
		r.IfName = name
		return false, nil
	case OpRename:
		return a.rename(r, s.Name)
	case OpSetMAC:
		return a.setMAC(r.IfName, s.MAC)
	}
	return false, fmt.Errorf("unknown step %v", s)
}

// waitDevices waits until every subchannel is registered and bound to the
// qeth driver and the qeth group file exists.
func (a *Applier) waitDevices(ctx context.Context, ids []ccw.BusID) error {
	if a.Progress != nil {
		a.Progress(ids[0], "subchannels")
	}
	if a.DeviceWait > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, a.DeviceWait)
		defer cancel()
	}
	ready := func() bool {
		if !sysfs.Exists(a.FS, GroupFile) {
			return false
		}
		for _, id := range ids {
			if sysfs.LinkBase(a.FS, CCWDir(id)+"/driver") != "qeth" {
				return false
			}
		}
		return true
	}
	err := a.poll(ctx, ready)
	if err == nil {
		return nil
	}
	// Say precisely what is missing.
	ign, _ := ReadIgnoreList(a.FS)
	var why []string
	for _, id := range ids {
		switch {
		case !sysfs.Exists(a.FS, CCWDir(id)) && ign.Contains(id):
			why = append(why, fmt.Sprintf("%s is still on cio_ignore", id))
		case !sysfs.Exists(a.FS, CCWDir(id)):
			why = append(why, fmt.Sprintf("%s does not exist: it is not in this guest's I/O configuration (check the NIC's definition on the HMC or in the z/VM directory)", id))
		default:
			if d := sysfs.LinkBase(a.FS, CCWDir(id)+"/driver"); d != "qeth" {
				why = append(why, fmt.Sprintf("%s has no qeth driver bound (is the qeth module available?)", id))
			}
		}
	}
	if !sysfs.Exists(a.FS, GroupFile) {
		why = append(why, "/"+GroupFile+" does not exist (the qeth module is not loaded)")
	}
	if a.DeviceWait > 0 {
		return fmt.Errorf("subchannels not ready after %s: %s: %w", a.DeviceWait, strings.Join(why, "; "), err)
	}
	return fmt.Errorf("subchannels not ready: %s: %w", strings.Join(why, "; "), err)
}

// poll calls ready until it is true or ctx ends, backing off from Poll to 50 ms.
func (a *Applier) poll(ctx context.Context, ready func() bool) error {
	d := a.Poll
	if d <= 0 {
		d = 2 * time.Millisecond
	}
	for {
		if ready() {
			return nil
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			if ready() {
				return nil
			}
			return fmt.Errorf("gave up waiting: %w", context.Cause(ctx))
		case <-t.C:
		}
		if d < 50*time.Millisecond {
			d *= 2
		}
	}
}

func (a *Applier) group(read ccw.BusID, ids []ccw.BusID) (bool, error) {
	if sysfs.Exists(a.FS, GroupDir(read)) {
		return false, nil
	}
	err := sysfs.WriteAttr(a.FS, GroupFile, joinIDs(ids))
	if err == nil {
		return true, nil
	}
	// Someone else (udev rules, dracut) may have grouped it meanwhile.
	if g, _ := ObserveGroup(a.FS, read, nil); g != nil && g.Members == [3]ccw.BusID{ids[0], ids[1], ids[2]} {
		return false, nil
	}
	if errors.Is(err, syscall.EINVAL) {
		return false, fmt.Errorf("%w (the kernel refuses a group when a subchannel is missing, already grouped, not bound to qeth, or of another kind than the others)", err)
	}
	return false, err
}

func (a *Applier) setAttr(dir, attr, value string) (bool, error) {
	name := dir + "/" + attr
	cur, err := sysfs.ReadAttr(a.FS, name)
	if err != nil {
		return false, fmt.Errorf("read /%s: %w", name, err)
	}
	if sameValue(cur, value) {
		return false, nil
	}
	err = sysfs.WriteAttr(a.FS, name, value)
	switch {
	case err == nil:
		return true, nil
	case attr == "layer2" && errors.Is(err, syscall.EOPNOTSUPP):
		return false, fmt.Errorf("%w: the hypervisor enforces layer %s for this device (z/VM VSWITCH or guest LAN type, or an OSM device); define the NIC with the other type or ask for that layer", err, layerName(cur))
	case attr == "layer2" && errors.Is(err, syscall.EINVAL):
		return false, fmt.Errorf("%w: the kernel has no module for that layer (qeth_l2 or qeth_l3 missing from the kernel or initramfs?)", err)
	case attr == "portno" && errors.Is(err, syscall.EINVAL):
		return false, fmt.Errorf("%w: the adapter has no port %s (an OSA-Express adapter has ports 0 and 1 at most, HiperSockets only port 0); fix the port in the NIC's definition", err, value)
	case errors.Is(err, syscall.EPERM):
		return false, fmt.Errorf("%w: the group is online; attributes can only be changed while it is offline", err)
	}
	return false, err
}

// sameValue compares an attribute as read with a value to write; numbers
// compare numerically.
func sameValue(cur, want string) bool {
	if cur == want {
		return true
	}
	a, err1 := strconv.Atoi(cur)
	b, err2 := strconv.Atoi(want)
	return err1 == nil && err2 == nil && a == b
}

func layerName(cur string) string {
	switch cur {
	case "1":
		return "2"
	case "0":
		return "3"
	}
	return cur
}

func (a *Applier) online(dir string) (bool, error) {
	name := dir + "/online"
	cur, err := sysfs.ReadAttr(a.FS, name)
	if err != nil {
		return false, fmt.Errorf("read /%s: %w", name, err)
	}
	if cur == "1" {
		return false, nil
	}
	err = sysfs.WriteAttr(a.FS, name, "1")
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, syscall.ENODEV):
		return false, fmt.Errorf("%w: the card did not come online (hardware setup failed: check that the CHPID is online and the adapter port is configured; the kernel log has qeth's reason)", err)
	case errors.Is(err, syscall.EINVAL):
		if v, _ := sysfs.ReadAttr(a.FS, name); v == "1" {
			return false, nil // set online concurrently
		}
	}
	return false, err
}

func (a *Applier) rename(r *Result, want string) (bool, error) {
	if r.IfName == want {
		return false, nil
	}
	if up, err := a.Links.IsUp(r.IfName); err == nil && up {
		return false, fmt.Errorf("cannot rename %s to %s: the link is already up (the kernel refuses renaming a running interface)", r.IfName, want)
	}
	if err := a.Links.Rename(r.IfName, want); err != nil {
		return false, fmt.Errorf("rename %s to %s: %w", r.IfName, want, err)
	}
	r.IfName = want
	return true, nil
}

func (a *Applier) setMAC(ifname string, mac net.HardwareAddr) (bool, error) {
	cur, err := a.Links.HardwareAddr(ifname)
	if err != nil {
		return false, fmt.Errorf("read MAC of %s: %w", ifname, err)
	}
	if cur.String() == mac.String() {
		return false, nil
	}
	err = a.Links.SetHardwareAddr(ifname, mac)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, syscall.EADDRINUSE):
		return false, fmt.Errorf("set MAC %s on %s: %w: another guest or host on this LAN already has it (check the Neutron port for a duplicate)", mac, ifname, err)
	case errors.Is(err, syscall.EADDRNOTAVAIL) && nic.MACWarning(mac) != "":
		return false, fmt.Errorf("set MAC %s on %s: %w: the adapter or hypervisor refused it; it is universally administered, which some OSA and z/VM setups refuse: use a locally administered MAC (second hex digit 2, 6, a or e) for the Neutron port", mac, ifname, err)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return false, fmt.Errorf("set MAC %s on %s: %w: the adapter or hypervisor refused it (z/VM VSWITCH MAC protection, or not a valid unicast address)", mac, ifname, err)
	case errors.Is(err, syscall.EOPNOTSUPP):
		return false, fmt.Errorf("set MAC %s on %s: %w: this device cannot change its MAC (layer 3, OSM or OSX)", mac, ifname, err)
	case errors.Is(err, syscall.ENODEV):
		return false, fmt.Errorf("set MAC %s on %s: %w: the interface is not present (is the group offline?)", mac, ifname, err)
	}
	return false, fmt.Errorf("set MAC %s on %s: %w", mac, ifname, err)
}
