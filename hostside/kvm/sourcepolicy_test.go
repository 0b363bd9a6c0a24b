package kvm_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/kvm"
	"github.com/zguest/zguest/hostside/source"
)

// TestKVMOpensUnderPolicy: a transport file and an image swapped for a
// symbolic link out of source_dirs after the API's check are refused
// when the backend opens them.
func TestKVMOpensUnderPolicy(t *testing.T) {
	ctx := context.Background()
	var allowed string
	e := newEnv(t, func(c *kvm.Config) {
		allowed = filepath.Join(filepath.Dir(c.StorageDir), "instances")
		c.Sources = &source.Policy{Dirs: []string{allowed}}
	})
	os.Mkdir(allowed, 0o755)
	secret := filepath.Join(e.dir, "secret.raw")
	os.WriteFile(secret, make([]byte, 1<<20), 0o600)
	ok := filepath.Join(allowed, "img.raw")
	os.WriteFile(ok, make([]byte, 1<<20), 0o644)
	if err := e.b.ImportImage(ctx, api.ImageImport{ImageName: "img", URL: "file://" + ok}); err != nil {
		t.Fatal(err)
	}
	img, iso := filepath.Join(allowed, "swapped.raw"), filepath.Join(allowed, "cfg.iso")
	for _, p := range []string{img, iso} {
		if err := os.Symlink(secret, p); err != nil {
			t.Fatal(err)
		}
	}
	wantErr(t, e.b.ImportImage(ctx, api.ImageImport{ImageName: "x", URL: "file://" + img}), 300, 4, "symbolic link may not lead out")
	if _, err := e.b.CreateGuest(ctx, api.GuestSpec{UserID: "P1", VCPUs: 1, Memory: 512, DiskList: []api.Disk{{Size: "2g", IsBootDisk: true}}}); err != nil {
		t.Fatal(err)
	}
	wantErr(t, e.b.Deploy(ctx, "P1", api.DeploySpec{Image: "img", TransportFiles: iso}), 100, -1, "symbolic link may not lead out")
}
