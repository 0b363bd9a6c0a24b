package zkernel

import (
	"context"
	"strconv"
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

// udevd emulates systemd-udevd: it takes the kernel's events in order,
// renames new network devices after RenameDelay and broadcasts every
// processed event to the EventSink.
//
// approximation: events are processed strictly one after the other, so an
// event of an unrelated device waits behind a pending rename; real udevd
// only serialises events of the same device and its parents/children.
type udevd struct {
	mu        sync.Mutex // a leaf lock: never take Kernel.mu while holding it
	queue     []udevItem
	busy      bool
	wake      chan struct{}
	idle      chan struct{} // closed while nothing is queued or processing
	done      chan struct{}
	finished  chan struct{}
	processed []Uevent
	usec      map[string]string
}

func (u *udevd) init() {
	u.wake = make(chan struct{}, 1)
	u.idle = make(chan struct{})
	close(u.idle)
	u.done = make(chan struct{})
	u.finished = make(chan struct{})
	u.usec = map[string]string{}
}

func (u *udevd) enqueue(it udevItem) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.queue) == 0 && !u.busy {
		u.idle = make(chan struct{})
	}
	u.queue = append(u.queue, it)
	select {
	case u.wake <- struct{}{}:
	default:
	}
}

// next blocks until an event is queued (and marks udevd busy) or udevd is
// stopped.
func (u *udevd) next() (udevItem, bool) {
	for {
		u.mu.Lock()
		if len(u.queue) > 0 {
			it := u.queue[0]
			u.queue = u.queue[1:]
			u.busy = true
			u.mu.Unlock()
			return it, true
		}
		u.mu.Unlock()
		select {
		case <-u.wake:
		case <-u.done:
			return udevItem{}, false
		}
	}
}

func (u *udevd) finish(evs []Uevent) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.processed = append(u.processed, evs...)
	u.busy = false
	if len(u.queue) == 0 {
		close(u.idle)
	}
}

func (u *udevd) stop() {
	select {
	case <-u.done:
	default:
		close(u.done)
	}
	<-u.finished
}

func (k *Kernel) runUdevd() {
	u := &k.udev
	defer close(u.finished)
	for {
		it, ok := u.next()
		if !ok {
			return
		}
		ev, ok := k.processEvent(it)
		if !ok {
			u.finish(nil)
			return
		}
		if k.cfg.Events != nil {
			if err := k.cfg.Events.Send(ev.clone()); err != nil {
				k.logger.Warn("udevd: broadcast failed", "action", ev.Action, "devpath", ev.DevPath, "err", err)
			}
		}
		u.finish([]Uevent{ev})
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
// keeps its name (the kernel refuses with EBUSY).
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
