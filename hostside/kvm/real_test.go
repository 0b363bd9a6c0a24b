package kvm_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/kvm"
	"github.com/zguest/zguest/internal/libvirttest"
)

// TestRealLibvirt drives the backend against a real libvirtd and
// qemu-system-s390x with a blank disk: the domain is defined, started
// (the firmware finds nothing to boot and stops), stopped gracefully
// (the guest cannot answer, so it is destroyed after the timeout),
// adopted by a second backend as after a daemon restart, and deleted
// without leftovers. It checks that libvirt accepts the generated XML,
// including the metadata, consoles and devices.
func TestRealLibvirt(t *testing.T) {
	sock := libvirttest.Start(t)
	ctx := context.Background()
	dir := t.TempDir()
	cfg := kvm.Config{
		Dial:         kvm.Dial(sock, "", 10*time.Second),
		StorageDir:   filepath.Join(dir, "storage"),
		DomainPrefix: "zguest-realtest-",
		Network:      kvm.NetworkConfig{Type: "user"},
		Poll:         100 * time.Millisecond,
		OnCrash:      "preserve", // the blank disk ends in a disabled wait

		Log: slog.New(slog.NewTextHandler(testWriter{t}, nil)),
	}
	b, err := kvm.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	raw := filepath.Join(dir, "blank.raw")
	if err := os.WriteFile(raw, make([]byte, 4<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	must("import", b.ImportImage(ctx, api.ImageImport{ImageName: "blank", URL: "file://" + raw, ImageMeta: map[string]string{"os_version": "none"}}))
	t.Cleanup(func() { b.DeleteGuest(ctx, "REAL1") })
	_, err = b.CreateGuest(ctx, api.GuestSpec{UserID: "REAL1", VCPUs: 1, Memory: 256,
		DiskList: []api.Disk{{Size: "64m", IsBootDisk: true}, {Size: "8m"}}})
	must("create", err)
	_, err = b.CreateNetworkInterface(ctx, "REAL1", api.InterfaceSpec{OSVersion: "debian12",
		GuestNetworks: []api.GuestNetwork{{MACAddr: "0a:00:00:00:00:21", NICVdev: "1000"}}})
	must("interface", err)
	_, err = b.CreateNIC(ctx, "REAL1", api.NICSpec{Vdev: "1003"})
	must("nic", err)
	must("couple", b.CoupleNIC(ctx, "REAL1", "1003", api.Couple{Couple: true}))
	must("deploy", b.Deploy(ctx, "REAL1", api.DeploySpec{Image: "blank", Hostname: "real1"}))
	must("start", b.Action(ctx, "REAL1", api.PowerAction{Name: "start"}))
	if _, err := b.PowerState(ctx, "REAL1"); err != nil {
		t.Fatalf("power state after start: %v", err)
	}
	info, err := b.GuestInfo(ctx, "REAL1")
	must("info", err)
	if info.NumCPU != 1 || info.MaxMemKB != 256*1024 {
		t.Errorf("info: %+v", info)
	}
	deadline := time.Now().Add(30 * time.Second)
	var out string
	for time.Now().Before(deadline) {
		out, err = b.ConsoleOutput(ctx, "REAL1")
		must("console", err)
		if out != "" {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("console output:\n%s", out)
	// A second backend adopts the guest from libvirt alone.
	b2, err := kvm.New(ctx, cfg)
	must("restart", err)
	ids, err := b2.ListGuests(ctx)
	must("list", err)
	if len(ids) != 1 || ids[0] != "REAL1" {
		t.Errorf("adopted %v", ids)
	}
	b2.Close()
	start := time.Now()
	must("softstop", b.Action(ctx, "REAL1", api.PowerAction{Name: "softstop", Timeout: 2}))
	t.Logf("softstop took %v", time.Since(start))
	if ps, _ := b.PowerState(ctx, "REAL1"); ps != "off" {
		t.Errorf("power after softstop %q", ps)
	}
	must("start again", b.Action(ctx, "REAL1", api.PowerAction{Name: "start"}))
	must("stop", b.Action(ctx, "REAL1", api.PowerAction{Name: "stop"}))
	err = b.Action(ctx, "REAL1", api.PowerAction{Name: "reboot"})
	if e := api.AsError(err); err == nil || e.OverallRC != 409 {
		t.Errorf("reboot of a stopped guest: %v", err)
	}
	must("start for delete", b.Action(ctx, "REAL1", api.PowerAction{Name: "start"}))
	must("delete", b.DeleteGuest(ctx, "REAL1"))
	l := libvirt.NewWithDialer(dialersLocal(sock))
	must("connect", l.ConnectToURI(libvirt.QEMUSystem))
	defer l.Disconnect()
	if _, err := l.DomainLookupByName("zguest-realtest-REAL1"); !libvirt.IsNotFound(err) {
		t.Errorf("domain still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(cfg.StorageDir, "guests", "REAL1")); !os.IsNotExist(err) {
		t.Errorf("guest directory left: %v", err)
	}
	must("delete image", b.DeleteImage(ctx, "blank"))

	// libvirt accepts every golden domain (KVM ones rewritten for TCG:
	// this host has no KVM for s390x).
	goldens, _ := filepath.Glob("testdata/*.xml")
	for _, p := range goldens {
		raw, err := os.ReadFile(p)
		must("golden", err)
		x := strings.Replace(string(raw), `<domain type="kvm">`, `<domain type="qemu">`, 1)
		x = strings.Replace(x, `<cpu mode="host-model"></cpu>`, "", 1)
		d, err := l.DomainDefineXMLFlags(x, libvirt.DomainDefineValidate)
		if err != nil {
			t.Errorf("libvirt refuses %s: %v", p, err)
			continue
		}
		if err := l.DomainUndefineFlags(d, 0); err != nil {
			t.Errorf("undefine %s: %v", d.Name, err)
		}
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
