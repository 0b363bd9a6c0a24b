package zvm_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/zvm"
	"github.com/zguest/zguest/hostside/zvmsim"
	"github.com/zguest/zguest/internal/sshdtest"
)

// TestImportFromRemoteHost imports an image the way nova's driver asks
// for it (url file://<path on the compute host>, remote_host
// <user>@<my_ip>) through a real sshd: the daemon copies it with scp,
// never reading the path locally; a bad remote_host and a failed copy
// answer the original's rs 11 and rs 10.
func TestImportFromRemoteHost(t *testing.T) {
	ssh := sshdtest.Start(t)
	for _, kv := range ssh.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	dir := t.TempDir()
	sim, cl := serveSim(t, zvmsim.Options{DiskDir: filepath.Join(dir, "disks")})
	b, err := zvm.New(zvm.Config{SMAPI: cl, CP: sim.CP(), Disks: sim.CP(), ImageRepo: filepath.Join(dir, "images"),
		DiskPool: "ECKD:POOL1", SSHPort: ssh.Port})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// The "compute host's" file. sshd runs on this machine, so the path
	// also exists locally; the last case below (a user sshd refuses)
	// shows that the daemon never falls back to reading it locally.
	src := filepath.Join(dir, "compute", "glance-image")
	os.MkdirAll(filepath.Dir(src), 0o755)
	data := make([]byte, 3<<20)
	copy(data, "remote image")
	os.WriteFile(src, data, 0o644)
	meta := map[string]string{"os_version": "ubuntu22.04"}
	if err := b.ImportImage(ctx, api.ImageImport{ImageName: "remote1", URL: "file://" + src, ImageMeta: meta, RemoteHost: ssh.RemoteHost()}); err != nil {
		t.Fatal(err)
	}
	ims, err := b.QueryImages(ctx, "remote1")
	if err != nil || len(ims) != 1 || ims[0].ImageSizeInBytes != "3145728" {
		t.Fatalf("%+v %v", ims, err)
	}
	got, err := os.ReadFile(ims[0].ImagePath)
	if err != nil || string(got[:12]) != "remote image" {
		t.Fatalf("imported file: %v", err)
	}
	for _, c := range []struct {
		remote, url string
		rs          int
		want        string
	}{
		{"no-at-sign", "file://" + src, 11, "The specified remote_host no-at-sign format invalid"},
		{"-oProxyCommand=x@h", "file://" + src, 11, "format invalid"},
		{ssh.RemoteHost(), "file://" + filepath.Join(dir, "compute", "missing"), 10, "Copying image file from remote filesystem failed"},
		{"zguestnosuchuser@127.0.0.1", "file://" + src, 10, "Copying image file from remote filesystem failed"},
	} {
		err := b.ImportImage(ctx, api.ImageImport{ImageName: "bad", URL: c.url, ImageMeta: meta, RemoteHost: c.remote})
		if e := apiErr(t, err); e.OverallRC != 300 || e.ModID != api.ModImage || e.RS != c.rs || !strings.Contains(e.Msg, c.want) {
			t.Errorf("%s %s: %v; want rs %d %q", c.remote, c.url, err, c.rs, c.want)
		}
		if _, err := b.QueryImages(ctx, "bad"); apiErr(t, err).OverallRC != 404 {
			t.Errorf("%s: a failed import left a record", c.remote)
		}
	}
}
