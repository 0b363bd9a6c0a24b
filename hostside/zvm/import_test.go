package zvm_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/zvm"
)

// TestImportCrashLeavesNothing: an import stopped as a crash would at
// each journal step leaves, after Recover, either nothing in the
// repository (not recorded) or the complete recorded image.
func TestImportCrashLeavesNothing(t *testing.T) {
	for _, step := range []string{"", "image", "in-place"} {
		t.Run("step="+step, func(t *testing.T) {
			r := newRig(t, nil)
			ctx := context.Background()
			repo := filepath.Join(r.dir, "images")
			cfg := zvm.Config{SMAPI: r.cl, CP: r.sim.CP(), Disks: r.sim.CP(), ImageRepo: repo, DiskPool: "ECKD:POOL1", Store: r.b.Store()}
			zvm.SetCrash(&cfg, func(kind, s string) bool { return kind == "import" && s == step })
			b, err := zvm.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			raw := filepath.Join(r.dir, "raw")
			os.WriteFile(raw, bytes.Repeat([]byte("rootfs!!"), 4096), 0o644)
			im := api.ImageImport{ImageName: "img", URL: "file://" + raw, ImageMeta: map[string]string{"os_version": "rhel9"}}
			if err := b.ImportImage(ctx, im); err == nil {
				t.Fatal("crash hook did not stop the import")
			}
			// the restarted daemon
			cfg2 := zvm.Config{SMAPI: r.cl, CP: r.sim.CP(), Disks: r.sim.CP(), ImageRepo: repo, DiskPool: "ECKD:POOL1", Store: r.b.Store()}
			b2, err := zvm.New(cfg2)
			if err != nil {
				t.Fatal(err)
			}
			if err := b2.Recover(ctx); err != nil {
				t.Fatal(err)
			}
			if ents, _ := os.ReadDir(filepath.Join(repo, ".staging")); len(ents) != 0 {
				t.Errorf("staging holds %v after recovery", ents)
			}
			if _, err := os.Stat(filepath.Join(repo, "netboot", "rhel9", "img")); !os.IsNotExist(err) {
				t.Errorf("unrecorded image directory left: %v", err)
			}
			if err := b2.ImportImage(ctx, im); err != nil {
				t.Fatalf("import again after recovery: %v", err)
			}
			ims, err := b2.QueryImages(ctx, "img")
			if err != nil || len(ims) != 1 || ims[0].ImageSizeInBytes != "32768" {
				t.Fatalf("query after import: %v %+v", err, ims)
			}
			if fi, err := os.Stat(ims[0].ImagePath); err != nil || fi.Size() != 32768 || filepath.Dir(ims[0].ImagePath) != filepath.Join(repo, "netboot", "rhel9", "img") {
				t.Errorf("image file %s: %v", ims[0].ImagePath, err)
			}
			if pend, _ := b2.Store().Pending(ctx); len(pend) != 0 {
				t.Errorf("journal entries pending: %+v", pend)
			}
		})
	}
}
