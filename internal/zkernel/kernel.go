package zkernel

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"syscall"
	"time"
)

// ccwDev is one subchannel with its CCW device.
type ccwDev struct {
	id         busID
	sch        busID // subchannel id, allocated in fixture order
	spec       Device
	info       kindInfo
	forced     int // effective forced layer (-1 none)
	hwMAC      net.HardwareAddr
	inUse      []net.HardwareAddr
	registered bool
	driver     string // "" while unbound
	online     bool
	group      *group
}

func (d *ccwDev) devPath() string {
	return "/devices/css0/" + d.sch.String() + "/" + d.id.String()
}

// group is a ccwgroup device bound to qeth (a qeth card).
type group struct {
	id       busID
	members  [3]*ccwDev
	online   bool
	layer    int // -1, 0 (layer 3), 1 (layer 2)
	enforced bool
	portno   int
	bufcnt   int
	linkSeen bool // the link type is known (first online happened)
	busy     bool // online=1 in progress (OnlineLatency)
	nd       netdev
	attrs    map[string]string // loosely modelled attributes, stored verbatim
}

func (g *group) dev0() *ccwDev { return g.members[0] }

func (g *group) devPath() string { return "/devices/qeth/" + g.id.String() }

// netdev is the qeth card's net_device.
type netdev struct {
	registered bool
	name       string // current name
	ifindex    int
	present    bool
	driver     string // qeth_l2 or qeth_l3
}

// Kernel is the emulated kernel. All methods are safe for concurrent use.
type Kernel struct {
	mu sync.Mutex
	// busy sums the time the kernel lock was held: the emulated kernel's
	// own work, which every caller waits for (see BusyTime).
	busy     time.Duration
	lockedAt time.Time
	cfg      Config
	logger   *slog.Logger
	net      NetBackend
	mem      *MemLinks
	start    time.Time
	rng      *rand.Rand

	devs       []*ccwDev // fixture order, without Missing devices
	byID       map[busID]*ccwDev
	groups     map[busID]*group
	bl         blacklist
	qethLoaded bool
	pending    map[busID]bool
	timers     []*time.Timer

	seq    uint64
	events []Uevent
	gen    uint64 // bumped on every change of the tree's shape
	tree   *node
	treeAt uint64

	udev     udevd
	deferred []func()
	closed   bool
	unhook   func() // unregisters the spool arrival hook
}

// New validates the fixture and boots the kernel: devices that are not
// ignored are registered (and bound if their driver is loaded) and the
// fixture's groups are created, without any uevents (they happened before
// anyone listened).
func New(cfg Config) (*Kernel, error) {
	k := &Kernel{
		cfg:     cfg,
		logger:  cfg.Logger,
		net:     cfg.Net,
		start:   time.Now(),
		rng:     rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0x7a6b65726e656c)),
		byID:    map[busID]*ccwDev{},
		groups:  map[busID]*group{},
		pending: map[busID]bool{},
		seq:     0,
		gen:     1,
	}
	if k.logger == nil {
		k.logger = slog.New(slog.DiscardHandler)
	}
	if k.net == nil {
		k.mem = NewMemLinks()
		k.net = k.mem
	} else if m, ok := cfg.Net.(*MemLinks); ok {
		k.mem = m
	}
	if err := k.loadDevices(); err != nil {
		return nil, err
	}
	k.bl.applyCmdline(cfg.Cmdline)
	for _, d := range k.devs {
		k.bl.set(d.id, d.spec.Ignored)
	}
	k.qethLoaded = !cfg.QethNotLoaded
	for _, d := range k.devs {
		if !k.bl.has(d.id) {
			d.registered = true
			k.bindIfLoaded(d)
		}
	}
	for i, gc := range cfg.Groups {
		if err := k.bootGroup(gc); err != nil {
			return nil, fmt.Errorf("group %d (%v): %w", i, gc.BusIDs, err)
		}
	}
	k.udev.init()
	if cfg.Spool != nil {
		k.unhook = cfg.Spool.OnArrive(k.readerArrived)
	}
	return k, nil
}

func (k *Kernel) loadDevices() error {
	sch := 0
	for i, spec := range k.cfg.Devices {
		id, err := parseFixtureBusID(spec.BusID)
		if err != nil {
			return fixtureErr("device %d: %v", i, err)
		}
		spec.BusID = id.String()
		info, ok := spec.Kind.info()
		if !ok {
			return fixtureErr("device %s: unknown kind %q", id, spec.Kind)
		}
		if _, dup := k.byID[id]; dup {
			return fixtureErr("device %s listed twice", id)
		}
		d := &ccwDev{id: id, spec: spec, info: info, forced: -1}
		if spec.Kind.isQeth() {
			if err := d.setupQeth(); err != nil {
				return fixtureErr("device %s: %v", id, err)
			}
		}
		if spec.Missing {
			continue
		}
		d.sch = busID{devno: uint16(sch)}
		sch++
		k.devs = append(k.devs, d)
		k.byID[id] = d
	}
	return nil
}

// setupQeth validates the qeth-specific fixture fields.
func (d *ccwDev) setupQeth() error {
	s := d.spec
	switch s.ForcedLayer {
	case -1, 0, 1:
	default:
		return fmt.Errorf("ForcedLayer %d: want -1, 0 or 1", s.ForcedLayer)
	}
	d.forced = s.ForcedLayer
	switch {
	case s.Kind == KindOSM:
		// qeth_enforce_discipline: OSM is always layer 2.
		if s.ForcedLayer == 0 {
			return errors.New("OSM devices are always layer 2 (ForcedLayer 0 given)")
		}
		d.forced = 1
	case s.VNIC && s.Kind == KindIQD:
		// z/VM HiperSockets VNICs are always layer 3.
		if s.ForcedLayer == 1 {
			return errors.New("z/VM HiperSockets VNICs are always layer 3 (ForcedLayer 1 given)")
		}
		d.forced = 0
	}
	if s.VNIC && s.Kind != KindOSD && s.Kind != KindIQD {
		return fmt.Errorf("VNIC is only possible for OSD and IQD, not %s", s.Kind)
	}
	if s.Ports < 0 || s.Ports > 16 {
		return fmt.Errorf("fixture field Ports is %d: want 0 (the kind's default) to 16", s.Ports)
	}
	if s.HWMAC != "" {
		mac, err := parseMAC(s.HWMAC)
		if err != nil {
			return fmt.Errorf("HWMAC: %w", err)
		}
		if !validUnicast(mac) {
			return fmt.Errorf("HWMAC %s is not a unicast address", mac)
		}
		d.hwMAC = mac
	}
	for _, m := range s.MACInUse {
		mac, err := parseMAC(m)
		if err != nil {
			return fmt.Errorf("MACInUse: %w", err)
		}
		d.inUse = append(d.inUse, mac)
	}
	return nil
}

// ports is the adapter's port count. qeth_dev_portno_store allows
// portno up to pcnt-1 (up to 0 when pcnt is 0), pcnt being what the store
// subchannel QDIO data command reported when the group was created
// (qeth_determine_capabilities, called by qeth_core_probe_device).
// guess: an OSA-Express adapter reports 2 ports and HiperSockets, which
// have no physical port, report 1 or 0; either way only portno 0 is
// accepted there.
func (d *ccwDev) ports() int {
	switch {
	case d.spec.Ports != 0:
		return d.spec.Ports
	case d.spec.Kind == KindIQD:
		return 1
	}
	return 2
}

// bindIfLoaded binds a registered device to its driver if that is loaded
// and reports whether it did.
func (k *Kernel) bindIfLoaded(d *ccwDev) bool {
	switch {
	case d.driver != "" || d.info.driver == "":
		return false
	case d.info.driver == "qeth" && !k.qethLoaded:
		return false
	}
	d.driver = d.info.driver
	return true
}

func (k *Kernel) bootGroup(gc Group) error {
	var ms [3]*ccwDev
	for i, s := range gc.BusIDs {
		id, err := parseFixtureBusID(s)
		if err != nil {
			return fixtureErr("%v", err)
		}
		d := k.byID[id]
		switch {
		case d == nil:
			return fixtureErr("member %s is not a device of the machine", id)
		case !d.registered:
			return fixtureErr("member %s is on cio_ignore", id)
		case !d.spec.Kind.isQeth():
			return fixtureErr("member %s is a %s device, not qeth", id, d.spec.Kind)
		case d.driver != "qeth":
			return fixtureErr("member %s is not bound to qeth (QethNotLoaded?)", id)
		case d.group != nil:
			return fixtureErr("member %s is already grouped", id)
		case i > 0 && d.spec.Kind != ms[0].spec.Kind:
			return fixtureErr("member %s is %s, read device is %s", id, d.spec.Kind, ms[0].spec.Kind)
		}
		for _, o := range ms[:i] {
			if o == d {
				return fixtureErr("member %s listed twice", id)
			}
		}
		ms[i] = d
	}
	g := k.newGroup(ms)
	d0 := g.dev0()
	switch gc.Layer2 {
	case -1, 0, 1:
	default:
		return fixtureErr("Layer2 %d: want -1, 0 or 1", gc.Layer2)
	}
	if g.enforced && gc.Layer2 != -1 && gc.Layer2 != g.layer {
		return fixtureErr("Layer2 %d conflicts with the enforced layer %d", gc.Layer2, g.layer)
	}
	if gc.Layer2 != -1 {
		g.layer = gc.Layer2
	}
	if gc.PortNo < 0 || gc.PortNo > d0.ports()-1 {
		return fixtureErr("PortNo %d: the adapter has %d ports", gc.PortNo, d0.ports())
	}
	g.portno = gc.PortNo
	k.attachGroup(g)
	if gc.Online {
		if d0.spec.FailOnline != 0 {
			return fixtureErr("online at boot, but FailOnline is set")
		}
		if e := k.groupSetOnline(g, false); e != 0 {
			return fmt.Errorf("bring online at boot: %w", e)
		}
		if !k.cfg.NoRename {
			newName := SystemdName(g.id.String())
			if err := k.net.Rename(g.nd.name, newName); err != nil {
				return fmt.Errorf("rename %s to %s at boot: %w", g.nd.name, newName, err)
			}
			g.nd.name = newName
		}
	}
	return nil
}

// Close stops the emulated udevd and pending registrations. The network
// devices stay with the backend.
func (k *Kernel) Close() error {
	k.lock()
	if k.closed {
		k.unlock()
		return nil
	}
	k.closed = true
	if k.unhook != nil {
		k.unhook()
	}
	for _, t := range k.timers {
		t.Stop()
	}
	k.timers = nil
	k.unlock()
	k.udev.stop()
	return nil
}

// lock takes the kernel lock; unlock releases it and then runs the hooks
// deferred while it was held.
func (k *Kernel) lock() {
	k.mu.Lock()
	k.lockedAt = time.Now()
}

func (k *Kernel) unlock() {
	fns := k.deferred
	k.deferred = nil
	k.busy += time.Since(k.lockedAt)
	k.mu.Unlock()
	for _, f := range fns {
		f()
	}
}

// BusyTime is how long the emulated kernel has worked so far: every
// operation (attribute reads and writes, registering and renaming network
// devices) runs under one lock, so this is the part of any run that no
// program driving the kernel can avoid. Benchmarks subtract it to get the
// driving program's own time.
func (k *Kernel) BusyTime() time.Duration {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.busy
}

// changed invalidates the cached file tree.
func (k *Kernel) changed() { k.gen++ }

// randomMAC returns a random locally administered unicast MAC.
func (k *Kernel) randomMAC() net.HardwareAddr {
	mac := make(net.HardwareAddr, 6)
	v := k.rng.Uint64()
	for i := range mac {
		mac[i] = byte(v >> (8 * i))
	}
	mac[0] = mac[0]&^1 | 2
	return mac
}

// errnoOf extracts the errno of a backend error, or def.
func errnoOf(err error, def syscall.Errno) syscall.Errno {
	var e syscall.Errno
	if errors.As(err, &e) && e != 0 {
		return e
	}
	return def
}
