package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zguest/zguest/hostside/api/apitest"
	"github.com/zguest/zguest/internal/testutil"
)

func build(t *testing.T) string {
	t.Helper()
	return testutil.GoBuild(t, filepath.Join(t.TempDir(), "zguest-sim"), ".", "", "CGO_ENABLED=0")
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestFakeDaemon runs `zguest-sim hostd` with the fake backend, drives nova's
// spawn sequence over HTTP, and stops it with SIGTERM.
func TestFakeDaemon(t *testing.T) {
	bin := build(t)
	dir := t.TempDir()
	port := freePort(t)
	cfg := filepath.Join(dir, "hostd.json")
	os.WriteFile(cfg, fmt.Appendf(nil, `{"listen":"127.0.0.1:%d","backend":"fake","state_dir":%q,"source_dirs":[%q]}`, port, dir, dir), 0o600)
	img, iso := filepath.Join(dir, "img"), filepath.Join(dir, "cfgdrive.iso")
	os.WriteFile(img, []byte("image"), 0o600)
	os.WriteFile(iso, []byte("config drive"), 0o600)
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "hostd", "--config", cfg)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	cl := &apitest.Client{Base: fmt.Sprintf("http://127.0.0.1:%d", port)}
	ctx := context.Background()
	var err error
	for range 100 {
		if _, err = cl.Version(ctx); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("daemon never answered: %v\n%s", err, stderr.String())
	}
	steps := []func() (*apitest.Reply, error){
		func() (*apitest.Reply, error) {
			return cl.ImageImport(ctx, "img", "file://"+img, map[string]any{"os_version": "rhel9.2"}, "")
		},
		func() (*apitest.Reply, error) {
			return cl.GuestCreate(ctx, "vm1", 2, 2048, []map[string]any{{"size": "10g", "is_boot_disk": true}})
		},
		func() (*apitest.Reply, error) {
			return cl.GuestDeploy(ctx, "vm1", "img", iso, "nova@10.0.0.2")
		},
		func() (*apitest.Reply, error) {
			return cl.GuestCreateNetworkInterface(ctx, "vm1", "rhel9.2", []map[string]any{{"ip_addr": "10.0.0.9", "cidr": "10.0.0.0/24", "mac_addr": "02:00:00:00:00:09"}})
		},
		func() (*apitest.Reply, error) { return cl.GuestAction(ctx, "vm1", "start", nil) },
		func() (*apitest.Reply, error) { return cl.GuestGetPowerState(ctx, "vm1") },
	}
	for i, s := range steps {
		r, err := s()
		if err != nil || r.Status != 200 || r.OverallRC != 0 {
			t.Fatalf("step %d: %v %s", i, err, r.Raw)
		}
	}
	if r, _ := cl.GuestGetPowerState(ctx, "vm1"); string(r.Output) != `"on"` {
		t.Errorf("power state %s", r.Output)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v\n%s", err, stderr.String())
	}
	for _, want := range []string{"msg=serving", "path=/guests/vm1/action", "msg=stopped"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, stderr.String())
		}
	}
	if strings.Contains(stderr.String(), "cfgdrive") {
		t.Errorf("log holds a request body:\n%s", stderr.String())
	}
}

// TestUsage: unknown simulators exit 2 naming the choices.
func TestUsage(t *testing.T) {
	bin := build(t)
	out, err := exec.Command(bin, "nosuch").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "usage: zguest-sim zvm|dpm|hostd") {
		t.Errorf("nosuch: %v %s", err, out)
	}
}
