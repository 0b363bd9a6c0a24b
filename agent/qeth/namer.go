package qeth

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/zguest/zguest/agent/ccw"
	"github.com/zguest/zguest/agent/sysfs"
)

// NetEvent is a net device event that udev has finished processing (an
// event from udev's monitor, not the kernel's).
type NetEvent struct {
	Action  string // "add", "move", "remove", ...
	DevPath string // "/devices/qeth/0.0.f500/net/encf500"
	IfName  string
}

// UdevControl is udevd's control socket; when it does not exist no udevd
// runs, and the kernel's name is final.
const UdevControl = "run/udev/control"

// UdevNamer implements Namer. It follows udev's processed events and falls
// back to sysfs and udev's database: an interface is named once udev has
// announced it, or once udev's database has an entry for it (it was
// processed before the agent started listening), or at once when no udevd
// runs.
type UdevNamer struct {
	FS sysfs.FS
	// UdevRunning says whether udevd will process the device. When false the
	// kernel's name (ethN, hsiN) is final.
	UdevRunning bool
	// Poll is the first interval of the sysfs fallback poll; it backs off
	// to 50 ms, or to 250 ms while udev events wake the waiters.
	Poll time.Duration

	// Log, if set, gets a debug line saying how each name was decided.
	Log *slog.Logger

	hasEvents bool

	mu      sync.Mutex
	names   map[string]string // bus id -> name udev announced
	changed chan struct{}     // closed and replaced on every event
}

// NewUdevNamer starts following events (which may be nil) until ctx ends.
func NewUdevNamer(ctx context.Context, f sysfs.FS, udevRunning bool, events <-chan NetEvent) *UdevNamer {
	n := &UdevNamer{FS: f, UdevRunning: udevRunning, names: map[string]string{}, changed: make(chan struct{}), hasEvents: events != nil}
	if events != nil {
		go n.follow(ctx, events)
	}
	return n
}

func (n *UdevNamer) follow(ctx context.Context, events <-chan NetEvent) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			id, name, ok := ParseNetDevPath(ev.DevPath)
			if !ok || (ev.Action != "add" && ev.Action != "move") {
				continue
			}
			if ev.IfName != "" {
				name = ev.IfName
			}
			n.mu.Lock()
			n.names[id] = name
			close(n.changed)
			n.changed = make(chan struct{})
			n.mu.Unlock()
		}
	}
}

// ParseNetDevPath splits "/devices/qeth/0.0.f500/net/encf500" into the
// group's bus id and the interface name.
func ParseNetDevPath(p string) (busID, ifname string, ok bool) {
	parts := strings.Split(strings.Trim(p, "/"), "/")
	for i := 0; i+2 < len(parts); i++ {
		if parts[i+1] == "net" && i+3 == len(parts) {
			if _, err := ccw.Parse(parts[i]); err == nil && strings.Count(parts[i], ".") == 2 {
				return parts[i], parts[i+2], true
			}
		}
	}
	return "", "", false
}

// WaitName implements Namer.
func (n *UdevNamer) WaitName(ctx context.Context, id ccw.BusID) (string, error) {
	poll := n.Poll
	if poll <= 0 {
		poll = 2 * time.Millisecond
	}
	maxPoll := 50 * time.Millisecond
	if n.hasEvents && n.UdevRunning {
		maxPoll = 250 * time.Millisecond
	}
	key := id.String()
	for {
		n.mu.Lock()
		announced, ok := n.names[key]
		ch := n.changed
		n.mu.Unlock()
		cur := IfName(n.FS, id)
		var why string
		switch {
		case cur == "":
		case ok && cur == announced:
			why = "udev event"
		case !n.UdevRunning:
			why = "no udevd running"
		case n.inUdevDB(id, cur):
			why = "udev database"
		}
		// The name must not have changed while the evidence was read: a
		// rename between reading the name and reading udev's database
		// would otherwise hand out a name the device no longer has.
		if why != "" && IfName(n.FS, id) == cur {
			if n.Log != nil {
				n.Log.Debug("interface named", "busid", key, "ifname", cur, "by", why)
			}
			return cur, nil
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			if cur == "" {
				return "", fmt.Errorf("no network interface appeared for group %s: %w", id, context.Cause(ctx))
			}
			return "", fmt.Errorf("udev did not finish with interface %s of group %s (is systemd-udevd running and its rules finishing?): %w", cur, id, context.Cause(ctx))
		case <-ch:
			t.Stop()
		case <-t.C:
			if poll < maxPoll {
				poll *= 2
			}
		}
	}
}

// inUdevDB says whether udev's database has an entry for the interface,
// which it writes once it has processed the device.
func (n *UdevNamer) inUdevDB(id ccw.BusID, ifname string) bool {
	idx, err := sysfs.ReadAttr(n.FS, GroupDir(id)+"/net/"+ifname+"/ifindex")
	if err != nil || idx == "" {
		return false
	}
	return sysfs.Exists(n.FS, "run/udev/data/n"+idx)
}
