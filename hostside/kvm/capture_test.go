package kvm_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/kvm"
	"github.com/zguest/zguest/internal/testutil"
)

// Capture with the real qemu-img (libvirt faked): the root overlay is
// flattened into a qcow2 image whose content is the deployed image's plus
// what the guest wrote, recorded in the store, exported to a file and
// deleted.
func TestCaptureExportRealQemuImg(t *testing.T) {
	testutil.RequireTool(t, "qemu-img")
	e := newEnv(t, func(c *kvm.Config) { c.Run = nil; c.QemuImg = "qemu-img"; c.StopTimeout = 50 * time.Millisecond })
	ctx := context.Background()
	raw := filepath.Join(e.dir, "base.raw")
	content := bytes.Repeat([]byte("kvm root disk "), 100000)
	os.WriteFile(raw, content, 0o644)
	if err := e.b.ImportImage(ctx, api.ImageImport{ImageName: "img", URL: "file://" + raw, ImageMeta: map[string]string{"os_version": "debian12"}}); err != nil {
		t.Fatal(err)
	}
	e.guest("CAP1")
	if err := e.b.Action(ctx, "CAP1", api.PowerAction{Name: "start"}); err != nil {
		t.Fatal(err)
	}
	for _, level := range []int{6, 0} {
		name := "snap" + string(rune('0'+level))
		if err := e.b.Capture(ctx, "CAP1", api.CaptureSpec{Image: name, CaptureType: "rootonly", CompressLevel: level}); err != nil {
			t.Fatalf("capture level %d: %v", level, err)
		}
		if st, err := e.b.PowerState(ctx, "CAP1"); err != nil || st != "on" {
			t.Errorf("after capture: %q %v", st, err)
		}
		ims, err := e.b.QueryImages(ctx, name)
		if err != nil || len(ims) != 1 || ims[0].ImageOSDistro != "debian12" || ims[0].Comments != "qcow2" {
			t.Fatalf("%+v %v", ims, err)
		}
		// The capture holds the image's bytes (the overlay is flattened).
		if out, err := exec.Command("qemu-img", "compare", "-f", "raw", "-F", "qcow2", raw, ims[0].ImagePath).CombinedOutput(); err != nil {
			t.Errorf("level %d: capture differs from the deployed image: %v: %s", level, err, out)
		}
		if out, _ := exec.Command("qemu-img", "info", ims[0].ImagePath).CombinedOutput(); bytes.Contains(out, []byte("backing file")) {
			t.Errorf("level %d: the capture has a backing file:\n%s", level, out)
		}
		dest := filepath.Join(e.dir, name+".qcow2")
		res, err := e.b.ExportImage(ctx, name, api.ExportSpec{DestURL: "file://" + dest})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(dest)
		want, _ := os.ReadFile(ims[0].ImagePath)
		if !bytes.Equal(got, want) || res["os_version"] != "debian12" || res["md5sum"] != ims[0].MD5Sum {
			t.Errorf("export: %v", res)
		}
		// A capture is an image like any other: it deploys and deletes.
		if err := e.b.DeleteImage(ctx, name); err != nil {
			t.Fatal(err)
		}
		if _, err := e.b.QueryImages(ctx, name); err == nil {
			t.Errorf("%s still listed after delete", name)
		}
	}
}

func TestCaptureRefusalsKVM(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	e.image("img")
	e.guest("CAP2")
	if err := e.b.Capture(ctx, "CAP2", api.CaptureSpec{Image: "x", CaptureType: "alldisks", CompressLevel: 6}); api.AsError(err).OverallRC != 501 {
		t.Errorf("alldisks: %v", err)
	}
	if err := e.b.Capture(ctx, "CAP2", api.CaptureSpec{Image: "img", CaptureType: "rootonly", CompressLevel: 6}); api.AsError(err) == nil || api.AsError(err).RS != 13 {
		t.Errorf("existing image: %v", err)
	}
	if err := e.b.Capture(ctx, "NOPE", api.CaptureSpec{Image: "x", CaptureType: "rootonly", CompressLevel: 6}); api.AsError(err).OverallRC != 404 {
		t.Errorf("unknown guest: %v", err)
	}
	if _, err := e.b.CreateGuest(ctx, api.GuestSpec{UserID: "BARE", VCPUs: 1, Memory: 256}); err != nil {
		t.Fatal(err)
	}
	if err := e.b.Capture(ctx, "BARE", api.CaptureSpec{Image: "x", CaptureType: "rootonly", CompressLevel: 6}); err == nil {
		t.Error("capture of a guest without a root disk succeeded")
	}
	if _, err := e.b.ExportImage(ctx, "img", api.ExportSpec{DestURL: "http://h/x"}); api.AsError(err).RS != 2 {
		t.Errorf("http dest: %v", err)
	}
	if _, err := e.b.ExportImage(ctx, "img", api.ExportSpec{DestURL: "file:///tmp/x", RemoteHost: "-oProxyCommand=x"}); api.AsError(err).RS != 21 {
		t.Errorf("option-like remote_host: %v", err)
	}
	// remote_host: scp with the connector's options.
	if _, err := e.b.ExportImage(ctx, "img", api.ExportSpec{DestURL: "file:///var/tmp/img", RemoteHost: "nova@192.0.2.7"}); err != nil {
		t.Fatal(err)
	}
	if got := e.r.last(); got != "/usr/bin/scp -B -P 22 -o StrictHostKeyChecking=no -- "+filepath.Join(e.cfg.StorageDir, "images", "img", "disk.raw")+" nova@192.0.2.7:/var/tmp/img" {
		t.Errorf("scp argv: %s", got)
	}
}

// TestImportFromRemoteHost: with remote_host the image is copied with
// scp from nova's host (the connector's image_import), never read
// locally; a malformed remote_host is refused before anything runs.
func TestImportFromRemoteHost(t *testing.T) {
	e := newEnv(t, func(c *kvm.Config) { c.SSHPort = 2222 })
	ctx := context.Background()
	p := filepath.Join(e.dir, "remote.raw")
	os.WriteFile(p, make([]byte, 1<<20), 0o644)
	if err := e.b.ImportImage(ctx, api.ImageImport{ImageName: "rimg", URL: "file://" + p, RemoteHost: "nova@192.0.2.7"}); err != nil {
		t.Fatal(err)
	}
	got := e.r.last()
	want := "/usr/bin/scp -B -P 2222 -o StrictHostKeyChecking=no -- nova@192.0.2.7:" + p + " "
	if !strings.HasPrefix(got, want) {
		t.Errorf("scp argv %q, want prefix %q", got, want)
	}
	if out, err := e.b.ImageRootDiskSize(ctx, "rimg"); err != nil || out == "" {
		t.Errorf("root disk size of the copied image: %q %v", out, err)
	}
	n := len(e.r.argv)
	err := e.b.ImportImage(ctx, api.ImageImport{ImageName: "bad", URL: "file://" + p, RemoteHost: "-oProxyCommand=x"})
	if a := api.AsError(err); a == nil || a.RS != 11 || len(e.r.argv) != n {
		t.Errorf("option-like remote_host: %v, %d commands run", err, len(e.r.argv)-n)
	}
	e.r.fail = errors.New("ssh: connect to host 192.0.2.7 port 2222: Connection refused")
	err = e.b.ImportImage(ctx, api.ImageImport{ImageName: "down", URL: "file://" + p, RemoteHost: "nova@192.0.2.7"})
	if a := api.AsError(err); a == nil || a.RS != 10 {
		t.Errorf("unreachable remote_host: %v", err)
	}
	if _, err := e.b.ImageRootDiskSize(ctx, "down"); err == nil {
		t.Error("a failed import left an image")
	}
}
