package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/zguest/zguest/hostside/api/apitest"
	"github.com/zguest/zguest/internal/testutil"
)

// TestBinaryZVMHostAndSnapshot runs `zguest-sim zvm` and the
// daemon as separate processes, as a user would (no root option: the
// simulated CP gives its guest's sysinfo), and drives nova's resource
// audit (GET /host) and snapshot (capture, then export to a file://
// destination) over HTTP.
func TestBinaryZVMHostAndSnapshot(t *testing.T) {
	bin := build(t)
	dir := t.TempDir()
	smapiAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	var simLog bytes.Buffer
	simBin := testutil.GoBuild(t, filepath.Join(t.TempDir(), "zguest-sim"), "../zguest-sim", "", "CGO_ENABLED=0")
	sim := exec.Command(simBin, "zvm", "--listen", smapiAddr, "--cp-listen", cpAddr, "--disks", filepath.Join(dir, "disks"))
	sim.Stderr = &simLog
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sim.Process.Kill(); sim.Wait() }()
	port := freePort(t)
	cfg := filepath.Join(dir, "hostd.json")
	os.WriteFile(cfg, fmt.Appendf(nil, `{"listen":"127.0.0.1:%d","backend":"zvm","state_dir":%q,"source_dirs":[%q],"backend_options":{
		"smapi":{"address":%q},"cp":{"mode":"simulation","address":%q},
		"image_repository":%q,"disk_pool":"ECKD:POOL1","host":{"hypervisor_hostname":"zvm-node-1"}}}`,
		port, filepath.Join(dir, "state"), dir, smapiAddr, cpAddr, filepath.Join(dir, "images")), 0o600)
	var stderr bytes.Buffer
	d := exec.Command(bin, "--config", cfg)
	d.Stderr = &stderr
	cl := &apitest.Client{Base: fmt.Sprintf("http://127.0.0.1:%d", port)}
	ctx := context.Background()
	// The simulator may still be starting: the daemon's recovery needs it.
	var err error
	for range 200 {
		var c net.Conn
		if c, err = net.Dial("tcp", cpAddr); err == nil {
			c.Close()
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("the simulator does not listen: %v\n%s", err, simLog.String())
	}
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { d.Process.Kill(); d.Wait() }()
	for range 200 {
		if _, err = cl.Version(ctx); err == nil {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("daemon never answered: %v\n%s\n%s", err, stderr.String(), simLog.String())
	}
	ok := func(what string, r *apitest.Reply, err error) {
		t.Helper()
		if err != nil || r.Status != 200 || r.OverallRC != 0 {
			t.Fatalf("%s: %v %s\n%s", what, err, r.Raw, stderr.String())
		}
	}
	r, err := cl.HostGetInfo(ctx)
	ok("host", r, err)
	var h map[string]any
	json.Unmarshal(r.Output, &h)
	if h["hypervisor_hostname"] != "zvm-node-1" || h["zvm_host"] != "ZVMSIM1" || h["vcpus"].(float64) < 1 || h["memory_mb"].(float64) < 1 ||
		h["disk_total"].(float64) < 1 || h["hypervisor_version"].(float64) != 730 ||
		!regexp.MustCompile(`^IPL at \d\d/\d\d/\d\d \d\d:\d\d:\d\d \S+$`).MatchString(h["ipl_time"].(string)) {
		t.Errorf("GET /host: %s", r.Output)
	}

	img := filepath.Join(dir, "img.raw")
	os.WriteFile(img, bytes.Repeat([]byte("root"), 1<<18), 0o644)
	r, err = cl.ImageImport(ctx, "base", "file://"+img, map[string]any{"os_version": "rhel9.2"}, "")
	ok("import", r, err)
	r, err = cl.GuestCreate(ctx, "snap1", 1, 1024, []map[string]any{{"size": "5m", "is_boot_disk": true}})
	ok("create", r, err)
	r, err = cl.GuestDeploy(ctx, "snap1", "base", "", "")
	ok("deploy", r, err)
	r, err = cl.GuestAction(ctx, "snap1", "capture", map[string]any{"image": "snap-image"})
	ok("capture", r, err)
	r, err = cl.ImageQuery(ctx, "snap-image")
	ok("query the capture", r, err)
	dest := filepath.Join(dir, "exported")
	r, err = cl.ImageExport(ctx, "snap-image", "file://"+dest)
	ok("export", r, err)
	var ex map[string]any
	json.Unmarshal(r.Output, &ex)
	if ex["os_version"] != "rhel9.2" || ex["image_path"] != "file://"+dest {
		t.Errorf("export answer: %s", r.Output)
	}
	b, err := os.ReadFile(dest)
	if err != nil || !bytes.HasPrefix(b, []byte("xCAT CKD Disk Image:")) || b[54] != '6' {
		t.Errorf("exported file: %v %q", err, b[:min(len(b), 60)])
	}
	r, err = cl.ImageDelete(ctx, "snap-image")
	ok("delete the capture", r, err)
}
