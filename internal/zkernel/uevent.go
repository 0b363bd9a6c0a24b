package zkernel

import (
	"maps"
	"slices"
	"strconv"
)

// Uevent is one kernel uevent or one event broadcast by the emulated
// udevd. Props holds every property, including ACTION, DEVPATH, SUBSYSTEM
// and SEQNUM.
type Uevent struct {
	Action    string
	DevPath   string
	Subsystem string
	Seqnum    uint64
	Props     map[string]string
}

// Env returns the properties as sorted KEY=VALUE strings.
func (e Uevent) Env() []string {
	keys := slices.Sorted(maps.Keys(e.Props))
	env := make([]string, 0, len(keys))
	for _, key := range keys {
		env = append(env, key+"="+e.Props[key])
	}
	return env
}

func (e Uevent) clone() Uevent {
	e.Props = maps.Clone(e.Props)
	return e
}

// Uevents returns a copy of the kernel's uevent log, oldest first.
func (k *Kernel) Uevents() []Uevent {
	k.lock()
	defer k.unlock()
	out := make([]Uevent, len(k.events))
	for i, e := range k.events {
		out[i] = e.clone()
	}
	return out
}

// emit records a kernel uevent and queues it for the emulated udevd. nd
// describes the network device for subsystem net events (nil otherwise).
func (k *Kernel) emit(action, devPath, subsystem string, props map[string]string, nd *udevNetInfo) Uevent {
	k.seq++
	p := map[string]string{
		"ACTION":    action,
		"DEVPATH":   devPath,
		"SUBSYSTEM": subsystem,
		"SEQNUM":    strconv.FormatUint(k.seq, 10),
	}
	for key, v := range props {
		p[key] = v
	}
	ev := Uevent{Action: action, DevPath: devPath, Subsystem: subsystem, Seqnum: k.seq, Props: p}
	k.events = append(k.events, ev)
	k.logger.Debug("uevent", "action", action, "devpath", devPath, "seqnum", k.seq)
	k.udevEnqueue(udevItem{ev: ev.clone(), net: nd})
	return ev
}

// ccwProps are the properties ccw_uevent adds to every event of a CCW
// device, plus DRIVER while it is bound.
func ccwProps(d *ccwDev) map[string]string {
	p := map[string]string{
		"CU_TYPE":   hex4(d.info.cuType),
		"CU_MODEL":  hex2(d.info.cuModel),
		"DEV_TYPE":  hex4(d.info.devType),
		"DEV_MODEL": hex2(d.info.devModel),
		"MODALIAS":  modalias(d.info),
	}
	if d.driver != "" {
		p["DRIVER"] = d.driver
	}
	return p
}

func (k *Kernel) emitCCW(action string, d *ccwDev) {
	k.emit(action, d.devPath(), "ccw", ccwProps(d), nil)
}

// groupDevType is the device type of the ccwgroup device, which follows
// the discipline.
func groupDevType(g *group) string {
	switch g.layer {
	case 1:
		return "qeth_layer2"
	case 0:
		return "qeth_layer3"
	}
	return "qeth_generic"
}

func (k *Kernel) emitGroup(action string, g *group, bound bool) {
	p := map[string]string{"DEVTYPE": groupDevType(g)}
	if bound {
		p["DRIVER"] = "qeth"
	}
	k.emit(action, g.devPath(), "ccwgroup", p, nil)
}

// emitNet emits an event of the group's network device under its current
// name; extra adds properties (e.g. DEVPATH_OLD).
func (k *Kernel) emitNet(action string, g *group, extra map[string]string) {
	p := map[string]string{
		"INTERFACE": g.nd.name,
		"IFINDEX":   strconv.Itoa(g.nd.ifindex),
	}
	for key, v := range extra {
		p[key] = v
	}
	k.emit(action, g.devPath()+"/net/"+g.nd.name, "net", p, &udevNetInfo{
		group:   g.id,
		ifindex: g.nd.ifindex,
		driver:  g.nd.driver,
	})
}

func hex4(v uint16) string { return upperHex(uint64(v), 4) }
func hex2(v uint8) string  { return upperHex(uint64(v), 2) }

func upperHex(v uint64, width int) string {
	const digits = "0123456789ABCDEF"
	b := make([]byte, width)
	for i := width - 1; i >= 0; i-- {
		b[i] = digits[v&15]
		v >>= 4
	}
	return string(b)
}

// modalias mirrors snprint_alias in drivers/s390/cio/device.c.
// guess: uppercase hex digits, as its "%04X" formats (docs/facts/qeth.md only shows
// decimal-looking digits).
func modalias(i kindInfo) string {
	s := "ccw:t" + hex4(i.cuType) + "m" + hex2(i.cuModel)
	if i.devType != 0 {
		return s + "dt" + hex4(i.devType) + "dm" + hex2(i.devModel)
	}
	return s + "dtdm"
}
