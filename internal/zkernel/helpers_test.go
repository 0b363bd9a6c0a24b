package zkernel

import (
	"context"
	"errors"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func triplet(t testing.TB, kind Kind, chpid uint8, read string, mod func(d *Device)) []Device {
	t.Helper()
	devs, err := QethDevices(kind, chpid, read)
	if err != nil {
		t.Fatal(err)
	}
	if mod != nil {
		for i := range devs {
			mod(&devs[i])
		}
	}
	return devs
}

// baseConfig: an ignored OSD f500-f502 (adapter MAC, one MAC in use on
// the LAN), a registered IQD 7000-7002, a z/VM reader 000c (ignored) and
// a DASD. udev does not rename (tests of the rename turn it on).
func baseConfig(t testing.TB) Config {
	t.Helper()
	var devs []Device
	devs = append(devs, triplet(t, KindOSD, 0xf5, "0.0.f500", func(d *Device) {
		d.Ignored = true
		d.HWMAC = "02:00:00:00:f5:00"
		d.MACInUse = []string{"02:00:00:00:00:99"}
	})...)
	devs = append(devs, triplet(t, KindIQD, 0x70, "0.0.7000", nil)...)
	devs = append(devs,
		Device{BusID: "0.0.000C", Kind: KindReader, Ignored: true},
		Device{BusID: "0.0.0200", Kind: KindOther, CHPID: 0x20},
	)
	return Config{Devices: devs, Cmdline: "root=/dev/dasda1 cio_ignore=all,!condev", NoRename: true}
}

func newKernel(t testing.TB, cfg Config) *Kernel {
	t.Helper()
	k, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := k.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return k
}

func mustRead(t testing.TB, k *Kernel, name string) string {
	t.Helper()
	b, err := k.ReadFile(name)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return string(b)
}

func mustWrite(t testing.TB, k *Kernel, name, data string) {
	t.Helper()
	if err := k.WriteFile(name, []byte(data)); err != nil {
		t.Fatalf("write %q to %s: %v", data, name, err)
	}
}

// wantErrno checks err against want (0: no error) and that it is a
// *fs.PathError.
func wantErrno(t testing.TB, what string, err error, want syscall.Errno) {
	t.Helper()
	if want == 0 {
		if err != nil {
			t.Errorf("%s: unexpected error %v", what, err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", what, err, want)
	}
}

const (
	ccwgroupDir = "sys/bus/ccwgroup/devices/"
	groupFile   = "sys/bus/ccwgroup/drivers/qeth/group"
)

// freeAndGroup frees and groups f500-f502 of baseConfig.
func freeAndGroup(t testing.TB, k *Kernel) {
	t.Helper()
	mustWrite(t, k, "proc/cio_ignore", "free 0.0.f500-0.0.f502")
	mustWrite(t, k, "proc/cio_settle", "1")
	mustWrite(t, k, groupFile, "0.0.f500,0.0.f501,0.0.f502\n")
}

func settle(t testing.TB, k *Kernel) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := k.Settle(ctx); err != nil {
		t.Fatalf("settle: %v", err)
	}
}

// recordSink records broadcast events.
type recordSink struct {
	mu  sync.Mutex
	evs []Uevent
}

func (r *recordSink) Send(ev Uevent) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.evs = append(r.evs, ev)
	return nil
}

func (r *recordSink) events() []Uevent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Uevent(nil), r.evs...)
}

// summary renders events as "action subsystem devpath" lines.
func summary(evs []Uevent) string {
	var lines []string
	for _, e := range evs {
		lines = append(lines, e.Action+" "+e.Subsystem+" "+e.DevPath)
	}
	return strings.Join(lines, "\n")
}
