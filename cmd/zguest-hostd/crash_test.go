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
	"testing"
	"time"

	"github.com/zguest/zguest/hostside/api/apitest"
	"github.com/zguest/zguest/hostside/zvmsim"
	"github.com/zguest/zguest/internal/zvm/spool"
)

// TestBinaryKilledMidDeploy runs the built daemon on the zvm backend
// against an in-process simulator, kills it (SIGKILL) while a deploy has
// a file punched into the connector's reader and not yet transferred,
// restarts it, and checks that recovery left no directory entry without
// a record or the reverse, no file in the connector's reader, and that
// the guest deploys again.
func TestBinaryKilledMidDeploy(t *testing.T) {
	bin := build(t)
	dir := t.TempDir()
	sim, err := zvmsim.New(zvmsim.Options{DiskDir: filepath.Join(dir, "disks"), UserID: "ADMIN", Password: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	listen := func() net.Listener {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	smapiSrv := sim.Serve(listen())
	defer smapiSrv.Close()
	cpSrv := sim.ServeCP(listen())
	defer cpSrv.Close()
	pw := filepath.Join(dir, "smapi.pw")
	os.WriteFile(pw, []byte("s3cret\n"), 0o600)
	img := filepath.Join(dir, "img.raw")
	os.WriteFile(img, make([]byte, 4<<20), 0o644)
	iso := filepath.Join(dir, "cfgdrive.iso")
	os.WriteFile(iso, []byte("config drive"), 0o644)
	port := freePort(t)
	cfg := filepath.Join(dir, "hostd.json")
	os.WriteFile(cfg, fmt.Appendf(nil, `{"listen":"127.0.0.1:%d","backend":"zvm","state_dir":%q,"source_dirs":[%q],"backend_options":{
		"smapi":{"address":%q,"userid":"ADMIN","password_file":%q},
		"cp":{"mode":"simulation","address":%q},
		"image_repository":%q,"disk_pool":"ECKD:POOL1"}}`,
		port, filepath.Join(dir, "state"), dir, smapiSrv.Addr(), pw, cpSrv.Addr(), filepath.Join(dir, "images")), 0o600)
	cl := &apitest.Client{Base: fmt.Sprintf("http://127.0.0.1:%d", port)}
	ctx := context.Background()
	var stderr bytes.Buffer
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "--config", cfg)
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for range 200 {
			if _, err = cl.Version(ctx); err == nil {
				return cmd
			}
			time.Sleep(25 * time.Millisecond)
		}
		cmd.Process.Kill()
		t.Fatalf("daemon never answered: %v\n%s", err, stderr.String())
		return nil
	}
	ok := func(what string, r *apitest.Reply, err error) {
		t.Helper()
		if err != nil || r.Status != 200 || r.OverallRC != 0 {
			t.Fatalf("%s: %v %s\n%s", what, err, r.Raw, stderr.String())
		}
	}
	cmd := start()
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	r, err := cl.ImageImport(ctx, "img1", "file://"+img, map[string]any{"os_version": "rhel9"}, "")
	ok("import", r, err)
	r, err = cl.GuestCreate(ctx, "LINUX01", 1, 1024, []map[string]any{{"size": "100m", "is_boot_disk": true}})
	ok("create", r, err)

	// Slow CP down so that the punched config drive waits in the
	// connector's reader; kill the daemon when it is there.
	sim.SetCPLatency(300 * time.Millisecond)
	go cl.GuestDeploy(ctx, "LINUX01", "img1", iso, "")
	host := sim.HostID()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if fs, _ := sim.Spool().Files(host, spool.QueueRDR); len(fs) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no file ever reached the connector's reader\n%s", stderr.String())
		}
		time.Sleep(2 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if fs, _ := sim.Spool().Files(host, spool.QueueRDR); len(fs) != 1 {
		t.Fatalf("connector's reader holds %d files at the kill", len(fs))
	}
	sim.SetCPLatency(0)

	cmd = start()
	if fs, _ := sim.Spool().Files(host, spool.QueueRDR); len(fs) != 0 {
		t.Errorf("connector's reader still holds %d files after the restart", len(fs))
	}
	r, err = cl.GuestList(ctx)
	ok("list", r, err)
	if string(r.Output) != `["LINUX01"]` {
		t.Errorf("guests over HTTP %s", r.Output)
	}
	if users := sim.Users(); len(users) != 1 || users[0] != "LINUX01" {
		t.Errorf("directory entries %v", users)
	}
	if !strings.Contains(stderr.String(), "recovery: purged a punched, not transferred file") {
		t.Errorf("recovery not logged:\n%s", stderr.String())
	}
	r, err = cl.GuestDeploy(ctx, "LINUX01", "img1", iso, "")
	ok("deploy again", r, err)
	fs, _ := sim.Spool().Files("LINUX01", spool.QueueRDR)
	var names []string
	for _, f := range fs {
		names = append(names, f.Name+"."+f.Type)
	}
	if len(names) == 0 || names[len(names)-1] != "cfgdrive.iso" {
		t.Errorf("guest's reader after the second deploy: %v", names)
	}
	if fs, _ := sim.Spool().Files(host, spool.QueueRDR); len(fs) != 0 {
		t.Errorf("connector's reader holds %d files after the second deploy", len(fs))
	}
}
