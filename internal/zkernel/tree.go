package zkernel

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"
)

// currentTree returns the file tree, rebuilt if the state changed shape.
func (k *Kernel) currentTree() *node {
	if k.tree == nil || k.treeAt != k.gen {
		k.tree = k.buildTree()
		k.treeAt = k.gen
	}
	return k.tree
}

func (k *Kernel) buildTree() *node {
	root := newDir(0o755)
	sys := newDir(0o555)
	root.set("sys", sys)
	proc := newDir(0o555)
	root.set("proc", proc)
	k.buildProc(proc)
	devices := sys.mkdir("devices")
	css := devices.mkdir("css0")
	bus := sys.mkdir("bus")
	ccwBus := bus.mkdir("ccw")
	ccwDevs := ccwBus.mkdir("devices")
	ccwDrivers := ccwBus.mkdir("drivers")
	gBus := bus.mkdir("ccwgroup")
	gDevs := gBus.mkdir("devices")
	gDrivers := gBus.mkdir("drivers")
	classNet := sys.mkdir("class").mkdir("net")
	if k.qethLoaded {
		ccwDrivers.mkdir("qeth")
		gq := gDrivers.mkdir("qeth")
		gq.set("group", attrWO(k.groupStore))
		devices.mkdir("qeth")
	}
	for _, d := range k.devs {
		if d.info.driver == "vmur" {
			ccwDrivers.mkdir("vmur")
		}
		// Every channel path of the machine's I/O configuration has a
		// directory, registered or not (the channel-path scan at boot).
		name := fmt.Sprintf("chp0.%02x", d.spec.CHPID)
		if css.children[name] == nil {
			css.set(name, buildChannelPath(d.spec))
		}
	}
	for _, d := range k.devs {
		if !d.registered {
			continue
		}
		sch := css.mkdir(d.sch.String())
		k.buildSubchannel(sch, d)
		sch.set(d.id.String(), k.buildCCWDevice(d))
		rel := "devices/css0/" + d.sch.String() + "/" + d.id.String()
		ccwDevs.set(d.id.String(), symlink("../../../"+rel))
		if d.driver != "" {
			ccwDrivers.mkdir(d.driver).set(d.id.String(), symlink("../../../../"+rel))
		}
	}
	for _, g := range k.groups {
		id := g.id.String()
		devices.mkdir("qeth").set(id, k.buildGroup(g))
		gDevs.set(id, symlink("../../../devices/qeth/"+id))
		gDrivers.mkdir("qeth").set(id, symlink("../../../../devices/qeth/"+id))
		if g.nd.registered {
			classNet.set(g.nd.name, symlink("../../devices/qeth/"+id+"/net/"+g.nd.name))
		}
	}
	return root
}

func (k *Kernel) buildProc(proc *node) {
	proc.set("cio_ignore", &node{kind: kindFile, perm: 0o644,
		read: func() (string, syscall.Errno) { return k.bl.String(), 0 },
		write: func(data []byte, off int64) syscall.Errno {
			return k.writeCIOIgnore(data, off)
		}})
	proc.set("cio_settle", &node{kind: kindFile, perm: 0o200,
		write: func([]byte, int64) syscall.Errno { return k.writeCIOSettle() }})
	proc.set("cmdline", &node{kind: kindFile, perm: 0o444,
		read: func() (string, syscall.Errno) { return k.cfg.Cmdline + "\n", 0 }})
	proc.set("sysinfo", &node{kind: kindFile, perm: 0o444,
		read: func() (string, syscall.Errno) { return k.sysinfo(), 0 }})
}

// buildSubchannel adds the attributes of an I/O subchannel.
func (k *Kernel) buildSubchannel(sch *node, d *ccwDev) {
	sch.set("type", constAttr("0"))
	sch.set("modalias", constAttr("css:t0"))
	// chp_ids_show prints every slot followed by a space.
	sch.set("chpids", constAttr(fmt.Sprintf("%02x 00 00 00 00 00 00 00 ", d.spec.CHPID)))
	sch.set("pimpampom", constAttr("80 80 ff")) // guess: one installed, available, operational path
}

// chpidType is the channel-path type code the channel-path description
// reports (desc.desc), which the chp's type attribute prints in hex and
// lsznet.raw maps to a name (0x11 OSD, 0x24 IQD, 0x30 OSX, 0x31 OSM).
func chpidType(d Device) uint8 {
	switch d.Kind {
	case KindOSD:
		return 0x11
	case KindIQD:
		return 0x24
	case KindOSX:
		return 0x30
	case KindOSM:
		return 0x31
	case KindVirtioNet:
		return 0x32 // guess: QEMU's virtual channel path type for virtio-ccw
	case KindReader, KindPunch:
		return 0x00 // guess: z/VM unit-record devices are virtual, no real path type
	}
	return 0x1b // guess: FICON (FC) for the DASD of KindOther
}

// buildChannelPath is /sys/devices/css0/chp0.<xx> (drivers/s390/cio/chp.c):
// status online/offline (writable on/off), configure, type in hex without
// 0x, cmg and shared ("unknown" until channel measurement is known), chid
// and chid_external.
// guess: configure reads 1 (configured); cmg and shared are unknown; chid
// is derived from the CHPID; writes to status and configure are accepted
// and change nothing (the model has no offline channel paths).
func buildChannelPath(d Device) *node {
	n := newDir(0o755)
	n.set("status", attrRW(func() string { return "online" }, func(s string) syscall.Errno {
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "on", "off":
			return 0
		}
		return syscall.EINVAL
	}))
	n.set("configure", attrRW(func() string { return "1" }, func(s string) syscall.Errno {
		v, e := kstrtouint(s, 0)
		if e != 0 || v > 1 {
			return syscall.EINVAL
		}
		return 0
	}))
	n.set("type", constAttr(fmt.Sprintf("%x", chpidType(d))))
	n.set("cmg", constAttr("unknown"))
	n.set("shared", constAttr("unknown"))
	n.set("chid", constAttr(fmt.Sprintf("%04x", 0x100+int(d.CHPID))))
	n.set("chid_external", constAttr("1"))
	return n
}

func (k *Kernel) buildCCWDevice(d *ccwDev) *node {
	n := newDir(0o755)
	n.set("online", attrRWRaw(func() string { return boolDigit(d.online) },
		func(data []byte) syscall.Errno { return k.ccwOnlineStore(d, data) }))
	n.set("cutype", constAttr(fmt.Sprintf("%04x/%02x", d.info.cuType, d.info.cuModel)))
	devtype := "n/a"
	if d.info.devType != 0 {
		devtype = fmt.Sprintf("%04x/%02x", d.info.devType, d.info.devModel)
	}
	n.set("devtype", constAttr(devtype))
	n.set("availability", constAttr("good"))
	n.set("modalias", constAttr(modalias(d.info)))
	n.set("cmb_enable", attrRW(func() string { return "0" }, func(string) syscall.Errno { return 0 }))
	n.set("uevent", attrRWRaw(func() string { return envText(ccwProps(d)) },
		func(data []byte) syscall.Errno {
			return k.synthUevent(data, func(action string, extra map[string]string) {
				p := ccwProps(d)
				for key, v := range extra {
					p[key] = v
				}
				k.emit(action, d.devPath(), "ccw", p, nil)
			})
		}))
	n.set("subsystem", symlink("../../../../bus/ccw"))
	if d.driver != "" {
		n.set("driver", symlink("../../../../bus/ccw/drivers/"+d.driver))
	}
	if d.group != nil {
		n.set("group_device", symlink("../../../qeth/"+d.group.id.String()))
	}
	return n
}

// envText renders properties like a uevent file: sorted KEY=VALUE lines
// (without the final newline, which showString adds).
func envText(p map[string]string) string {
	return strings.Join(Uevent{Props: p}.Env(), "\n")
}

func boolDigit(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func (k *Kernel) buildGroup(g *group) *node {
	n := newDir(0o755)
	n.set("online", attrRW(func() string { return boolDigit(g.online) },
		func(s string) syscall.Errno { return k.onlineStore(g, s) }))
	n.set("layer2", attrRW(func() string { return strconv.Itoa(g.layer) },
		func(s string) syscall.Errno { return k.layer2Store(g, s) }))
	n.set("portno", attrRW(func() string { return strconv.Itoa(g.portno) },
		func(s string) syscall.Errno { return k.portnoStore(g, s) }))
	n.set("buffer_count", attrRW(func() string { return strconv.Itoa(g.bufcnt) },
		func(s string) syscall.Errno { return k.bufcntStore(g, s) }))
	n.set("card_type", attrRO(func() string { return cardType(g) }))
	n.set("state", attrRO(func() string { return k.cardState(g) }))
	n.set("if_name", attrRO(func() string { return ifName(g) }))
	n.set("chpid", attrRO(func() string { return fmt.Sprintf("%02X", g.dev0().spec.CHPID) }))
	n.set("ungroup", attrWO(func([]byte) syscall.Errno { return k.ungroupStore(g) }))
	n.set("uevent", attrRWRaw(func() string { return envText(map[string]string{"DEVTYPE": groupDevType(g), "DRIVER": "qeth"}) },
		func(data []byte) syscall.Errno {
			return k.synthUevent(data, func(action string, extra map[string]string) {
				extra["DEVTYPE"] = groupDevType(g)
				extra["DRIVER"] = "qeth"
				k.emit(action, g.devPath(), "ccwgroup", extra, nil)
			})
		}))
	for i, m := range g.members {
		n.set("cdev"+strconv.Itoa(i), symlink("../../css0/"+m.sch.String()+"/"+m.id.String()))
	}
	n.set("driver", symlink("../../../bus/ccwgroup/drivers/qeth"))
	n.set("subsystem", symlink("../../../bus/ccwgroup"))
	k.buildGroupExtras(n, g)
	if g.nd.registered {
		n.mkdir("net").set(g.nd.name, k.buildNetdev(g))
	}
	return n
}

// buildNetdev is the net device's sysfs directory.
func (k *Kernel) buildNetdev(g *group) *node {
	n := newDir(0o755)
	name := g.nd.name
	n.set("address", attrErrRO(func() (string, syscall.Errno) {
		mac, err := k.net.HardwareAddr(name)
		if err != nil {
			return "", errnoOf(err, syscall.EIO)
		}
		return mac.String(), 0
	}))
	n.set("ifindex", constAttr(strconv.Itoa(g.nd.ifindex)))
	n.set("dev_port", attrRO(func() string { return strconv.Itoa(g.portno) }))
	n.set("type", constAttr("1")) // ARPHRD_ETHER
	n.set("addr_assign_type", attrRO(func() string {
		// guess: permanent (0) for an adapter/hypervisor MAC, random (1)
		// otherwise; a MAC set later is not tracked.
		if g.dev0().hwMAC != nil {
			return "0"
		}
		return "1"
	}))
	n.set("operstate", attrRO(func() string {
		up, _ := k.net.IsUp(name)
		if up && g.nd.present && !g.dev0().spec.LinkDown {
			return "up"
		}
		return "down"
	}))
	n.set("carrier", attrErrRO(func() (string, syscall.Errno) {
		if up, _ := k.net.IsUp(name); !up {
			return "", syscall.EINVAL
		}
		return boolDigit(g.nd.present && !g.dev0().spec.LinkDown), 0
	}))
	n.set("uevent", constAttr(envText(map[string]string{"INTERFACE": name, "IFINDEX": strconv.Itoa(g.nd.ifindex)})))
	n.set("device", symlink("../../../"+g.id.String()))
	n.set("subsystem", symlink("../../../../../class/net"))
	return n
}
