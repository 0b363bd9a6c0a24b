package zkernel

import (
	"net"
	"syscall"
	"time"
)

// groupStore handles a write to drivers/qeth/group (ccwgroup_create_dev
// with three devices): every failure is EINVAL (bad format, a member that
// is not registered or not bound, members of different kinds, a member
// already grouped or given twice, a read device not bound to qeth).
func (k *Kernel) groupStore(data []byte) syscall.Errno {
	ids, ok := parseGroupWrite(cString(data))
	if !ok {
		return syscall.EINVAL
	}
	var ms [3]*ccwDev
	for i, id := range ids {
		if id.ssid > maxSSID || id.devno > maxDevno {
			return syscall.EINVAL
		}
		d := k.byID[busID{ssid: uint8(id.ssid), devno: uint16(id.devno)}]
		if d == nil || !d.registered || d.driver == "" || d.group != nil {
			return syscall.EINVAL
		}
		if i > 0 && (d.driver != ms[0].driver || d.info != ms[0].info) {
			return syscall.EINVAL
		}
		for _, o := range ms[:i] {
			if o == d {
				return syscall.EINVAL
			}
		}
		ms[i] = d
	}
	if ms[0].driver != "qeth" {
		return syscall.EINVAL
	}
	g := k.newGroup(ms)
	k.attachGroup(g)
	// The driver is set before device_add: "add" already has DRIVER.
	k.emitGroup("add", g, true)
	k.emitGroup("bind", g, true)
	return 0
}

// newGroup is qeth_core_probe_device: an offline card with an
// unregistered net_device; the layer is set if the hypervisor enforces it.
func (k *Kernel) newGroup(ms [3]*ccwDev) *group {
	d0 := ms[0]
	g := &group{id: d0.id, members: ms, layer: d0.forced, enforced: d0.forced != -1, bufcnt: 64, attrs: map[string]string{}}
	if d0.spec.Kind == KindIQD {
		g.bufcnt = 128
	}
	return g
}

func (k *Kernel) attachGroup(g *group) {
	for _, m := range g.members {
		m.group = g
	}
	k.groups[g.id] = g
	k.changed()
}

// ungroup unregisters the group: the net device goes first ("remove"
// net), then "unbind" and "remove" of the ccwgroup device.
func (k *Kernel) ungroup(g *group) {
	k.dropNetdev(g)
	for _, m := range g.members {
		m.group = nil
		m.online = false
	}
	delete(k.groups, g.id)
	k.changed()
	// guess: the discipline is removed before the unbind event, so
	// DEVTYPE is back to qeth_generic and DRIVER is already unset.
	g.layer = -1
	k.emitGroup("unbind", g, false)
	k.emitGroup("remove", g, false)
}

// dropNetdev unregisters the card's net device if it was registered
// (ungroup or layer switch) and gives the card a fresh unregistered one.
func (k *Kernel) dropNetdev(g *group) {
	if !g.nd.registered {
		return
	}
	if err := k.net.Unregister(g.nd.name); err != nil {
		k.logger.Warn("unregister netdev", "name", g.nd.name, "err", err)
	}
	k.emitNet("remove", g, nil)
	g.nd = netdev{}
	k.changed()
}

// ungroupStore handles a write to ungroup: EINVAL while online.
func (k *Kernel) ungroupStore(g *group) syscall.Errno {
	if g.busy {
		return syscall.EAGAIN
	}
	if g.online {
		return syscall.EINVAL
	}
	k.ungroup(g)
	return 0
}

// onlineStore handles a write to the group's online attribute
// (ccwgroup online_store): kstrtoul base 0, 0 or 1, and the current value
// is EINVAL.
func (k *Kernel) onlineStore(g *group, s string) syscall.Errno {
	v, e := kstrtoull(s, 0)
	if e != 0 {
		return e
	}
	if g.busy {
		// ccwgroup's onoff flag: another online/offline is under way.
		return syscall.EAGAIN
	}
	switch {
	case v == 1 && !g.online:
		k.hardSetup(g)
		return k.groupSetOnline(g, true)
	case v == 0 && g.online:
		k.groupSetOffline(g)
		return 0
	}
	return syscall.EINVAL
}

// hardSetup waits the device kind's OnlineLatency with the kernel lock
// released (the caller holds it and gets it back): the group is busy
// meanwhile, so other groups proceed and this one refuses a second
// online, offline or ungroup with EAGAIN. A FailOnline device also takes
// the time: the kernel finds the failure only by trying.
func (k *Kernel) hardSetup(g *group) {
	d := k.cfg.OnlineLatency.of(g.dev0().spec)
	if d <= 0 {
		return
	}
	g.busy = true
	k.unlock()
	t := time.NewTimer(d)
	select {
	case <-t.C:
	case <-k.udev.done:
		t.Stop()
	}
	k.lock()
	g.busy = false
}

// groupSetOnline is qeth_core_set_online + qeth_set_online: pick the
// default layer if none is set (layer 3 for IQD, else layer 2), fail with
// FailOnline, else set the members online, register the net device on
// the first online or re-attach it, and emit "change".
func (k *Kernel) groupSetOnline(g *group, events bool) syscall.Errno {
	d0 := g.dev0()
	if g.layer == -1 {
		g.layer = 1
		if d0.spec.Kind == KindIQD {
			g.layer = 0
		}
		k.changed()
	}
	if e := d0.spec.FailOnline; e != 0 {
		return e
	}
	if !g.nd.registered {
		if e := k.registerNetdev(g, events); e != 0 {
			return e
		}
	} else {
		if err := k.net.Attach(g.nd.name); err != nil {
			return errnoOf(err, syscall.EIO)
		}
		g.nd.present = true
	}
	for _, m := range g.members {
		m.online = true
	}
	g.online = true
	g.linkSeen = true
	k.changed()
	if events {
		// "let user_space know that device is online"
		k.emitGroup("change", g, true)
	}
	return 0
}

// registerNetdev registers the card's net device (first online after
// grouping or a layer switch) with the hypervisor's or adapter's MAC, or a
// random one.
func (k *Kernel) registerNetdev(g *group, events bool) syscall.Errno {
	d0 := g.dev0()
	mac := d0.hwMAC
	if mac == nil {
		// guess: OSM/OSX without an adapter MAC fail in the kernel; the
		// model gives them a random MAC too.
		mac = k.randomMAC()
	}
	tmpl := "eth%d"
	if d0.spec.Kind == KindIQD {
		tmpl = "hsi%d"
	}
	name, idx, err := k.net.Register(g.id.String(), tmpl, append(net.HardwareAddr(nil), mac...), !d0.spec.LinkDown, d0.inUse)
	if err != nil {
		k.logger.Warn("register netdev", "group", g.id, "err", err)
		return errnoOf(err, syscall.EIO)
	}
	driver := "qeth_l2"
	if g.layer == 0 {
		driver = "qeth_l3"
	}
	g.nd = netdev{registered: true, name: name, ifindex: idx, present: true, driver: driver}
	if k.mem != nil {
		var deny syscall.Errno
		switch {
		case g.layer == 0:
			deny = syscall.EOPNOTSUPP // qeth_l3 has no ndo_set_mac_address
		case d0.spec.Kind == KindOSM || d0.spec.Kind == KindOSX:
			deny = syscall.EOPNOTSUPP // qeth_l2_set_mac_address
		}
		k.mem.setMACPolicy(name, deny, g.layer == 0)
	}
	k.changed()
	if events {
		k.emitNet("add", g, nil)
	}
	return 0
}

// groupSetOffline is qeth_set_offline: the net device is detached (it
// stays registered and keeps its MAC and IFF_UP), members go offline, the
// card is DOWN, "change" is emitted.
func (k *Kernel) groupSetOffline(g *group) {
	if g.nd.registered {
		if err := k.net.Detach(g.nd.name); err != nil {
			k.logger.Warn("detach netdev", "name", g.nd.name, "err", err)
		}
		g.nd.present = false
	}
	for _, m := range g.members {
		m.online = false
	}
	g.online = false
	k.changed()
	k.emitGroup("change", g, true)
}

// layer2Store handles a write to layer2 (qeth_dev_layer2_store):
// kstrtouint base 16, 0 or 1, EPERM unless DOWN, same value is a no-op,
// EOPNOTSUPP if enforced; switching an existing discipline replaces the
// net device (unregistering it if it was registered).
func (k *Kernel) layer2Store(g *group, s string) syscall.Errno {
	v, e := kstrtouint(s, 16)
	if e != 0 {
		return e
	}
	if v > 1 {
		return syscall.EINVAL
	}
	if g.online || g.busy {
		return syscall.EPERM
	}
	if g.layer == int(v) {
		return 0
	}
	if g.enforced {
		return syscall.EOPNOTSUPP
	}
	if g.layer != -1 {
		k.dropNetdev(g)
	}
	g.layer = int(v)
	k.changed()
	return 0
}

// portnoStore handles a write to portno: kstrtouint base 16, > 15 EINVAL,
// EPERM unless DOWN, beyond the adapter's ports EINVAL.
func (k *Kernel) portnoStore(g *group, s string) syscall.Errno {
	v, e := kstrtouint(s, 16)
	if e != 0 {
		return e
	}
	if v > 15 {
		return syscall.EINVAL
	}
	// approximation: while an online is under way the kernel's store
	// waits for the card's conf_mutex and then finds the card not DOWN;
	// the model answers EPERM at once.
	if g.online || g.busy {
		return syscall.EPERM
	}
	if int(v) > g.dev0().ports()-1 {
		return syscall.EINVAL
	}
	g.portno = int(v)
	return 0
}

// bufcntStore handles a write to buffer_count: EPERM unless DOWN,
// kstrtouint base 10, clamped to [8, 128].
func (k *Kernel) bufcntStore(g *group, s string) syscall.Errno {
	if g.online || g.busy {
		return syscall.EPERM
	}
	v, e := kstrtouint(s, 10)
	if e != 0 {
		return e
	}
	g.bufcnt = int(min(max(v, 8), 128))
	return 0
}

// cardType is qeth_get_cardname_short.
func cardType(g *group) string {
	d0 := g.dev0()
	if d0.spec.VNIC {
		if d0.spec.Kind == KindIQD {
			return "Virt.NIC Hiper"
		}
		return "Virt.NIC QDIO"
	}
	switch d0.spec.Kind {
	case KindOSD:
		if g.linkSeen {
			return "OSD_10GIG" // guess: the fixture has no link type; 10 GbE
		}
		return "OSD_Express"
	case KindIQD:
		return "HiperSockets"
	case KindOSM:
		return "OSM_1000"
	case KindOSX:
		return "OSX_10GIG"
	}
	return "unknown"
}

// cardState is the state attribute (qeth_dev_state_show).
func (k *Kernel) cardState(g *group) string {
	if !g.online {
		return "DOWN"
	}
	up, err := k.net.IsUp(g.nd.name)
	if err != nil {
		return "UNKNOWN"
	}
	if !up {
		return "SOFTSETUP"
	}
	if g.dev0().spec.LinkDown {
		return "UP (LAN OFFLINE)"
	}
	return "UP (LAN ONLINE)"
}

// ifName is netdev_name(): "(unnamed net_device)" until registered.
func ifName(g *group) string {
	if !g.nd.registered {
		return "(unnamed net_device)"
	}
	return g.nd.name
}
