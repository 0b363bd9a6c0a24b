package zkernel

import (
	"errors"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"
)

// HiperSockets have one port: portno 1 is EINVAL there, while an OSA
// adapter takes it; the order of the checks follows qeth_dev_portno_store.
func TestPortBounds(t *testing.T) {
	k := newKernel(t, baseConfig(t))
	mustWrite(t, k, "sys/bus/ccwgroup/drivers/qeth/group", "0.0.7000,0.0.7001,0.0.7002")
	runSteps(t, k, []step{
		{"w", g700 + "portno", "1", syscall.EINVAL}, // IQD: pcnt 1 (or 0), only port 0
		{"w", g700 + "portno", "0", 0},
		{"w", g700 + "portno", "10", syscall.EINVAL}, // > 15 (hex)
		{"w", g700 + "portno", "x", syscall.EINVAL},  // not a number
		{"w", g700 + "online", "1", 0},
		{"w", g700 + "portno", "0", syscall.EPERM}, // online: not DOWN
		{"w", g700 + "portno", "1", syscall.EPERM}, // EPERM comes before the port bound
		{"w", g700 + "portno", "x", syscall.EINVAL},
	})
	// An explicit port count wins over the kind's default.
	cfg := Config{Devices: triplet(t, KindIQD, 0x70, "0.0.7000", func(d *Device) { d.Ports = 2 })}
	k2 := newKernel(t, cfg)
	mustWrite(t, k2, "sys/bus/ccwgroup/drivers/qeth/group", "0.0.7000,0.0.7001,0.0.7002")
	mustWrite(t, k2, g700+"portno", "1")
}

// Every CHPID of the configuration has a channel-path directory with the
// attributes lsznet.raw and znetconf read.
func TestChannelPaths(t *testing.T) {
	k := newKernel(t, baseConfig(t))
	runSteps(t, k, []step{
		{"r", "sys/devices/css0/chp0.f5/type", "11\n", 0}, // OSD, ignored but configured
		{"r", "sys/devices/css0/chp0.70/type", "24\n", 0}, // IQD
		{"r", "sys/devices/css0/chp0.20/type", "1b\n", 0},
		{"r", "sys/devices/css0/chp0.f5/status", "online\n", 0},
		{"w", "sys/devices/css0/chp0.f5/status", "on", 0},
		{"w", "sys/devices/css0/chp0.f5/status", "maybe", syscall.EINVAL},
		{"r", "sys/devices/css0/chp0.f5/configure", "1\n", 0},
		{"r", "sys/devices/css0/chp0.f5/cmg", "unknown\n", 0},
		{"w", "sys/devices/css0/chp0.f5/type", "11", syscall.EACCES},
		{"nostat", "sys/devices/css0/chp0.f6", "", 0},
	})
	for _, typ := range []struct {
		kind Kind
		want string
	}{{KindOSX, "30\n"}, {KindOSM, "31\n"}} {
		k := newKernel(t, Config{Devices: triplet(t, typ.kind, 0x0a, "0.0.0a00", nil)})
		if got := mustRead(t, k, "sys/devices/css0/chp0.0a/type"); got != typ.want {
			t.Errorf("%s: type %q, want %q", typ.kind, got, typ.want)
		}
	}
}

// Setting groups online takes the kind's latency, without the kernel lock:
// twelve groups written at once are all in their hardware setup at the
// same time (each refuses a second online with EAGAIN), another kind's
// group comes online meanwhile, and the busy group refuses offline and
// ungroup with EAGAIN and attribute writes with EPERM.
func TestOnlineLatencyIsPerGroupAndParallel(t *testing.T) {
	const lat = time.Second
	var devs []Device
	for i := 0; i < 12; i++ {
		devs = append(devs, triplet(t, KindOSD, uint8(i), fmt.Sprintf("0.0.%04x", 0x1000+3*i), nil)...)
	}
	devs = append(devs, triplet(t, KindIQD, 0x70, "0.0.7000", nil)...)
	k := newKernel(t, Config{Devices: devs, NoRename: true, OnlineLatency: &OnlineLatency{OSD: lat, IQD: time.Millisecond}})
	online := func(i int) string { return fmt.Sprintf("sys/bus/ccwgroup/devices/0.0.%04x/online", 0x1000+3*i) }
	for i := 0; i < 12; i++ {
		d := 0x1000 + 3*i
		mustWrite(t, k, "sys/bus/ccwgroup/drivers/qeth/group", fmt.Sprintf("0.0.%04x,0.0.%04x,0.0.%04x", d, d+1, d+2))
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, 12)
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = k.WriteFile(online(i), []byte("1"))
		}()
	}
	time.Sleep(lat / 2)
	for i := 0; i < 12; i++ {
		wantErrno(t, fmt.Sprintf("group %d while coming online", i), k.WriteFile(online(i), []byte("1")), syscall.EAGAIN)
	}
	g := "sys/bus/ccwgroup/devices/0.0.1000/"
	runSteps(t, k, []step{
		{"r", g + "online", "0\n", 0},
		{"w", g + "online", "0", syscall.EAGAIN},
		{"w", g + "ungroup", "1", syscall.EAGAIN},
		{"w", g + "layer2", "1", syscall.EPERM},
		{"w", g + "portno", "0", syscall.EPERM},
		{"w", g + "buffer_count", "16", syscall.EPERM},
		{"r", g + "state", "DOWN\n", 0},
	})
	// Another kind has its own latency and is not held up by the OSDs.
	mustWrite(t, k, "sys/bus/ccwgroup/drivers/qeth/group", "0.0.7000,0.0.7001,0.0.7002")
	mustWrite(t, k, g700+"online", "1")
	wantErrno(t, "OSD after the HiperSockets online", k.WriteFile(online(11), []byte("1")), syscall.EAGAIN)
	wg.Wait()
	if took := time.Since(start); took < lat {
		t.Errorf("the onlines returned after %s, before the latency %s", took, lat)
	}
	for i, err := range errs {
		if err != nil {
			t.Errorf("group %d: %v", i, err)
		}
	}
	if busy := k.BusyTime(); busy >= lat {
		t.Errorf("kernel busy time %s includes the hardware latency", busy)
	}
	runSteps(t, k, []step{
		{"r", g + "online", "1\n", 0},
		{"r", g + "state", "SOFTSETUP\n", 0},
		{"w", g + "online", "1", syscall.EINVAL},
	})
}

// A failing device takes the latency too and stays offline.
func TestOnlineLatencyFailure(t *testing.T) {
	devs := triplet(t, KindOSD, 1, "0.0.f500", func(d *Device) { d.FailOnline = syscall.ENODEV })
	k := newKernel(t, Config{Devices: devs, NoRename: true, OnlineLatency: &OnlineLatency{OSD: 50 * time.Millisecond}})
	mustWrite(t, k, "sys/bus/ccwgroup/drivers/qeth/group", "0.0.f500,0.0.f501,0.0.f502")
	t0 := time.Now()
	err := k.WriteFile(g500+"online", []byte("1"))
	if !errors.Is(err, syscall.ENODEV) || time.Since(t0) < 50*time.Millisecond {
		t.Errorf("err %v after %s", err, time.Since(t0))
	}
	runSteps(t, k, []step{{"r", g500 + "online", "0\n", 0}, {"w", g500 + "ungroup", "1", 0}})
}

func TestDefaultOnlineLatency(t *testing.T) {
	l := DefaultOnlineLatency
	for _, c := range []struct {
		d    Device
		want time.Duration
	}{
		{Device{Kind: KindOSD}, l.OSD}, {Device{Kind: KindOSX}, l.OSX}, {Device{Kind: KindOSM}, l.OSM},
		{Device{Kind: KindIQD}, l.IQD}, {Device{Kind: KindOSD, VNIC: true}, l.VNIC}, {Device{Kind: KindIQD, VNIC: true}, l.VNIC},
		{Device{Kind: KindReader}, 0},
	} {
		if got := l.of(c.d); got != c.want {
			t.Errorf("%+v: %s, want %s", c.d, got, c.want)
		}
	}
	var none *OnlineLatency
	if none.of(Device{Kind: KindOSD}) != 0 || l.Max() != l.OSD {
		t.Error("nil latency must be instant; Max must be the OSA latency")
	}
}
