package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zguest/zguest/hostside/api/apitest"
	"github.com/zguest/zguest/internal/libvirttest"
	"github.com/zguest/zguest/internal/tools/hostdproc"
)

// TestBinaryKVM runs the built daemon on the kvm backend against a real
// libvirtd with a blank disk image: every call nova makes goes through
// REST to libvirt and qemu-system-s390x; the firmware finds nothing to
// boot, prints why on the console and stops (kept with on_crash
// preserve), which is enough to check the wiring without a guest OS
// (TestKVMEndToEnd boots a real image).
func TestBinaryKVM(t *testing.T) {
	sock := libvirttest.Start(t)
	bin := build(t)
	ctx := context.Background()
	dir := t.TempDir()
	blank := filepath.Join(dir, "blank.raw")
	if err := os.WriteFile(blank, make([]byte, 4<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := hostdproc.Start(ctx, hostdproc.Options{Binary: bin, Dir: dir, Backend: "kvm",
		BackendOptions: map[string]any{"socket": sock, "storage_dir": filepath.Join(dir, "storage"),
			"domain_prefix": "zguest-bb-", "network": map[string]any{"type": "user"}, "on_crash": "preserve"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.Client.GuestDelete(ctx, "BB1") // after a failure: leave no domain
		d.Stop()
	})
	cl := d.Client
	ok := func(what string, r *apitest.Reply, err error) *apitest.Reply {
		t.Helper()
		if err != nil || r.Status != 200 || r.OverallRC != 0 {
			msg := ""
			if r != nil {
				msg = r.Err()
			}
			t.Fatalf("%s: %v %s%s", what, err, msg, d.LogTail())
		}
		return r
	}
	r, err := cl.ImageImport(ctx, "blank", "file://"+blank, map[string]any{"os_version": "ubuntu22.04"}, "")
	ok("import", r, err)
	r, err = cl.GuestCreate(ctx, "BB1", 1, 256, []map[string]any{{"size": "64m", "is_boot_disk": true}})
	ok("create", r, err)
	r, err = cl.GuestCreateNetworkInterface(ctx, "BB1", "ubuntu22.04", []map[string]any{{"mac_addr": "0a:00:00:00:00:31", "nic_vdev": "1000"}})
	ok("interface", r, err)
	r, err = cl.GuestDeploy(ctx, "BB1", "blank", "", "")
	ok("deploy", r, err)
	r, err = cl.GuestAction(ctx, "BB1", "start", nil)
	ok("start", r, err)
	var out string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		r, err = cl.GuestAction(ctx, "BB1", "get_console_output", nil)
		ok("console", r, err)
		r.Out(&out)
		if strings.Contains(out, "Failed to load OS") {
			break
		}
	}
	if !strings.Contains(out, "LOADPARM") {
		t.Errorf("console output lacks the firmware's lines:\n%s", out)
	}
	r, err = cl.GuestGetInfo(ctx, "BB1")
	ok("info", r, err)
	r, err = cl.GuestAction(ctx, "BB1", "stop", nil)
	ok("stop", r, err)
	r, err = cl.GuestGetPowerState(ctx, "BB1")
	if ok("power", r, err); string(r.Output) != `"off"` {
		t.Errorf("power after stop %s", r.Output)
	}
	// libvirt's refusal keeps its number (rs) and message.
	r, err = cl.GuestAction(ctx, "BB1", "reboot", nil)
	if err != nil || r.OverallRC != 409 {
		t.Errorf("reboot of a stopped guest: %v %s", err, r.Err())
	}
	r, err = cl.GuestDelete(ctx, "BB1")
	ok("delete", r, err)
	r, err = cl.GuestList(ctx)
	if ok("list", r, err); strings.Contains(string(r.Output), "BB1") {
		t.Errorf("guest listed after delete: %s", r.Output)
	}
	r, err = cl.ImageDelete(ctx, "blank")
	ok("image delete", r, err)
}
