package kvm_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/kvm"
	"github.com/zguest/zguest/internal/libvirttest"
)

// TestRealLibvirtCapture captures a guest defined in a real libvirtd
// with the real qemu-img: the root overlay is flattened into a qcow2 in
// the image store, deployable as any image, and exported.
func TestRealLibvirtCapture(t *testing.T) {
	sock := libvirttest.Start(t)
	ctx := context.Background()
	dir := t.TempDir()
	cfg := kvm.Config{
		Dial:         kvm.Dial(sock, "", 10*time.Second),
		StorageDir:   filepath.Join(dir, "storage"),
		DomainPrefix: "zguest-captest-",
		Network:      kvm.NetworkConfig{Type: "user"},
		Poll:         100 * time.Millisecond,
		StopTimeout:  2 * time.Second,
		Log:          slog.New(slog.NewTextHandler(testWriter{t}, nil)),
	}
	b, err := kvm.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	raw := filepath.Join(dir, "base.raw")
	os.WriteFile(raw, bytes.Repeat([]byte("real capture "), 400000), 0o644)
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	must("import", b.ImportImage(ctx, api.ImageImport{ImageName: "base", URL: "file://" + raw, ImageMeta: map[string]string{"os_version": "debian12"}}))
	t.Cleanup(func() { b.DeleteGuest(ctx, "CAPR1"); b.DeleteGuest(ctx, "CAPR2") })
	_, err = b.CreateGuest(ctx, api.GuestSpec{UserID: "CAPR1", VCPUs: 1, Memory: 256, DiskList: []api.Disk{{Size: "16m", IsBootDisk: true}}})
	must("create", err)
	must("deploy", b.Deploy(ctx, "CAPR1", api.DeploySpec{Image: "base", Hostname: "capr1"}))
	must("capture", b.Capture(ctx, "CAPR1", api.CaptureSpec{Image: "snap", CaptureType: "rootonly", CompressLevel: 6}))
	ims, err := b.QueryImages(ctx, "snap")
	must("query", err)
	if out, err := exec.Command("qemu-img", "compare", "-f", "raw", "-F", "qcow2", raw, ims[0].ImagePath).CombinedOutput(); err != nil {
		t.Errorf("the capture differs from the deployed image: %v: %s", err, out)
	}
	// The capture deploys to a new guest, which libvirt accepts.
	_, err = b.CreateGuest(ctx, api.GuestSpec{UserID: "CAPR2", VCPUs: 1, Memory: 256, DiskList: []api.Disk{{Size: "16m", IsBootDisk: true}}})
	must("create 2", err)
	must("deploy the capture", b.Deploy(ctx, "CAPR2", api.DeploySpec{Image: "snap", Hostname: "capr2"}))
	dest := filepath.Join(dir, "export.qcow2")
	res, err := b.ExportImage(ctx, "snap", api.ExportSpec{DestURL: "file://" + dest})
	must("export", err)
	if res["os_version"] != "debian12" {
		t.Errorf("export answer %v", res)
	}
	must("delete 2", b.DeleteGuest(ctx, "CAPR2"))
	must("delete image", b.DeleteImage(ctx, "snap"))
}
