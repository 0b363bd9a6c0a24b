package activate_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zguest/zguest/agent/activate"
	"github.com/zguest/zguest/agent/qeth"
	"github.com/zguest/zguest/agent/state"
	"github.com/zguest/zguest/internal/zkernel"
)

// sink turns the emulated udevd's broadcasts into the agent's events.
type sink chan qeth.NetEvent

func (s sink) Send(ev zkernel.Uevent) error {
	if ev.Subsystem == "net" {
		s <- qeth.NetEvent{Action: ev.Action, DevPath: ev.DevPath, IfName: ev.Props["INTERFACE"]}
	}
	return nil
}

type machine struct {
	k     *zkernel.Kernel
	root  string
	opts  activate.Options
	links *zkernel.MemLinks
}

// qethNIC returns the three subchannels of one adapter.
func qethNIC(t *testing.T, kind zkernel.Kind, chpid uint8, read string, mod func(*zkernel.Device)) []zkernel.Device {
	t.Helper()
	d, err := zkernel.QethDevices(kind, chpid, read)
	if err != nil {
		t.Fatal(err)
	}
	if mod != nil {
		for i := range d {
			mod(&d[i])
		}
	}
	return d
}

func boot(t *testing.T, cfg zkernel.Config) *machine {
	t.Helper()
	ev := make(sink, 1024)
	cfg.Events = ev
	k, err := zkernel.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	m := &machine{k: k, root: t.TempDir(), links: k.Links()}
	m.opts = activate.Options{
		Root:  m.root,
		FS:    k,
		Links: m.links,
		Namer: qeth.NewUdevNamer(ctx, k, !cfg.NoRename, ev),
	}
	return m
}

func (m *machine) activate(t *testing.T) activate.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rep, err := activate.Activate(ctx, m.opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func summary(rep activate.Report) string {
	var s []string
	for _, n := range rep.NICs {
		r := n.Result
		if r.OK() {
			s = append(s, fmt.Sprintf("%s %s %s", r.ID, r.IfName, r.MAC))
		} else {
			s = append(s, fmt.Sprintf("%s FAILED", r.ID))
		}
	}
	return strings.Join(s, "\n")
}

func dpmCmdline(n int, base uint16, upper bool) (string, []zkernel.Device, string) {
	var cmd []string
	var devs []zkernel.Device
	var want []string
	for i := 0; i < n; i++ {
		devno := base + uint16(i)*3
		id := fmt.Sprintf("%04x", devno)
		if upper {
			id = strings.ToUpper(id)
		}
		mac := fmt.Sprintf("02000000%04x", devno)
		cmd = append(cmd, fmt.Sprintf("%s,%d,%s;", id, i%2, mac))
		d, _ := zkernel.QethDevices(zkernel.KindOSD, uint8(i), fmt.Sprintf("0.0.%04x", devno))
		devs = append(devs, d...)
		bus := fmt.Sprintf("0.0.%04x", devno)
		want = append(want, fmt.Sprintf("%s enc%s 02:00:00:00:%02x:%02x", bus, strings.TrimLeft(fmt.Sprintf("%04x", devno), "0"), devno>>8, devno&0xff))
	}
	return strings.Join(cmd, " "), devs, strings.Join(want, "\n")
}

func TestTwelveNICsUpperCaseAndIdempotent(t *testing.T) {
	cmd, devs, want := dpmCmdline(12, 0x1000, true)
	m := boot(t, zkernel.Config{Devices: devs, Cmdline: "root=/dev/sda1 " + cmd, RenameDelay: time.Millisecond})
	rep := m.activate(t)
	if got := summary(rep); got != want || !rep.OK() {
		t.Fatalf("got\n%s\nwant\n%s\nproblems %v", got, want, rep.Problems)
	}
	for _, n := range rep.NICs {
		g, _ := m.k.Group(n.Result.ID.String())
		if !g.Online || g.Layer2 != 1 {
			t.Errorf("%s: %+v", n.Result.ID, g)
		}
		if up, _ := m.links.IsUp(n.Result.IfName); up {
			t.Errorf("%s: the agent must never set the link up", n.Result.IfName)
		}
	}
	before := len(m.k.Uevents())
	rep2 := m.activate(t)
	if summary(rep2) != want {
		t.Fatalf("second run:\n%s", summary(rep2))
	}
	for _, n := range rep2.NICs {
		if len(n.Result.Changed) != 0 {
			t.Errorf("second run changed %s: %v", n.Result.ID, n.Result.Changed)
		}
	}
	if after := len(m.k.Uevents()); after != before {
		t.Errorf("second run caused %d uevents", after-before)
	}
	s, err := state.Load(m.root)
	if err != nil || !s.OK || len(s.NICs) != 12 || len(s.Runs) != 2 {
		t.Errorf("state: %+v %v", s, err)
	}
}

func TestHiperSocketsGetLayer2(t *testing.T) {
	devs := qethNIC(t, zkernel.KindIQD, 0xf0, "0.0.7000", nil)
	m := boot(t, zkernel.Config{Devices: devs, Cmdline: "7000,0,020000007000;"})
	rep := m.activate(t)
	if !rep.OK() {
		t.Fatal(summary(rep), rep.NICs[0].Result.Err)
	}
	if g, _ := m.k.Group("0.0.7000"); g.Layer2 != 1 {
		t.Errorf("HiperSockets must be layer 2, got %d", g.Layer2)
	}
}

func TestIgnoredSubchannelsAreFreed(t *testing.T) {
	devs := qethNIC(t, zkernel.KindOSD, 1, "0.0.f500", func(d *zkernel.Device) { d.Ignored = true })
	m := boot(t, zkernel.Config{Devices: devs, Cmdline: "cio_ignore=all,!condev f500,0,02000000f500;", RegistrationDelay: 20 * time.Millisecond})
	rep := m.activate(t)
	if !rep.OK() {
		t.Fatal(rep.NICs[0].Result.Err)
	}
	b, _ := m.k.ReadFile("proc/cio_ignore")
	if strings.Contains(string(b), "0.0.f50") && !strings.Contains(string(b), "0.0.f503") {
		t.Errorf("still ignored: %s", b)
	}
}

func TestPreGroupedWrongLayerAndPortIsRepaired(t *testing.T) {
	devs := qethNIC(t, zkernel.KindOSD, 1, "0.0.f500", nil)
	m := boot(t, zkernel.Config{Devices: devs, Cmdline: "f500,1,02000000f500;",
		Groups: []zkernel.Group{{BusIDs: [3]string{"0.0.f500", "0.0.f501", "0.0.f502"}, Layer2: 0, PortNo: 0}}})
	rep := m.activate(t)
	if !rep.OK() {
		t.Fatal(rep.NICs[0].Result.Err)
	}
	if g, _ := m.k.Group("0.0.f500"); g.Layer2 != 1 || g.PortNo != 1 || !g.Online {
		t.Errorf("%+v", g)
	}
}

func TestOnlineLayer3IsReportedNotTornDown(t *testing.T) {
	devs := qethNIC(t, zkernel.KindOSD, 1, "0.0.f500", nil)
	devs = append(devs, qethNIC(t, zkernel.KindOSD, 2, "0.0.f600", nil)...)
	m := boot(t, zkernel.Config{Devices: devs, Cmdline: "f500,0,02000000f500; f600,0,02000000f600;",
		Groups: []zkernel.Group{{BusIDs: [3]string{"0.0.f500", "0.0.f501", "0.0.f502"}, Layer2: 0, Online: true}}})
	rep := m.activate(t)
	if rep.OK() || rep.Failed() != 1 {
		t.Fatalf("want one failure:\n%s", summary(rep))
	}
	if err := rep.NICs[0].Result.Err; err == nil || !strings.Contains(err.Error(), "online in layer 3") {
		t.Errorf("error %v", err)
	}
	if g, _ := m.k.Group("0.0.f500"); !g.Online || g.Layer2 != 0 {
		t.Errorf("must not be touched: %+v", g)
	}
	if !rep.NICs[1].Result.OK() {
		t.Errorf("the other NIC must still come up: %v", rep.NICs[1].Result.Err)
	}
}

func TestFailuresAreIsolated(t *testing.T) {
	devs := qethNIC(t, zkernel.KindOSD, 1, "0.0.f500", nil)
	devs = append(devs, qethNIC(t, zkernel.KindOSD, 2, "0.0.f600", func(d *zkernel.Device) { d.FailOnline = syscall.ENODEV })...)
	devs = append(devs, qethNIC(t, zkernel.KindOSD, 3, "0.0.f700", func(d *zkernel.Device) { d.MACInUse = []string{"02:00:00:00:f7:00"} })...)
	missing := qethNIC(t, zkernel.KindOSD, 4, "0.0.f800", nil)
	devs = append(devs, missing[0], missing[1]) // 0.0.f802 is absent
	m := boot(t, zkernel.Config{Devices: devs, Cmdline: "f500,0,02000000f500; f600,0,02000000f600; f700,0,02000000f700; f800,0,02000000f800;"})
	m.opts.Concurrency = 4
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	rep, err := activate.Activate(ctx, m.opts)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"0.0.f500": "",
		"0.0.f600": "the card did not come online",
		"0.0.f700": "already has it",
		"0.0.f800": "0.0.f802 does not exist",
	}
	for _, n := range rep.NICs {
		w := want[n.Result.ID.String()]
		err := n.Result.Err
		if (w == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), w)) {
			t.Errorf("%s: err %v, want %q", n.Result.ID, err, w)
		}
	}
	if f := rep.NICs[1].Result.Err; !errors.Is(f, syscall.ENODEV) {
		t.Errorf("errno lost: %v", f)
	}
	if f := rep.NICs[2].Result.Err; !errors.Is(f, syscall.EADDRINUSE) {
		t.Errorf("errno lost: %v", f)
	}
	s, _ := state.Load(m.root)
	if s.OK || s.NICs[2].Outcome != state.OutcomeFailed || s.NICs[0].Outcome != state.OutcomeUp {
		t.Errorf("state %+v", s.NICs)
	}
}

func TestRDZNetAndSlowUdev(t *testing.T) {
	devs := qethNIC(t, zkernel.KindOSD, 1, "0.0.f500", nil)
	d4, _ := zkernel.QethDevices(zkernel.KindOSD, 1, "0.0.f503")
	devs = append(devs, d4[1]) // 0.0.f504 as data subchannel
	m := boot(t, zkernel.Config{Devices: devs, RenameDelay: 300 * time.Millisecond,
		Cmdline: "rd.znet=qeth,0.0.f500,0.0.f501,0.0.f504,layer2=1,portno=1"})
	rep := m.activate(t)
	if !rep.OK() || rep.NICs[0].Result.IfName != "encf500" {
		t.Fatalf("%s %v", summary(rep), rep.NICs[0].Result.Err)
	}
	if g, _ := m.k.Group("0.0.f500"); g.PortNo != 1 {
		t.Errorf("%+v", g)
	}
}

func TestNoUdevKeepsKernelName(t *testing.T) {
	devs := qethNIC(t, zkernel.KindOSD, 1, "0.0.f500", nil)
	m := boot(t, zkernel.Config{Devices: devs, NoRename: true, Cmdline: "f500,0,02000000f500;"})
	rep := m.activate(t)
	if !rep.OK() || rep.NICs[0].Result.IfName != "eth0" {
		t.Fatalf("%s", summary(rep))
	}
}

func TestSetMAC(t *testing.T) {
	devs := qethNIC(t, zkernel.KindOSD, 1, "0.0.f500", nil)
	devs = append(devs, qethNIC(t, zkernel.KindOSD, 2, "0.0.f600", nil)...)
	nicList := filepath.Join(t.TempDir(), "nics.json")
	os.WriteFile(nicList, []byte(`{"version":1,"nics":[{"read":"0.0.f600","mac":"02:00:00:00:06:00"}]}`), 0o644)
	m := boot(t, zkernel.Config{Devices: devs, Cmdline: "f500,0,02000000f500;"})
	m.opts.NICLists = []string{nicList}
	ctx := context.Background()
	rep, err := activate.SetMAC(ctx, m.opts, "0.0.f601")
	if err != nil || !rep.OK() || len(rep.NICs) != 1 || rep.NICs[0].Result.MAC != "02:00:00:00:06:00" {
		t.Fatalf("%v %s", err, summary(rep))
	}
	rep, err = activate.SetMAC(ctx, m.opts, "encf600")
	if err != nil || len(rep.NICs) != 1 || len(rep.NICs[0].Result.Changed) != 0 {
		t.Fatalf("by name: %v %+v", err, rep)
	}
	rep, err = activate.SetMAC(ctx, m.opts, "0.0.0c00")
	if err != nil || rep.Skipped == "" || !rep.OK() {
		t.Fatalf("unlisted: %v %+v", err, rep)
	}
	if _, err := activate.SetMAC(ctx, m.opts, "nosuchif"); err == nil {
		t.Error("unknown interface must be an error")
	}
}

func TestSourceProblemsFailTheRunButOthersApply(t *testing.T) {
	devs := qethNIC(t, zkernel.KindOSD, 1, "0.0.f500", nil)
	m := boot(t, zkernel.Config{Devices: devs, Cmdline: "f500,0,02000000f500; f600,2;"})
	rep := m.activate(t)
	if rep.OK() || len(rep.Problems) != 1 || !rep.NICs[0].Result.OK() {
		t.Fatalf("%+v", rep)
	}
	s, _ := state.Load(m.root)
	if s.OK || len(s.Problems) != 1 {
		t.Errorf("state %+v", s)
	}
}

// A universally administered MAC is set, with a warning; the NIC is up.
func TestUniversallyAdministeredMACIsSetWithAWarning(t *testing.T) {
	devs := qethNIC(t, zkernel.KindOSD, 1, "0.0.0001", nil)
	m := boot(t, zkernel.Config{Devices: devs, Cmdline: "0001,0,000000000011;"})
	var log bytes.Buffer
	m.opts.Log = slog.New(slog.NewTextHandler(&log, nil))
	rep := m.activate(t)
	if !rep.OK() || len(rep.NICs) != 1 || rep.NICs[0].Result.MAC != "00:00:00:00:00:11" {
		t.Fatalf("%+v\n%s", rep, log.String())
	}
	if w := rep.NICs[0].Result.Warnings; len(w) != 1 || !strings.Contains(w[0], "universally administered") {
		t.Errorf("warnings %q", w)
	}
	if !strings.Contains(log.String(), "level=WARN") || !strings.Contains(log.String(), "universally administered") {
		t.Errorf("no warning logged:\n%s", log.String())
	}
}

// When every token was rejected the log says so, not "nothing listed".
func TestOnlyRejectedTokensSaySo(t *testing.T) {
	m := boot(t, zkernel.Config{Cmdline: "ro 0001,0,010000000011; 0004,2;"})
	var log bytes.Buffer
	m.opts.Log = slog.New(slog.NewTextHandler(&log, nil))
	rep := m.activate(t)
	if rep.OK() || len(rep.NICs) != 0 || len(rep.Problems) != 2 {
		t.Fatalf("%+v", rep)
	}
	if !strings.Contains(log.String(), "no valid NICs (2 tokens rejected)") {
		t.Errorf("log:\n%s", log.String())
	}
	if strings.Contains(log.String(), "nothing to do") {
		t.Errorf("misleading line:\n%s", log.String())
	}
}

// HiperSockets have only port 0: a token asking for port 1 fails that NIC
// with the kernel's EINVAL and says why.
func TestHiperSocketsPortOneIsRefusedByTheKernel(t *testing.T) {
	devs := qethNIC(t, zkernel.KindIQD, 0x24, "0.0.7000", nil)
	m := boot(t, zkernel.Config{Devices: devs, Cmdline: "7000,1,020000007000;"})
	rep := m.activate(t)
	if rep.OK() || len(rep.NICs) != 1 {
		t.Fatalf("%+v", rep)
	}
	err := rep.NICs[0].Result.Err
	if !errors.Is(err, syscall.EINVAL) || !strings.Contains(err.Error(), "HiperSockets only port 0") {
		t.Errorf("error %v", err)
	}
}

// BenchmarkActivate12 runs the engine on 12 fresh DPM NICs against the
// in-process model (no FUSE, no real interfaces) and reports the engine's
// own time: wall time minus the emulated kernel's busy time.
func BenchmarkActivate12(b *testing.B) {
	cmd, devs, _ := dpmCmdline(12, 0x1000, true)
	var own, kernel time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ev := make(sink, 1024)
		k, err := zkernel.New(zkernel.Config{Devices: devs, Cmdline: cmd, Events: ev})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		opts := activate.Options{Root: b.TempDir(), FS: k, Links: k.Links(), Namer: qeth.NewUdevNamer(ctx, k, true, ev)}
		busy0 := k.BusyTime()
		b.StartTimer()
		start := time.Now()
		rep, err := activate.Activate(ctx, opts)
		wall := time.Since(start)
		b.StopTimer()
		if err != nil || !rep.OK() {
			b.Fatalf("%v %s", err, summary(rep))
		}
		kernel += k.BusyTime() - busy0
		own += wall - (k.BusyTime() - busy0)
		cancel()
		k.Close()
	}
	b.ReportMetric(float64(own.Microseconds())/float64(b.N)/1000, "engine-ms/op")
	b.ReportMetric(float64(kernel.Microseconds())/float64(b.N)/1000, "kernel-ms/op")
}

func TestDescribeOnKVM(t *testing.T) {
	m := boot(t, zkernel.Config{
		Devices: []zkernel.Device{{BusID: "0.0.0001", Kind: zkernel.KindVirtioNet, ForcedLayer: -1}},
		Cmdline: "console=ttysclp0 0001,1,0a0000000011;0004,0;",
	})
	lines, probs, err := activate.Describe(m.opts)
	if err != nil || len(probs) != 0 {
		t.Fatal(err, probs)
	}
	want := []string{"0.0.0001 is listed by /proc/cmdline token \"0001,1,0a0000000011;\" at offset 17, but it is a virtio_ccw device, not a qeth NIC; nothing to do",
		"0.0.0004 is listed by /proc/cmdline token \"0004,0;\" at offset 37, but no such CCW device exists; nothing to do"}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s", strings.Join(lines, "\n"))
	}
	if g, ok := m.k.Group("0.0.0001"); ok {
		t.Errorf("Describe must change nothing: %+v", g)
	}
}

// BenchmarkActivate12Latency is BenchmarkActivate12 with the emulated
// kernel's realistic set-online latency (zkernel.DefaultOnlineLatency):
// the NICs come up side by side, so the wall time is about one latency L
// (300 ms for OSA) plus the engine's own time, not 12 x L.
func BenchmarkActivate12Latency(b *testing.B) {
	cmd, devs, _ := dpmCmdline(12, 0x1000, true)
	lat := zkernel.DefaultOnlineLatency
	var wall time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ev := make(sink, 1024)
		k, err := zkernel.New(zkernel.Config{Devices: devs, Cmdline: cmd, Events: ev, OnlineLatency: &lat})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		opts := activate.Options{Root: b.TempDir(), FS: k, Links: k.Links(), Namer: qeth.NewUdevNamer(ctx, k, true, ev)}
		b.StartTimer()
		start := time.Now()
		rep, err := activate.Activate(ctx, opts)
		wall += time.Since(start)
		b.StopTimer()
		if err != nil || !rep.OK() {
			b.Fatalf("%v %s", err, summary(rep))
		}
		cancel()
		k.Close()
	}
	L := lat.Max()
	b.ReportMetric(float64(wall.Microseconds())/float64(b.N)/1000, "wall-ms/op")
	b.ReportMetric(float64(L.Milliseconds()), "L-ms")
	b.ReportMetric(float64(wall)/float64(b.N)/float64(L), "wall/L")
}
