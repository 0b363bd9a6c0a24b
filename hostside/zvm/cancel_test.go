package zvm_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/zvm"
)

// TestStuckSourcesRefusedOrCancelled: a FIFO transport file or image is
// refused before anything starts, kernel pseudo-files too; an scp that
// never ends stops when the request's context ends, and the guest
// deploys again afterwards (the failed deploy left no pending work).
func TestStuckSourcesRefusedOrCancelled(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	scp := filepath.Join(r.dir, "scp")
	os.WriteFile(scp, []byte("#!/bin/sh\nexec sleep 300\n"), 0o755)
	b, err := zvm.New(zvm.Config{SMAPI: r.cl, CP: r.sim.CP(), Disks: r.sim.CP(), ImageRepo: filepath.Join(r.dir, "images"),
		DiskPool: "ECKD:POOL1", SCP: scp})
	if err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(r.dir, "cfgdrive.iso")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{fifo, "/proc/self/environ"} {
		err := b.ImportImage(ctx, api.ImageImport{ImageName: "bad", URL: "file://" + src, ImageMeta: map[string]string{"os_version": "rhel9"}})
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("import of %s: %v", src, err)
		}
	}
	if _, err := os.Stat(filepath.Join(r.dir, "images", "netboot", "rhel9", "bad")); !os.IsNotExist(err) {
		t.Errorf("refused import left its directory: %v", err)
	}
	raw := filepath.Join(r.dir, "raw")
	os.WriteFile(raw, bytes.Repeat([]byte("rootfs!!"), 512), 0o644)
	if err := b.ImportImage(ctx, api.ImageImport{ImageName: "img", URL: "file://" + raw, ImageMeta: map[string]string{"os_version": "rhel9"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateGuest(ctx, spec("LINUX02")); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- b.Deploy(ctx, "LINUX02", api.DeploySpec{Image: "img", TransportFiles: fifo}) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "is a FIFO") {
			t.Errorf("FIFO transport file: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("deploy with a FIFO transport file hangs")
	}
	cctx, cancel := context.WithCancel(ctx)
	go func() {
		done <- b.Deploy(cctx, "LINUX02", api.DeploySpec{Image: "img", TransportFiles: "/x/cfgdrive.iso", RemoteHost: "nova@192.0.2.9"})
	}()
	time.Sleep(200 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Error("deploy succeeded with its scp killed")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("deploy with a hung scp does not end when its client goes away")
	}
	huge := filepath.Join(r.dir, "huge.iso")
	if f, err := os.Create(huge); err == nil {
		f.Truncate(200 << 20) // sparse: refused by its size, never read
		f.Close()
	}
	if err := b.Deploy(ctx, "LINUX02", api.DeploySpec{Image: "img", TransportFiles: huge}); err == nil || !strings.Contains(err.Error(), "more than a transport file may") {
		t.Errorf("200 MB transport file: %v", err)
	}
	iso := filepath.Join(r.dir, "cfg.iso")
	os.WriteFile(iso, []byte("config"), 0o644)
	if err := b.Deploy(ctx, "LINUX02", api.DeploySpec{Image: "img", TransportFiles: iso}); err != nil {
		t.Fatalf("deploy after the stuck ones: %v", err)
	}
	if err := b.DeleteGuest(ctx, "LINUX02"); err != nil {
		t.Fatalf("delete: %v", err)
	}
}
