package zvm_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/source"
	"github.com/zguest/zguest/hostside/zvm"
	"github.com/zguest/zguest/internal/zvm/spool"
)

// TestBackendOpensUnderPolicy: the API checks a path, then a symbolic
// link to a host file is swapped in before the backend reads it; the
// backend opens through the policy (os.Root) and refuses it, for a
// transport file and a file:// import alike.
func TestBackendOpensUnderPolicy(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	allowed := filepath.Join(r.dir, "instances")
	os.Mkdir(allowed, 0o755)
	secret := filepath.Join(r.dir, "secret")
	os.WriteFile(secret, []byte("root:$6$hash:::\n"), 0o600)
	pol := &source.Policy{Dirs: []string{allowed}}
	b, err := zvm.New(zvm.Config{SMAPI: r.cl, CP: r.sim.CP(), Disks: r.sim.CP(), ImageRepo: filepath.Join(r.dir, "images"),
		DiskPool: "ECKD:POOL1", Sources: pol})
	if err != nil {
		t.Fatal(err)
	}
	raw := filepath.Join(allowed, "raw")
	os.WriteFile(raw, bytes.Repeat([]byte("rootfs!!"), 512), 0o644)
	if err := b.ImportImage(ctx, api.ImageImport{ImageName: "img", URL: "file://" + raw, ImageMeta: map[string]string{"os_version": "rhel9"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateGuest(ctx, spec("LINUX02")); err != nil {
		t.Fatal(err)
	}
	iso := filepath.Join(allowed, "cfgdrive.iso")
	img := filepath.Join(allowed, "img2")
	for _, p := range []string{iso, img} {
		os.WriteFile(p, []byte("harmless"), 0o644)
		if err := pol.Check(p); err != nil { // what the API does first
			t.Fatalf("the API's check of %s: %v", p, err)
		}
		os.Remove(p)
		if err := os.Symlink(secret, p); err != nil {
			t.Fatal(err)
		}
	}
	before, _ := r.sim.Spool().Files("LINUX02", spool.QueueRDR)
	err = b.Deploy(ctx, "LINUX02", api.DeploySpec{Image: "img", TransportFiles: iso, SkipDiskCopy: true})
	if err == nil || !strings.Contains(err.Error(), "symbolic link may not lead out") {
		t.Errorf("deploy with a transport file swapped for a link out: %v", err)
	}
	if after, _ := r.sim.Spool().Files("LINUX02", spool.QueueRDR); len(after) != len(before) {
		t.Errorf("the guest's reader went from %d to %d files", len(before), len(after))
	}
	err = b.ImportImage(ctx, api.ImageImport{ImageName: "img2", URL: "file://" + img, ImageMeta: map[string]string{"os_version": "rhel9"}})
	if err == nil || !strings.Contains(err.Error(), "symbolic link may not lead out") {
		t.Errorf("import of a file swapped for a link out: %v", err)
	}
	if err := b.Deploy(ctx, "LINUX02", api.DeploySpec{Image: "img", SkipDiskCopy: true}); err != nil {
		t.Errorf("deploy after the refusals: %v", err)
	}
}
