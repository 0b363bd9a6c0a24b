package kvm_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"

	"github.com/zguest/zguest/builder/configdrive"
	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/kvm"
	"github.com/zguest/zguest/hostside/kvm/kvmtest"
)

// runner is a fake qemu-img: it records argv and creates the file a
// create or convert writes.
type runner struct {
	mu   sync.Mutex
	argv [][]string
	fail error
}

func (r *runner) run(ctx context.Context, argv ...string) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.argv = append(r.argv, argv)
	if r.fail != nil {
		return nil, r.fail
	}
	switch argv[1] {
	case "create":
		return nil, os.WriteFile(argv[len(argv)-2], []byte("QFI\xfb"), 0o644)
	case "convert":
		return nil, os.WriteFile(argv[len(argv)-1], []byte("QFI\xfb"), 0o644)
	}
	// scp from a remote host: the "remote" is this host's file system.
	if n := len(argv); strings.HasSuffix(argv[0], "scp") && n > 2 && strings.Contains(argv[n-2], ":/") {
		_, path, _ := strings.Cut(argv[n-2], ":")
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		return nil, os.WriteFile(argv[n-1], b, 0o600)
	}
	return nil, nil
}

func (r *runner) last() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.argv) == 0 {
		return ""
	}
	return strings.Join(r.argv[len(r.argv)-1], " ")
}

type env struct {
	t   *testing.T
	f   *kvmtest.Fake
	r   *runner
	b   *kvm.Backend
	cfg kvm.Config
	dir string
}

func newEnv(t *testing.T, mod func(*kvm.Config)) *env {
	t.Helper()
	e := &env{t: t, f: kvmtest.New(), r: &runner{}, dir: t.TempDir()}
	e.cfg = kvm.Config{
		Dial:       func() (kvm.Conn, error) { return e.f.Reconnect() },
		StorageDir: filepath.Join(e.dir, "storage"),
		Network:    kvm.NetworkConfig{Type: "user"},
		Run:        e.r.run,
		Poll:       time.Millisecond,
		Now:        func() time.Time { return time.Date(2026, 11, 21, 19, 0, 0, 0, time.UTC) },
		Log:        slog.New(slog.NewTextHandler(testWriter{t}, nil)),
	}
	if mod != nil {
		mod(&e.cfg)
	}
	b, err := kvm.New(context.Background(), e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.b = b
	return e
}

// image imports a small raw image named name.
func (e *env) image(name string) {
	e.t.Helper()
	p := filepath.Join(e.dir, name+".raw")
	os.WriteFile(p, make([]byte, 1<<20), 0o644)
	if err := e.b.ImportImage(context.Background(), api.ImageImport{ImageName: name, URL: "file://" + p}); err != nil {
		e.t.Fatal(err)
	}
}

// guest creates and deploys userid with one NIC.
func (e *env) guest(userid string) {
	e.t.Helper()
	ctx := context.Background()
	if _, err := e.b.CreateGuest(ctx, api.GuestSpec{UserID: userid, VCPUs: 1, Memory: 512}); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.b.CreateNetworkInterface(ctx, userid, api.InterfaceSpec{GuestNetworks: []api.GuestNetwork{{MACAddr: "02:00:00:00:00:01", NICVdev: "1000"}}}); err != nil {
		e.t.Fatal(err)
	}
	if err := e.b.Deploy(ctx, userid, api.DeploySpec{Image: "img"}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) meta(userid string) *kvm.GuestMeta {
	e.t.Helper()
	x, ok := e.f.XML("zguest-" + userid)
	if !ok {
		e.t.Fatalf("no domain for %s", userid)
	}
	g, ok, err := kvm.ParseGuestMeta(x)
	if err != nil || !ok {
		e.t.Fatal(ok, err)
	}
	return g
}

// wantErr checks an *api.Error's overallRC and rs (rs -1: any) and that
// its message contains sub.
func wantErr(t *testing.T, err error, overall, rs int, sub string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want overallRC %d (%s)", overall, sub)
	}
	var ae *api.Error
	if !errors.As(err, &ae) {
		t.Fatalf("not an *api.Error: %v", err)
	}
	if ae.OverallRC != overall || (rs >= 0 && ae.RS != rs) || !strings.Contains(ae.Msg, sub) {
		t.Fatalf("got %v; want overallRC %d rs %d containing %q", err, overall, rs, sub)
	}
}

func TestNewConfig(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*kvm.Config)
		err  string
	}{
		{"relative storage", func(c *kvm.Config) { c.StorageDir = "rel" }, "storage_dir"},
		{"bad prefix", func(c *kvm.Config) { c.DomainPrefix = "a b" }, "prefix"},
		{"bad type", func(c *kvm.Config) { c.DomainType = "xen" }, "domain type"},
		{"kvm not offered", func(c *kvm.Config) { c.DomainType = "kvm" }, "cannot run s390x"},
		{"unusable cpu", func(c *kvm.Config) { c.CPUModel = "z14" }, "not usable"},
		{"user with source", func(c *kvm.Config) { c.Network.Source = "br0" }, "no source"},
		{"bridge without source", func(c *kvm.Config) { c.Network = kvm.NetworkConfig{Type: "bridge"} }, "source"},
		{"mode for bridge", func(c *kvm.Config) { c.Network = kvm.NetworkConfig{Type: "bridge", Source: "br0", Mode: "vepa"} }, "direct only"},
		{"bad net type", func(c *kvm.Config) { c.Network.Type = "ovs" }, "network type"},
		{"bad drive bus", func(c *kvm.Config) { c.DriveBus = "ide" }, "drive bus"},
		{"bad disk mode", func(c *kvm.Config) { c.DiskMode = "thin" }, "disk mode"},
		{"bad on_crash", func(c *kvm.Config) { c.OnCrash = "restart" }, "on_crash"},
		{"dial fails", func(c *kvm.Config) { c.Dial = func() (kvm.Conn, error) { return nil, errors.New("no socket") } }, "no socket"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := kvmtest.New()
			cfg := kvm.Config{Dial: func() (kvm.Conn, error) { return f, nil }, StorageDir: t.TempDir(), Network: kvm.NetworkConfig{Type: "user"}}
			tc.mod(&cfg)
			_, err := kvm.New(context.Background(), cfg)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("got %v, want %q", err, tc.err)
			}
		})
	}
}

func TestDomainTypeAndCPU(t *testing.T) {
	f := kvmtest.New()
	f.DomainCaps["kvm"] = kvmtest.DomainCapsKVM
	dir := t.TempDir()
	b, err := kvm.New(context.Background(), kvm.Config{Dial: func() (kvm.Conn, error) { return f, nil }, StorageDir: dir, Network: kvm.NetworkConfig{Type: "user"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateGuest(context.Background(), api.GuestSpec{UserID: "K1", VCPUs: 2, Memory: 1024}); err != nil {
		t.Fatal(err)
	}
	x, _ := f.XML("zguest-K1")
	if !strings.Contains(x, `<domain type="kvm">`) || !strings.Contains(x, `<cpu mode="host-model">`) {
		t.Errorf("KVM host: %s", x)
	}
	e := newEnv(t, func(c *kvm.Config) { c.CPUModel = "z900" })
	e.b.CreateGuest(context.Background(), api.GuestSpec{UserID: "T1", VCPUs: 1, Memory: 512})
	x, _ = e.f.XML("zguest-T1")
	if !strings.Contains(x, `<domain type="qemu">`) || !strings.Contains(x, `>z900</model>`) {
		t.Errorf("TCG host, z900: %s", x)
	}
}

func TestCreateGuest(t *testing.T) {
	tests := []struct {
		name      string
		spec      api.GuestSpec
		overall   int
		rs        int
		err       string
		wantDisks []string // vdevs returned
	}{
		{"minimal", api.GuestSpec{UserID: "G1", VCPUs: 1, Memory: 512}, 0, 0, "", nil},
		{"disks", api.GuestSpec{UserID: "G1", VCPUs: 2, Memory: 1024, DiskList: []api.Disk{{Size: "3g", IsBootDisk: true}, {Size: "512m"}, {Size: "1g", Vdev: "0110"}}}, 0, 0, "", []string{"0100", "0101", "0110"}},
		{"zero vcpus", api.GuestSpec{UserID: "G1", VCPUs: 0, Memory: 512}, 409, 1, "vcpus 0", nil},
		{"too many vcpus", api.GuestSpec{UserID: "G1", VCPUs: 3, Memory: 512}, 409, 1, "want 1 to 2", nil},
		{"too little memory", api.GuestSpec{UserID: "G1", VCPUs: 1, Memory: 128}, 409, 2, "memory 128", nil},
		{"too much memory", api.GuestSpec{UserID: "G1", VCPUs: 1, Memory: 9000}, 409, 2, "8192", nil},
		{"bad userid", api.GuestSpec{UserID: "g-1", VCPUs: 1, Memory: 512}, 100, 1, "userid", nil},
		{"max_cpu below", api.GuestSpec{UserID: "G1", VCPUs: 2, MaxCPU: 1, Memory: 512}, 100, 1, "max_cpu", nil},
		{"bad size", api.GuestSpec{UserID: "G1", VCPUs: 1, Memory: 512, DiskList: []api.Disk{{Size: "lots"}}}, 100, 1, "disk size", nil},
		{"two boot disks", api.GuestSpec{UserID: "G1", VCPUs: 1, Memory: 512, DiskList: []api.Disk{{Size: "1g", IsBootDisk: true}, {Size: "1g", IsBootDisk: true}}}, 100, 1, "more than one boot", nil},
		{"disk vdev out of range", api.GuestSpec{UserID: "G1", VCPUs: 1, Memory: 512, DiskList: []api.Disk{{Size: "1g", Vdev: "1000"}}}, 100, 1, "vdev", nil},
		{"dedicate", api.GuestSpec{UserID: "G1", VCPUs: 1, Memory: 512, DedicateVdevs: []string{"1234"}}, 501, 0, "dedicate", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			disks, err := e.b.CreateGuest(context.Background(), tc.spec)
			if tc.overall != 0 {
				wantErr(t, err, tc.overall, tc.rs, tc.err)
				if _, ok := e.f.XML("zguest-G1"); ok {
					t.Error("domain defined after a refused create")
				}
				if _, err := os.Stat(filepath.Join(e.cfg.StorageDir, "guests", "G1")); err == nil {
					t.Error("guest directory left")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var vdevs []string
			for _, d := range disks {
				vdevs = append(vdevs, d.Vdev)
			}
			if !slices.Equal(vdevs, tc.wantDisks) {
				t.Errorf("vdevs %v, want %v", vdevs, tc.wantDisks)
			}
			g := e.meta("G1")
			if g.VCPUs != tc.spec.VCPUs || g.MemoryMB != tc.spec.Memory || len(g.Disks) != max(0, len(tc.spec.DiskList)-1) {
				t.Errorf("metadata %+v", g)
			}
			for _, d := range g.Disks {
				if _, err := os.Stat(d.File); err != nil {
					t.Errorf("data disk: %v", err)
				}
			}
			_, err = e.b.CreateGuest(context.Background(), tc.spec)
			wantErr(t, err, 409, 2, "already exists")
		})
	}
	t.Run("qemu-img fails", func(t *testing.T) {
		e := newEnv(t, nil)
		e.r.fail = errors.New("qemu-img: no space")
		_, err := e.b.CreateGuest(context.Background(), api.GuestSpec{UserID: "G1", VCPUs: 1, Memory: 512, DiskList: []api.Disk{{Size: "1g"}}})
		wantErr(t, err, 500, 0, "no space")
		if _, err := os.Stat(filepath.Join(e.cfg.StorageDir, "guests", "G1")); err == nil {
			t.Error("guest directory left")
		}
	})
	t.Run("define fails with libvirt's error", func(t *testing.T) {
		e := newEnv(t, nil)
		e.f.Fail("DomainDefineXMLFlags", libvirt.Error{Code: uint32(libvirt.ErrXMLError), Message: "XML error: bad"})
		_, err := e.b.CreateGuest(context.Background(), api.GuestSpec{UserID: "G1", VCPUs: 1, Memory: 512})
		wantErr(t, err, 300, int(libvirt.ErrXMLError), "XML error: bad")
		if !strings.Contains(err.Error(), "ErrXMLError") {
			t.Errorf("error number's name missing: %v", err)
		}
	})
}

func TestDeploy(t *testing.T) {
	ctx := context.Background()
	iso := filepath.Join(t.TempDir(), "cfg.iso")
	tree, err := configdrive.Build(&configdrive.Instance{UUID: "6a1f0c55-7b7e-4d2a-8f43-9e1d2c3b4a50", Hostname: "h"})
	if err != nil {
		t.Fatal(err)
	}
	if err := configdrive.WriteImage(iso, tree, configdrive.ImageOptions{Format: configdrive.ISO9660}); err != nil {
		t.Fatal(err)
	}
	notDrive := filepath.Join(t.TempDir(), "x.bin")
	os.WriteFile(notDrive, make([]byte, 64<<10), 0o644)
	tests := []struct {
		name    string
		mod     func(*kvm.Config)
		spec    api.DeploySpec
		overall int
		err     string
		argv    string // substring of the last qemu-img argv
		xml     []string
	}{
		{"overlay, drive built", nil, api.DeploySpec{Image: "img", Hostname: "web1"}, 0, "", "create -q -f qcow2 -b", []string{`device="cdrom"`, `bus="scsi"`, "configdrive.iso", "root.qcow2", `<base>`}},
		{"copy mode", func(c *kvm.Config) { c.DiskMode = "copy" }, api.DeploySpec{Image: "img"}, 0, "", "convert -q -f raw -O qcow2", []string{"root.qcow2"}},
		{"virtio drive from transportfiles", func(c *kvm.Config) { c.DriveBus = "virtio" }, api.DeploySpec{Image: "img", TransportFiles: iso, Vdev: "0100"}, 0, "", "create", []string{`dev="vdz"`, `devno="0x0003"`}},
		{"no such image", nil, api.DeploySpec{Image: "nope"}, 300, "does not exist", "", nil},
		{"bad image name", nil, api.DeploySpec{Image: "../etc"}, 100, "image name", "", nil},
		{"bad vdev", nil, api.DeploySpec{Image: "img", Vdev: "0200"}, 100, "root disk is 0100", "", nil},
		{"transportfiles missing", nil, api.DeploySpec{Image: "img", TransportFiles: "/nonexistent/cfg.iso"}, 100, "transportfiles", "", nil},
		{"transportfiles remote", nil, api.DeploySpec{Image: "img", TransportFiles: "/nonexistent/cfg.iso", RemoteHost: "nova@compute"}, 100, "locally", "", nil},
		{"transportfiles not a drive", nil, api.DeploySpec{Image: "img", TransportFiles: notDrive}, 100, "neither an ISO", "", nil},
		{"transportfiles relative", nil, api.DeploySpec{Image: "img", TransportFiles: "cfg.iso"}, 100, "absolute", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.mod)
			e.image("img")
			if _, err := e.b.CreateGuest(ctx, api.GuestSpec{UserID: "D1", VCPUs: 1, Memory: 512, DiskList: []api.Disk{{Size: "2g", IsBootDisk: true}}}); err != nil {
				t.Fatal(err)
			}
			err := e.b.Deploy(ctx, "D1", tc.spec)
			if tc.overall != 0 {
				wantErr(t, err, tc.overall, -1, tc.err)
				if e.meta("D1").Root != "" {
					t.Error("root recorded after a failed deploy")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(e.r.last(), tc.argv) && !slices.ContainsFunc(e.r.argv, func(a []string) bool { return strings.Contains(strings.Join(a, " "), tc.argv) }) {
				t.Errorf("qemu-img calls %v, want %q", e.r.argv, tc.argv)
			}
			x, _ := e.f.XML("zguest-D1")
			for _, w := range tc.xml {
				if !strings.Contains(x, w) {
					t.Errorf("domain lacks %q:\n%s", w, x)
				}
			}
			g := e.meta("D1")
			if g.Image != "img" || g.Root == "" || g.Drive == "" {
				t.Errorf("metadata %+v", g)
			}
			if _, err := os.Stat(g.Drive); err != nil {
				t.Error(err)
			}
			// The overlay is grown to the boot disk size.
			if tc.mod == nil && !strings.HasSuffix(e.r.last(), " 2147483648") {
				t.Errorf("overlay size: %s", e.r.last())
			}
		})
	}
	t.Run("running guest", func(t *testing.T) {
		e := newEnv(t, nil)
		e.image("img")
		e.guest("D2")
		e.b.Action(ctx, "D2", api.PowerAction{Name: "start"})
		wantErr(t, e.b.Deploy(ctx, "D2", api.DeploySpec{Image: "img"}), 409, 4, "stop it first")
	})
	t.Run("unknown guest", func(t *testing.T) {
		e := newEnv(t, nil)
		e.image("img")
		wantErr(t, e.b.Deploy(ctx, "NOPE", api.DeploySpec{Image: "img"}), 404, 1, "does not exist")
	})
}

func TestPower(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name          string
		before        []string // actions first
		guestShutdown bool
		action        api.PowerAction
		overall       int
		wantState     string
		wantCalls     []string // must appear, in order, among the calls
	}{
		{"start", nil, false, api.PowerAction{Name: "start"}, 0, "on", []string{"DomainCreateWithFlags"}},
		{"start running", []string{"start"}, false, api.PowerAction{Name: "start"}, 0, "on", nil},
		{"stop", []string{"start"}, false, api.PowerAction{Name: "stop"}, 0, "off", []string{"DomainDestroy"}},
		{"stop stopped", nil, false, api.PowerAction{Name: "stop"}, 0, "off", nil},
		{"stop with timeout, guest obeys", []string{"start"}, true, api.PowerAction{Name: "stop", Timeout: 5}, 0, "off", []string{"DomainShutdown"}},
		{"softstop, guest obeys", []string{"start"}, true, api.PowerAction{Name: "softstop", Timeout: 5}, 0, "off", []string{"DomainShutdown", "DomainGetState"}},
		{"softstop, guest ignores", []string{"start"}, false, api.PowerAction{Name: "softstop", Timeout: 1, PollInterval: 0}, 0, "off", []string{"DomainShutdown", "DomainGetState", "DomainDestroy"}},
		{"softstop stopped", nil, false, api.PowerAction{Name: "softstop"}, 0, "off", nil},
		{"reboot", []string{"start"}, false, api.PowerAction{Name: "reboot"}, 0, "on", []string{"DomainReboot"}},
		{"reboot stopped", nil, false, api.PowerAction{Name: "reboot"}, 409, "off", nil},
		{"reset", []string{"start"}, false, api.PowerAction{Name: "reset"}, 0, "on", []string{"DomainReset"}},
		{"reset stopped", nil, false, api.PowerAction{Name: "reset"}, 409, "off", nil},
		{"pause", []string{"start"}, false, api.PowerAction{Name: "pause"}, 0, "on", []string{"DomainSuspend"}},
		{"unpause", []string{"start", "pause"}, false, api.PowerAction{Name: "unpause"}, 0, "on", []string{"DomainResume"}},
		{"start paused resumes", []string{"start", "pause"}, false, api.PowerAction{Name: "start"}, 0, "on", []string{"DomainResume"}},
		{"bogus", nil, false, api.PowerAction{Name: "explode"}, 100, "off", nil},
		{"negative timeout", nil, false, api.PowerAction{Name: "stop", Timeout: -1}, 100, "off", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			e.image("img")
			e.guest("P1")
			e.f.GuestShutdown = tc.guestShutdown
			for _, a := range tc.before {
				if err := e.b.Action(ctx, "P1", api.PowerAction{Name: a}); err != nil {
					t.Fatal(err)
				}
			}
			n := len(e.f.Calls())
			err := e.b.Action(ctx, "P1", tc.action)
			if tc.overall != 0 {
				wantErr(t, err, tc.overall, -1, "")
			} else if err != nil {
				t.Fatal(err)
			}
			ps, err := e.b.PowerState(ctx, "P1")
			if err != nil || ps != tc.wantState {
				t.Errorf("power state %q %v, want %q", ps, err, tc.wantState)
			}
			calls := e.f.Calls()[n:]
			i := 0
			for _, c := range calls {
				if i < len(tc.wantCalls) && c == tc.wantCalls[i] {
					i++
				}
			}
			if i != len(tc.wantCalls) {
				t.Errorf("calls %v, want %v in order", calls, tc.wantCalls)
			}
		})
	}
	t.Run("start without root disk", func(t *testing.T) {
		e := newEnv(t, nil)
		e.b.CreateGuest(ctx, api.GuestSpec{UserID: "P2", VCPUs: 1, Memory: 512})
		wantErr(t, e.b.Action(ctx, "P2", api.PowerAction{Name: "start"}), 409, 5, "deploy an image first")
	})
	t.Run("libvirt error keeps code and message", func(t *testing.T) {
		e := newEnv(t, nil)
		e.image("img")
		e.guest("P3")
		e.f.Fail("DomainCreateWithFlags", libvirt.Error{Code: uint32(libvirt.ErrInternalError), Message: "internal error: process exited while connecting to monitor"})
		err := e.b.Action(ctx, "P3", api.PowerAction{Name: "start"})
		wantErr(t, err, 300, int(libvirt.ErrInternalError), "process exited while connecting to monitor")
		var le libvirt.Error
		if !errors.As(err, &le) {
			t.Error("libvirt.Error not kept for errors.As")
		}
	})
	t.Run("unknown guest", func(t *testing.T) {
		e := newEnv(t, nil)
		wantErr(t, e.b.Action(ctx, "NOPE", api.PowerAction{Name: "start"}), 404, 1, "does not exist")
		_, err := e.b.PowerState(ctx, "NOPE")
		wantErr(t, err, 404, 1, "")
	})
}

func TestGuestInfoAndConsole(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	e.image("img")
	e.guest("C1")
	out, err := e.b.ConsoleOutput(ctx, "C1")
	if err != nil || out != "" {
		t.Fatalf("console before start: %q %v", out, err)
	}
	e.b.Action(ctx, "C1", api.PowerAction{Name: "start"})
	info, err := e.b.GuestInfo(ctx, "C1")
	if err != nil {
		t.Fatal(err)
	}
	if info.PowerState != "on" || info.NumCPU != 1 || info.MaxMemKB != 512*1024 || info.MemKB != 512*1024 || info.CPUTimeUS != 1_500_000 {
		t.Errorf("info %+v", info)
	}
	dir := filepath.Join(e.cfg.StorageDir, "guests", "C1")
	os.WriteFile(filepath.Join(dir, "console.log"), []byte("KASLR disabled\nzguest-activate: done\nCloud-init finished"), 0o600)
	os.WriteFile(filepath.Join(dir, "sclplm.log"), []byte("c1 login: "), 0o600)
	out, err = e.b.ConsoleOutput(ctx, "C1")
	if err != nil || out != "KASLR disabled\nzguest-activate: done\nCloud-init finished\nc1 login: " {
		t.Errorf("console %q %v", out, err)
	}
	// Only the tail is returned.
	e2 := newEnv(t, func(c *kvm.Config) { c.ConsoleMaxBytes = 8 })
	e2.image("img")
	e2.guest("C2")
	os.WriteFile(filepath.Join(e2.cfg.StorageDir, "guests", "C2", "console.log"), []byte("0123456789"), 0o600)
	if out, _ := e2.b.ConsoleOutput(ctx, "C2"); out != "6789" {
		t.Errorf("tail %q", out)
	}
	// Console logs in their own directory, named after the domain.
	e3 := newEnv(t, func(c *kvm.Config) { c.ConsoleLogDir = filepath.Join(filepath.Dir(c.StorageDir), "logs") })
	e3.image("img")
	e3.guest("C3")
	os.WriteFile(filepath.Join(e3.cfg.ConsoleLogDir, "zguest-C3.console.log"), []byte("hello\n"), 0o600)
	if out, _ := e3.b.ConsoleOutput(ctx, "C3"); out != "hello\n" {
		t.Errorf("console from console_log_dir: %q", out)
	}
	if err := e3.b.DeleteGuest(ctx, "C3"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(e3.cfg.ConsoleLogDir, "zguest-C3.console.log")); !os.IsNotExist(err) {
		t.Error("console log left after delete")
	}
}

func TestNICs(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		nets    []api.GuestNetwork
		overall int
		err     string
		vdevs   []string
	}{
		{"one", []api.GuestNetwork{{MACAddr: "0a:00:00:00:00:11", NICVdev: "1000"}}, 0, "", []string{"1000"}},
		{"busid form", []api.GuestNetwork{{MACAddr: "0a:00:00:00:00:11", NICVdev: "0.0.2000"}}, 0, "", []string{"2000"}},
		{"assigned", []api.GuestNetwork{{MACAddr: "02:00:00:00:00:01"}, {MACAddr: "02:00:00:00:00:02"}}, 0, "", []string{"1000", "1003"}},
		{"no mac", []api.GuestNetwork{{NICVdev: "1000"}}, 100, "mac_addr is required", nil},
		{"bad mac", []api.GuestNetwork{{MACAddr: "zz:00:00:00:00:01"}}, 100, "MAC address", nil},
		{"multicast mac", []api.GuestNetwork{{MACAddr: "01:00:5e:00:00:01"}}, 100, "multicast", nil},
		{"bad vdev", []api.GuestNetwork{{MACAddr: "02:00:00:00:00:01", NICVdev: "10000"}}, 100, "device number", nil},
		{"disk vdev", []api.GuestNetwork{{MACAddr: "02:00:00:00:00:01", NICVdev: "0100"}}, 100, "guest's disks", nil},
		{"duplicate vdev", []api.GuestNetwork{{MACAddr: "02:00:00:00:00:01", NICVdev: "1000"}, {MACAddr: "02:00:00:00:00:02", NICVdev: "1000"}}, 409, "already exists", nil},
		{"duplicate mac", []api.GuestNetwork{{MACAddr: "02:00:00:00:00:01"}, {MACAddr: "02:00:00:00:00:01"}}, 409, "already on another NIC", nil},
		{"empty", nil, 100, "empty", nil},
		{"static", []api.GuestNetwork{{MACAddr: "0a:00:00:00:00:11", NICVdev: "1000", IPAddr: "10.0.2.15", CIDR: "10.0.2.0/24", GatewayAddr: "10.0.2.2", DNSAddr: []string{"10.0.2.3"}, MTU: 1500}}, 0, "", []string{"1000"}},
		{"ip outside cidr", []api.GuestNetwork{{MACAddr: "02:00:00:00:00:01", IPAddr: "10.0.3.15", CIDR: "10.0.2.0/24"}}, 100, "cidr", nil},
		{"bad ip", []api.GuestNetwork{{MACAddr: "02:00:00:00:00:01", IPAddr: "10.0.2.999", CIDR: "10.0.2.0/24"}}, 100, "ip_addr", nil},
		{"gateway outside", []api.GuestNetwork{{MACAddr: "02:00:00:00:00:01", IPAddr: "10.0.2.15", CIDR: "10.0.2.0/24", GatewayAddr: "192.168.1.1"}}, 100, "gateway", nil},
		{"gateway without ip", []api.GuestNetwork{{MACAddr: "02:00:00:00:00:01", GatewayAddr: "10.0.2.2"}}, 100, "without ip_addr", nil},
		{"bad dns", []api.GuestNetwork{{MACAddr: "02:00:00:00:00:01", IPAddr: "10.0.2.15", CIDR: "10.0.2.0/24", DNSAddr: []string{"dns.example"}}}, 100, "DNS", nil},
		{"bad mtu", []api.GuestNetwork{{MACAddr: "02:00:00:00:00:01", IPAddr: "10.0.2.15", CIDR: "10.0.2.0/24", MTU: 100000}}, 100, "mtu", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			e.b.CreateGuest(ctx, api.GuestSpec{UserID: "N1", VCPUs: 1, Memory: 512})
			out, err := e.b.CreateNetworkInterface(ctx, "N1", api.InterfaceSpec{GuestNetworks: tc.nets})
			if tc.overall != 0 {
				wantErr(t, err, tc.overall, -1, tc.err)
				if len(e.meta("N1").NICs) != 0 {
					t.Error("NICs recorded after a refused call")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, n := range out {
				got = append(got, n.NICVdev)
			}
			if !slices.Equal(got, tc.vdevs) {
				t.Errorf("vdevs %v, want %v", got, tc.vdevs)
			}
			x, _ := e.f.XML("zguest-N1")
			for _, v := range tc.vdevs {
				if !strings.Contains(x, `devno="0x`+strings.ToLower(v)+`"`) {
					t.Errorf("no devno %s in\n%s", v, x)
				}
			}
		})
	}
	t.Run("nic lifecycle", func(t *testing.T) {
		e := newEnv(t, func(c *kvm.Config) { c.Network = kvm.NetworkConfig{Type: "bridge", Source: "br0"} })
		e.image("img")
		e.guest("N2")
		nic, err := e.b.CreateNIC(ctx, "N2", api.NICSpec{NICID: "port-2"})
		if err != nil {
			t.Fatal(err)
		}
		if nic.Vdev != "1003" || !strings.HasPrefix(nic.MACAddr, "02:") {
			t.Errorf("nic %+v", nic)
		}
		x, _ := e.f.XML("zguest-N2")
		if !strings.Contains(x, `<link state="down">`) {
			t.Error("uncoupled NIC has its link up")
		}
		if err := e.b.CoupleNIC(ctx, "N2", "1003", api.Couple{Couple: true, VSwitch: "br-data"}); err != nil {
			t.Fatal(err)
		}
		x, _ = e.f.XML("zguest-N2")
		if strings.Contains(x, `<link state="down">`) || !strings.Contains(x, `bridge="br-data"`) {
			t.Errorf("coupled:\n%s", x)
		}
		wantErr(t, e.b.CoupleNIC(ctx, "N2", "1003", api.Couple{Couple: true, VSwitch: "bad name"}), 100, 1, "vswitch")
		wantErr(t, e.b.CoupleNIC(ctx, "N2", "1009", api.Couple{Couple: true}), 404, 2, "no NIC")
		wantErr(t, e.b.CoupleNIC(ctx, "N2", "1003", api.Couple{Couple: true, VLANID: 5}), 501, 0, "vlan")
		// Live changes on a running guest.
		e.b.Action(ctx, "N2", api.PowerAction{Name: "start"})
		if err := e.b.CoupleNIC(ctx, "N2", "1003", api.Couple{Couple: false, Active: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.b.CreateNIC(ctx, "N2", api.NICSpec{Vdev: "2000", MACAddr: "02:00:00:00:20:00", Active: true}); err != nil {
			t.Fatal(err)
		}
		if err := e.b.DeleteNIC(ctx, "N2", "2000", true); err != nil {
			t.Fatal(err)
		}
		live := e.f.Live("zguest-N2")
		if len(live) != 3 || !strings.HasPrefix(live[0], "update") || !strings.HasPrefix(live[1], "attach <interface") || !strings.HasPrefix(live[2], "detach") {
			t.Errorf("live changes %q", live)
		}
		if err := e.b.DeleteNetworkInterface(ctx, "N2", "debian12", "1000", false); err != nil {
			t.Fatal(err)
		}
		if g := e.meta("N2"); len(g.NICs) != 1 || g.NICs[0].DevNo != "1003" {
			t.Errorf("NICs left %+v", g.NICs)
		}
		wantErr(t, e.b.DeleteNIC(ctx, "N2", "1000", false), 404, 2, "no NIC")
	})
}

// TestDriveFollowsNICs checks that a config drive the daemon built
// carries the NICs' static configuration, also for NICs added after
// deploy, and the requested hostname.
func TestDriveFollowsNICs(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	e.image("img")
	e.b.CreateGuest(ctx, api.GuestSpec{UserID: "S1", VCPUs: 1, Memory: 512})
	if err := e.b.Deploy(ctx, "S1", api.DeploySpec{Image: "img", Hostname: "web-1.example.com"}); err != nil {
		t.Fatal(err)
	}
	wantErr(t, e.b.Deploy(ctx, "S1", api.DeploySpec{Image: "img", Hostname: "bad_host"}), 100, 1, "hostname")
	_, err := e.b.CreateNetworkInterface(ctx, "S1", api.InterfaceSpec{GuestNetworks: []api.GuestNetwork{{MACAddr: "0a:00:00:00:00:11", NICVdev: "1000",
		IPAddr: "10.0.2.15", CIDR: "10.0.2.0/24", GatewayAddr: "10.0.2.2"}}})
	if err != nil {
		t.Fatal(err)
	}
	iso, err := os.ReadFile(e.meta("S1").Drive)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{`"ip_address":"10.0.2.15"`, `"netmask":"255.255.255.0"`, `"gateway":"10.0.2.2"`, `"ethernet_mac_address":"0a:00:00:00:00:11"`, `"hostname":"web-1.example.com"`} {
		if !strings.Contains(strings.ReplaceAll(string(iso), " ", ""), w) {
			t.Errorf("config drive lacks %s", w)
		}
	}
	if g := e.meta("S1"); g.Hostname != "web-1.example.com" || g.NICs[0].IP != "10.0.2.15/24" {
		t.Errorf("metadata %+v", g)
	}
}

func TestDeleteGuest(t *testing.T) {
	ctx := context.Background()
	for _, running := range []bool{false, true} {
		e := newEnv(t, nil)
		e.image("img")
		e.guest("X1")
		if running {
			e.b.Action(ctx, "X1", api.PowerAction{Name: "start"})
		}
		if err := e.b.DeleteGuest(ctx, "X1"); err != nil {
			t.Fatal(err)
		}
		if _, ok := e.f.XML("zguest-X1"); ok {
			t.Errorf("running %v: domain left", running)
		}
		if _, err := os.Stat(filepath.Join(e.cfg.StorageDir, "guests", "X1")); !os.IsNotExist(err) {
			t.Errorf("running %v: directory left: %v", running, err)
		}
		if err := e.b.DeleteGuest(ctx, "X1"); err != nil {
			t.Errorf("second delete: %v", err)
		}
	}
	e := newEnv(t, nil)
	e.image("img")
	e.guest("X2")
	e.f.Fail("DomainUndefineFlags", libvirt.Error{Code: uint32(libvirt.ErrOperationInvalid), Message: "Requested operation is not valid: cannot undefine"})
	wantErr(t, e.b.DeleteGuest(ctx, "X2"), 409, int(libvirt.ErrOperationInvalid), "cannot undefine")
	if _, err := os.Stat(filepath.Join(e.cfg.StorageDir, "guests", "X2")); err != nil {
		t.Error("storage removed although the domain stays")
	}
}

func TestImages(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	e.image("img")
	ims, err := e.b.QueryImages(ctx, "")
	if err != nil || len(ims) != 1 || ims[0].ImageName != "img" || ims[0].ImageSizeInBytes != "1048576" || ims[0].MD5Sum != "b6d81b360a5672d80c27430f39153e2c" {
		t.Fatalf("query %+v %v", ims, err)
	}
	if n, err := e.b.ImageRootDiskSize(ctx, "img"); err != nil || n != "2" {
		t.Errorf("root disk size %q %v", n, err)
	}
	p := filepath.Join(e.dir, "img.raw")
	wantErr(t, e.b.ImportImage(ctx, api.ImageImport{ImageName: "img", URL: "file://" + p}), 300, 13, "already exist in image database")
	wantErr(t, e.b.ImportImage(ctx, api.ImageImport{ImageName: "x", URL: "http://h/x"}), 300, 4, "file://")
	wantErr(t, e.b.ImportImage(ctx, api.ImageImport{ImageName: "x", URL: "file:///nonexistent"}), 300, 4, "no such file")
	wantErr(t, e.b.ImportImage(ctx, api.ImageImport{ImageName: "../x", URL: "file://" + p}), 100, 1, "image name")
	wantErr(t, e.b.ImportImage(ctx, api.ImageImport{ImageName: "y", URL: "file://" + p, ImageMeta: map[string]string{"md5sum": "00"}}), 300, 4, "md5")
	q := filepath.Join(e.dir, "bad.qcow2")
	os.WriteFile(q, append([]byte("QFI\xfb"), make([]byte, 1000)...), 0o644)
	wantErr(t, e.b.ImportImage(ctx, api.ImageImport{ImageName: "q", URL: "file://" + q}), 300, 4, "")
	if ims, _ := e.b.QueryImages(ctx, ""); len(ims) != 1 {
		t.Errorf("failed imports left images: %+v", ims)
	}
	_, err = e.b.QueryImages(ctx, "nope")
	wantErr(t, err, 404, 1, "Image with name: nope does not exist.")
	// An image under an overlay cannot go.
	e.guest("I1")
	wantErr(t, e.b.DeleteImage(ctx, "img"), 409, 5, "I1")
	if err := e.b.DeleteGuest(ctx, "I1"); err != nil {
		t.Fatal(err)
	}
	if err := e.b.DeleteImage(ctx, "img"); err != nil {
		t.Fatal(err)
	}
	if err := e.b.DeleteImage(ctx, "img"); err != nil {
		t.Errorf("second delete: %v", err)
	}
}

func TestHostInfoListAndRestart(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	e.image("img")
	e.guest("A1")
	e.guest("A2")
	// A foreign domain and a domain with the prefix but no metadata.
	e.f.DomainDefineXMLFlags(`<domain type="qemu"><name>other-vm</name><memory unit="MiB">512</memory><vcpu>1</vcpu></domain>`, 0)
	e.f.DomainDefineXMLFlags(`<domain type="qemu"><name>zguest-HAND</name><memory unit="MiB">512</memory><vcpu>1</vcpu></domain>`, 0)
	ids, err := e.b.ListGuests(ctx)
	if err != nil || !slices.Equal(ids, []string{"A1", "A2", "HAND"}) {
		t.Errorf("list %v %v", ids, err)
	}
	_, err = e.b.PowerState(ctx, "HAND")
	wantErr(t, err, 409, 3, "not made by zguest-hostd")
	hi, err := e.b.HostInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if hi.HypervisorType != "QEMU" || hi.VCPUs != 2 || hi.VCPUsUsed != 2 || hi.MemoryMB != 8192 || hi.MemoryMBUsed != 1024 || hi.CPUInfo.Architecture != "s390x" || hi.HypervisorHostname != "kvmhost" {
		t.Errorf("host info %+v", hi)
	}
	// A leftover directory of an interrupted create is removed at start;
	// the guests are adopted from libvirt.
	stale := filepath.Join(e.cfg.StorageDir, "guests", "STALE")
	os.MkdirAll(stale, 0o755)
	b2, err := kvm.New(ctx, e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Error("stale directory kept")
	}
	if ps, err := b2.PowerState(ctx, "A1"); err != nil || ps != "off" {
		t.Errorf("adopted guest: %q %v", ps, err)
	}
	if _, err := os.Stat(filepath.Join(e.cfg.StorageDir, "guests", "A1", "root.qcow2")); err != nil {
		t.Errorf("adopted guest's disk removed: %v", err)
	}
	// A lost connection is dialled again.
	e.f.Drop()
	if _, err := b2.ListGuests(ctx); err != nil {
		t.Errorf("after reconnect: %v", err)
	}
	// libvirtd gone: 503 with what to check.
	dialErr := errors.New("dial unix /run/libvirt/libvirt-sock: connect: no such file or directory")
	f2 := kvmtest.New()
	down := false
	cfg := e.cfg
	cfg.StorageDir = filepath.Join(e.dir, "other")
	cfg.Dial = func() (kvm.Conn, error) {
		if down {
			return nil, dialErr
		}
		return f2.Reconnect()
	}
	b3, err := kvm.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	f2.Drop()
	down = true
	_, err = b3.ListGuests(ctx)
	wantErr(t, err, 503, 0, "check that libvirtd is running")
	if !errors.Is(err, dialErr) {
		t.Errorf("cause lost: %v", err)
	}
}

func TestConfigMinidisks(t *testing.T) {
	e := newEnv(t, nil)
	e.b.CreateGuest(context.Background(), api.GuestSpec{UserID: "M1", VCPUs: 1, Memory: 512})
	if err := e.b.ConfigMinidisks(context.Background(), "M1", []api.Disk{{Size: "1g"}}); err != nil {
		t.Error(err)
	}
	wantErr(t, e.b.ConfigMinidisks(context.Background(), "M9", nil), 404, 1, "")
}
