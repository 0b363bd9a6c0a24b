package zkernel

import (
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestUeventSequence(t *testing.T) {
	sink := &recordSink{}
	cfg := baseConfig(t)
	cfg.NoRename = false
	cfg.Events = sink
	k := newKernel(t, cfg)
	freeAndGroup(t, k)
	g := "sys/bus/ccwgroup/devices/0.0.f500/"
	mustWrite(t, k, g+"layer2", "1")
	mustWrite(t, k, g+"online", "1")
	settle(t, k)
	if got := mustRead(t, k, g+"if_name"); got != "encf500\n" {
		t.Fatalf("if_name after settle %q", got)
	}
	mustWrite(t, k, g+"online", "0")
	mustWrite(t, k, g+"ungroup", "1")
	settle(t, k)

	const (
		css0 = "/devices/css0/0.0.000"
		grp  = "/devices/qeth/0.0.f500"
	)
	wantKernel := strings.Join([]string{
		"add ccw " + css0 + "0/0.0.f500", "bind ccw " + css0 + "0/0.0.f500",
		"add ccw " + css0 + "1/0.0.f501", "bind ccw " + css0 + "1/0.0.f501",
		"add ccw " + css0 + "2/0.0.f502", "bind ccw " + css0 + "2/0.0.f502",
		"add ccwgroup " + grp, "bind ccwgroup " + grp,
		"add net " + grp + "/net/eth0", "change ccwgroup " + grp,
		"move net " + grp + "/net/encf500",
		"change ccwgroup " + grp,
		"remove net " + grp + "/net/encf500", "unbind ccwgroup " + grp, "remove ccwgroup " + grp,
	}, "\n")
	kevs := k.Uevents()
	if got := summary(kevs); got != wantKernel {
		t.Errorf("kernel events:\n%s\nwant:\n%s", got, wantKernel)
	}
	for i, e := range kevs {
		if e.Seqnum != uint64(i+1) || e.Props["SEQNUM"] != strconv.Itoa(i+1) {
			t.Errorf("event %d seqnum %d / %q", i, e.Seqnum, e.Props["SEQNUM"])
		}
		for _, key := range []string{"ACTION", "DEVPATH", "SUBSYSTEM"} {
			if e.Props[key] == "" {
				t.Errorf("event %d lacks %s", i, key)
			}
		}
	}
	checkProps(t, kevs[0], "CU_TYPE=1731", "CU_MODEL=01", "DEV_TYPE=1732", "DEV_MODEL=01", "MODALIAS=ccw:t1731m01dt1732dm01")
	if _, ok := kevs[0].Props["DRIVER"]; ok {
		t.Errorf("ccw add has DRIVER: %v", kevs[0].Env())
	}
	checkProps(t, kevs[1], "DRIVER=qeth", "CU_TYPE=1731")
	checkProps(t, kevs[6], "DRIVER=qeth", "DEVTYPE=qeth_generic")
	checkProps(t, kevs[8], "INTERFACE=eth0", "IFINDEX=2")
	checkProps(t, kevs[9], "DEVTYPE=qeth_layer2", "DRIVER=qeth")
	checkProps(t, kevs[10], "INTERFACE=encf500", "IFINDEX=2", "DEVPATH_OLD="+grp+"/net/eth0")
	if _, ok := kevs[13].Props["DRIVER"]; ok {
		t.Errorf("unbind has DRIVER: %v", kevs[13].Env())
	}

	// udevd broadcasts "add" with the final name, then the change, then
	// the kernel's move. Like udevd's workers, events of different devices
	// may be broadcast in any order; those of one device keep theirs, so
	// sorted by SEQNUM they are the kernel's sequence.
	uevs := bySeqnum(sink.events())
	wantUdev := strings.Replace(wantKernel, "add net "+grp+"/net/eth0", "add net "+grp+"/net/encf500", 1)
	if got := summary(uevs); got != wantUdev {
		t.Errorf("udev events:\n%s\nwant:\n%s", got, wantUdev)
	}
	if got := summary(bySeqnum(k.UdevEvents())); got != wantUdev {
		t.Errorf("UdevEvents() differs from the sink:\n%s", got)
	}
	checkProps(t, uevs[8], "INTERFACE=encf500", "IFINDEX=2", "ID_NET_DRIVER=qeth_l2", "SEQNUM=9",
		"DEVPATH="+grp+"/net/encf500", "ID_NET_NAME=encf500", "ID_PATH=ccwgroup-0.0.f500")
	checkProps(t, uevs[10], "ID_NET_DRIVER=qeth_l2", "DEVPATH_OLD="+grp+"/net/eth0", "SEQNUM=11")
	lastByDev := map[string]uint64{}
	for i, e := range sink.events() {
		if e.Props["USEC_INITIALIZED"] == "" {
			t.Errorf("udev event %d lacks USEC_INITIALIZED", i)
		}
		dev := e.DevPath
		if j := strings.Index(dev, "/net/"); j >= 0 {
			dev = dev[:j]
		}
		if e.Seqnum <= lastByDev[dev] {
			t.Errorf("udev event %d seqnum %d not increasing for %s", i, e.Seqnum, dev)
		}
		lastByDev[dev] = e.Seqnum
	}
	if uevs[8].Props["USEC_INITIALIZED"] != uevs[10].Props["USEC_INITIALIZED"] {
		t.Errorf("USEC_INITIALIZED changes for the same netdev")
	}
}

func checkProps(t *testing.T, e Uevent, kvs ...string) {
	t.Helper()
	for _, kv := range kvs {
		key, v, _ := strings.Cut(kv, "=")
		if e.Props[key] != v {
			t.Errorf("%s %s: %s=%q, want %q (all: %v)", e.Action, e.DevPath, key, e.Props[key], v, e.Env())
		}
	}
}

func TestRenameRefusedWhileUp(t *testing.T) {
	sink := &recordSink{}
	cfg := baseConfig(t)
	cfg.NoRename = false
	cfg.RenameDelay = 300 * time.Millisecond
	cfg.Events = sink
	k := newKernel(t, cfg)
	freeAndGroup(t, k)
	mustWrite(t, k, "sys/bus/ccwgroup/devices/0.0.f500/online", "1")
	if err := k.Links().SetUp("eth0"); err != nil {
		t.Fatal(err)
	}
	settle(t, k)
	if got := mustRead(t, k, "sys/bus/ccwgroup/devices/0.0.f500/if_name"); got != "eth0\n" {
		t.Errorf("if_name %q: renamed although up", got)
	}
	var adds int
	for _, e := range sink.events() {
		if e.Subsystem == "net" {
			adds++
			checkProps(t, e, "ACTION=add", "INTERFACE=eth0")
		}
	}
	if adds != 1 {
		t.Errorf("%d net events broadcast, want one add", adds)
	}
}

func TestRenameDelayIsObservable(t *testing.T) {
	cfg := baseConfig(t)
	cfg.NoRename = false
	cfg.RenameDelay = 200 * time.Millisecond
	k := newKernel(t, cfg)
	freeAndGroup(t, k)
	mustWrite(t, k, "sys/bus/ccwgroup/devices/0.0.f500/online", "1")
	if got := mustRead(t, k, "sys/bus/ccwgroup/devices/0.0.f500/if_name"); got != "eth0\n" {
		t.Errorf("if_name right after online %q", got)
	}
	settle(t, k)
	if got := mustRead(t, k, "sys/bus/ccwgroup/devices/0.0.f500/if_name"); got != "encf500\n" {
		t.Errorf("if_name after settle %q", got)
	}
	if _, err := k.Stat("sys/class/net/encf500"); err != nil {
		t.Error(err)
	}
}

func TestQethNotLoaded(t *testing.T) {
	cfg := baseConfig(t)
	cfg.QethNotLoaded = true
	k := newKernel(t, cfg)
	// 7000-7002 are registered at boot but unbound.
	if st, _ := k.Device("0.0.7000"); !st.Registered || st.Driver != "" {
		t.Fatalf("boot state %+v", st)
	}
	if _, err := k.Stat(groupFile); err == nil {
		t.Fatal("group file exists without qeth")
	}
	mustWrite(t, k, "proc/cio_ignore", "free 0.0.f500-0.0.f501")
	want := strings.Join([]string{
		"add ccw /devices/css0/0.0.0000/0.0.f500",
		"bind ccw /devices/css0/0.0.0000/0.0.f500",
		"bind ccw /devices/css0/0.0.0003/0.0.7000",
		"bind ccw /devices/css0/0.0.0004/0.0.7001",
		"bind ccw /devices/css0/0.0.0005/0.0.7002",
		"add drivers /bus/ccw/drivers/qeth",
		"add drivers /bus/ccwgroup/drivers/qeth",
		"add ccw /devices/css0/0.0.0001/0.0.f501",
		"bind ccw /devices/css0/0.0.0001/0.0.f501",
	}, "\n")
	if got := summary(k.Uevents()); got != want {
		t.Errorf("events:\n%s\nwant:\n%s", got, want)
	}
	if _, err := k.Stat(groupFile); err != nil {
		t.Error(err)
	}
	if !k.QethLoaded() {
		t.Error("QethLoaded false")
	}
}

func TestRegistrationDelay(t *testing.T) {
	cfg := baseConfig(t)
	cfg.RegistrationDelay = time.Hour
	k := newKernel(t, cfg)
	mustWrite(t, k, "proc/cio_ignore", "free 0.0.f500-0.0.f502")
	if st, _ := k.Device("0.0.f500"); st.Registered || !st.Pending || st.Ignored {
		t.Fatalf("right after free: %+v", st)
	}
	if _, err := k.Stat("sys/bus/ccw/devices/0.0.f500"); err == nil {
		t.Fatal("registered before cio_settle")
	}
	mustWrite(t, k, "proc/cio_settle", "1")
	if st, _ := k.Device("0.0.f502"); !st.Registered || st.Pending || st.Driver != "qeth" {
		t.Fatalf("after cio_settle: %+v", st)
	}

	cfg = baseConfig(t)
	cfg.RegistrationDelay = 50 * time.Millisecond
	k = newKernel(t, cfg)
	mustWrite(t, k, "proc/cio_ignore", "free 0.0.f500")
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := k.Stat("sys/bus/ccw/devices/0.0.f500/driver"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("device never registered")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSynthUevent(t *testing.T) {
	k := newKernel(t, baseConfig(t))
	freeAndGroup(t, k)
	n := len(k.Uevents())
	mustWrite(t, k, "sys/bus/ccw/devices/0.0.f500/uevent", "change\n")
	mustWrite(t, k, "sys/bus/ccwgroup/devices/0.0.f500/uevent", "add")
	wantErrno(t, "bogus action", k.WriteFile("sys/bus/ccw/devices/0.0.f500/uevent", []byte("explode")), 22)
	evs := k.Uevents()[n:]
	if len(evs) != 2 {
		t.Fatalf("events %v", summary(evs))
	}
	checkProps(t, evs[0], "ACTION=change", "SYNTH_UUID=0", "DRIVER=qeth", "CU_TYPE=1731")
	checkProps(t, evs[1], "ACTION=add", "SUBSYSTEM=ccwgroup", "DRIVER=qeth", "SYNTH_UUID=0")
	if got := mustRead(t, k, "sys/bus/ccwgroup/devices/0.0.f500/uevent"); got != "DEVTYPE=qeth_generic\nDRIVER=qeth\n" {
		t.Errorf("group uevent file %q", got)
	}
}

// bySeqnum returns the events sorted by SEQNUM.
func bySeqnum(evs []Uevent) []Uevent {
	out := append([]Uevent(nil), evs...)
	sort.Slice(out, func(i, j int) bool { return out[i].Seqnum < out[j].Seqnum })
	return out
}
