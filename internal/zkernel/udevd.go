package zkernel

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"
)

// udevNetInfo identifies the network device of a subsystem net event.
type udevNetInfo struct {
	group   busID
	ifindex int
	driver  string
}

type udevItem struct {
	ev  Uevent
	net *udevNetInfo
}

// udevd emulates systemd-udevd: it takes the kernel's events, renames
// new network devices after RenameDelay and broadcasts every processed
// event to the EventSink. Like udevd's worker pool, events of different
// devices are processed in parallel while the events of one device (a
// qeth group and its network device count as one) keep their order.
//
// approximation: udevd also makes an event wait for events of the
// device's parents and children; the per-group key covers the qeth
// group/net pair, which is the only parent/child pair the agent sees.
type udevd struct {
	mu        sync.Mutex // a leaf lock: never take Kernel.mu while holding it
	pending   map[string][]udevItem
	running   map[string]bool // devices with a worker
	active    int             // events queued or being processed
	idle      chan struct{}   // closed while active == 0
	done      chan struct{}
	finished  chan struct{}
	workers   sync.WaitGroup
	processed []Uevent
	usec      map[string]string
	// popped, when set (tests), runs after a worker has taken an event
	// off its device's queue and released the lock: the moment when an
	// arriving event once started a second worker for the device.
	popped func(key string)
}

func (u *udevd) init() {
	u.pending = map[string][]udevItem{}
	u.running = map[string]bool{}
	u.idle = make(chan struct{})
	close(u.idle)
	u.done = make(chan struct{})
	u.finished = make(chan struct{})
	u.usec = map[string]string{}
}

// udevKey is the device an event belongs to for ordering.
func udevKey(it udevItem) string {
	if it.net != nil {
		return "qeth:" + it.net.group.String()
	}
	p := it.ev.DevPath
	if rest, ok := strings.CutPrefix(p, "/devices/qeth/"); ok {
		id, _, _ := strings.Cut(rest, "/")
		return "qeth:" + id
	}
	return p
}

// enqueue queues an event and starts a worker for its device if none
// runs.
func (k *Kernel) udevEnqueue(it udevItem) {
	u := &k.udev
	u.mu.Lock()
	defer u.mu.Unlock()
	select {
	case <-u.done:
		return
	default:
	}
	if u.active == 0 {
		u.idle = make(chan struct{})
	}
	u.active++
	key := udevKey(it)
	u.pending[key] = append(u.pending[key], it)
	// A worker that has emptied its queue still runs until it takes the
	// lock again; the running flag, not the queue length, says whether
	// the device has one, so a device never gets two.
	if !u.running[key] {
		u.running[key] = true
		u.workers.Add(1)
		go k.udevWorker(key)
	}
}

// udevWorker processes the events of one device in order; it is the only
// worker of its device until it clears the device's running flag.
func (k *Kernel) udevWorker(key string) {
	u := &k.udev
	defer u.workers.Done()
	for {
		u.mu.Lock()
		q := u.pending[key]
		if len(q) == 0 {
			delete(u.pending, key)
			delete(u.running, key)
			u.mu.Unlock()
			return
		}
		it := q[0]
		u.mu.Unlock()
		ev, ok := k.processEvent(it)
		if ok && k.cfg.Events != nil {
			if err := k.cfg.Events.Send(ev.clone()); err != nil {
				k.logger.Warn("udevd: broadcast failed", "action", ev.Action, "devpath", ev.DevPath, "err", err)
			}
		}
		u.mu.Lock()
		u.pending[key] = u.pending[key][1:]
		if ok {
			u.processed = append(u.processed, ev)
		}
		u.active--
		if u.active == 0 {
			close(u.idle)
		}
		popped := u.popped
		u.mu.Unlock()
		if popped != nil {
			popped(key)
		}
	}
}

func (u *udevd) stop() {
	u.mu.Lock()
	select {
	case <-u.done:
	default:
		close(u.done)
	}
	u.mu.Unlock()
	u.workers.Wait()
	select {
	case <-u.finished:
	default:
		close(u.finished)
	}
}

// processEvent does what udevd's rules would do with one kernel event and
// returns the event as udevd broadcasts it; ok is false when udevd was
// stopped meanwhile.
func (k *Kernel) processEvent(it udevItem) (Uevent, bool) {
	ev := it.ev.clone()
	if it.net != nil && ev.Action == "add" && !k.cfg.NoRename {
		if d := k.cfg.RenameDelay; d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-k.udev.done:
				t.Stop()
				return ev, false
			}
		}
		old := ev.Props["INTERFACE"]
		if name, ok := k.udevRename(it.net, old); ok {
			// udevd renames while processing "add" and broadcasts the
			// event with the new name (sd-device device_rename).
			ev.DevPath = "/devices/qeth/" + it.net.group.String() + "/net/" + name
			ev.Props["DEVPATH"] = ev.DevPath
			ev.Props["INTERFACE"] = name
			// guess: device_rename keeps the old name as INTERFACE_OLD.
			ev.Props["INTERFACE_OLD"] = old
		}
	}
	k.addUdevProps(&ev, it.net)
	return ev, true
}

// udevRename renames the network device of a processed "add" event to its
// systemd name, emitting the kernel's "move" event. A device that is up
// keeps its name (the kernel refuses with EBUSY). The rename holds the
// kernel lock, so sysfs never shows a name the device no longer has (the
// kernel renames atomically with respect to sysfs).
func (k *Kernel) udevRename(ni *udevNetInfo, old string) (string, bool) {
	k.lock()
	defer k.unlock()
	g := k.groups[ni.group]
	if g == nil || !g.nd.registered || g.nd.ifindex != ni.ifindex || g.nd.name != old {
		return "", false
	}
	name := SystemdName(g.id.String())
	if name == old {
		return "", false
	}
	if err := k.net.Rename(old, name); err != nil {
		k.logger.Warn("udevd: rename failed", "from", old, "to", name, "err", err)
		return "", false
	}
	g.nd.name = name
	k.changed()
	k.emitNet("move", g, map[string]string{"DEVPATH_OLD": g.devPath() + "/net/" + old})
	return name, true
}

// addUdevProps adds what udevd's database and builtins add to a processed
// event: USEC_INITIALIZED (kept per device), and for network devices
// ID_NET_DRIVER, ID_PATH and the predictable names.
func (k *Kernel) addUdevProps(ev *Uevent, ni *udevNetInfo) {
	key := ev.DevPath
	if ni != nil {
		key = "net:" + strconv.Itoa(ni.ifindex)
	}
	k.udev.mu.Lock()
	usec, ok := k.udev.usec[key]
	if !ok {
		usec = strconv.FormatInt(time.Since(k.start).Microseconds()+1, 10)
		k.udev.usec[key] = usec
	}
	k.udev.mu.Unlock()
	ev.Props["USEC_INITIALIZED"] = usec
	if ni == nil {
		return
	}
	id := ni.group.String()
	ev.Props["ID_NET_DRIVER"] = ni.driver
	ev.Props["ID_PATH"] = "ccwgroup-" + id
	ev.Props["ID_NET_NAME_PATH"] = SystemdName(id)
	if !k.cfg.NoRename {
		ev.Props["ID_NET_NAME"] = SystemdName(id)
	}
}

// UdevEvents returns the events the emulated udevd broadcast so far, in
// order (the same ones the EventSink received).
func (k *Kernel) UdevEvents() []Uevent {
	k.udev.mu.Lock()
	defer k.udev.mu.Unlock()
	out := make([]Uevent, len(k.udev.processed))
	for i, e := range k.udev.processed {
		out[i] = e.clone()
	}
	return out
}

// Settle waits until the emulated udevd has processed every queued event
// (like udevadm settle).
func (k *Kernel) Settle(ctx context.Context) error {
	k.udev.mu.Lock()
	idle := k.udev.idle
	k.udev.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-k.udev.finished:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
