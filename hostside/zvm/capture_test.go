package zvm_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/zvm"
	"github.com/zguest/zguest/hostside/zvmsim"
)

// captureRig has an ECKD and an FBA pool and a deployed, running guest
// per pool.
func captureRig(t *testing.T) (*rig, []byte) {
	t.Helper()
	dir := t.TempDir()
	sim, cl := serveSim(t, zvmsim.Options{DiskDir: filepath.Join(dir, "disks"),
		Pools: []zvmsim.Pool{{Name: "POOL1", Type: "ECKD", Capacity: 2 << 30}, {Name: "FBA1", Type: "FBA", Capacity: 2 << 30}}})
	b, err := zvm.New(zvm.Config{SMAPI: cl, CP: sim.CP(), Disks: sim.CP(), ImageRepo: filepath.Join(dir, "images"), DiskPool: "ECKD:POOL1"})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{sim: sim, b: b, cl: cl, dir: dir}
	ctx := context.Background()
	payload := bytes.Repeat([]byte("captured root fs "), 50000)
	src := filepath.Join(dir, "base")
	os.WriteFile(src, levelImage(t, zvm.FormatXCATCKD, 2, 6, payload), 0o644)
	if err := b.ImportImage(ctx, api.ImageImport{ImageName: "base", URL: "file://" + src, ImageMeta: map[string]string{"os_version": "ubuntu22"}}); err != nil {
		t.Fatal(err)
	}
	for _, g := range []api.GuestSpec{
		{UserID: "SRCCKD", VCPUs: 1, Memory: 1024, DiskList: []api.Disk{{Size: "30m", IsBootDisk: true}}},
		{UserID: "SRCFBA", VCPUs: 1, Memory: 1024, DiskList: []api.Disk{{Size: "30m", IsBootDisk: true, DiskPool: "FBA:FBA1"}}},
	} {
		if _, err := b.CreateGuest(ctx, g); err != nil {
			t.Fatal(err)
		}
		if err := b.Deploy(ctx, g.UserID, api.DeploySpec{Image: "base"}); err != nil {
			t.Fatal(err)
		}
		if err := b.Action(ctx, g.UserID, api.PowerAction{Name: "start"}); err != nil {
			t.Fatal(err)
		}
	}
	return r, payload
}

func TestCaptureDeployExportDelete(t *testing.T) {
	r, payload := captureRig(t)
	ctx := context.Background()
	for _, c := range []struct {
		userid, image, units string
		level                int
	}{
		{"SRCCKD", "snap-ckd", "43:CYL", 6},
		{"SRCCKD", "snap-ckd0", "43:CYL", 0},
		{"SRCFBA", "snap-fba", "61440:BLK", 1},
	} {
		if err := r.b.Capture(ctx, c.userid, api.CaptureSpec{Image: c.image, CaptureType: "rootonly", CompressLevel: c.level}); err != nil {
			t.Fatalf("%s: capture: %v", c.image, err)
		}
		// The guest was running: it is running again.
		if st, err := r.b.PowerState(ctx, c.userid); err != nil || st != "on" {
			t.Errorf("%s after capture: %q %v", c.userid, st, err)
		}
		ims, err := r.b.QueryImages(ctx, c.image)
		if err != nil || len(ims) != 1 || ims[0].DiskSizeUnits != c.units || ims[0].ImageOSDistro != "ubuntu22" || ims[0].Type != "rootonly" {
			t.Fatalf("%s: %+v %v", c.image, ims, err)
		}
		head := make([]byte, 512)
		f, _ := os.Open(ims[0].ImagePath)
		f.Read(head)
		f.Close()
		h, err := zvm.ParseHeader(head)
		if err != nil || h.Level != c.level || h.DiskUnitsString() != c.units {
			t.Errorf("%s: header %+v %v", c.image, h, err)
		}
		// Deploying the captured image gives a copy of the source disk.
		dst := "C" + c.userid[3:] + string(rune('0'+c.level))
		pool := ""
		if c.userid == "SRCFBA" {
			pool = "FBA:FBA1"
		}
		if _, err := r.b.CreateGuest(ctx, api.GuestSpec{UserID: dst, VCPUs: 1, Memory: 512, DiskList: []api.Disk{{Size: "30m", IsBootDisk: true, DiskPool: pool}}}); err != nil {
			t.Fatal(err)
		}
		if err := r.b.Deploy(ctx, dst, api.DeploySpec{Image: c.image}); err != nil {
			t.Fatalf("%s: deploy the capture: %v", c.image, err)
		}
		srcPath, _, _ := r.sim.DiskPath(c.userid, "0100")
		dstPath, _, _ := r.sim.DiskPath(dst, "0100")
		a, _ := os.ReadFile(srcPath)
		b, _ := os.ReadFile(dstPath)
		if !bytes.Equal(a, b) || !bytes.HasPrefix(b, payload) {
			t.Errorf("%s: the deployed capture differs from the source disk (%d vs %d bytes)", c.image, len(a), len(b))
		}
		// Export to a file:// destination: the repository file, described.
		out := filepath.Join(r.dir, c.image+".img")
		res, err := r.b.ExportImage(ctx, c.image, api.ExportSpec{DestURL: "file://" + out})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(out)
		want, _ := os.ReadFile(ims[0].ImagePath)
		if !bytes.Equal(got, want) || res["os_version"] != "ubuntu22" || res["md5sum"] != ims[0].MD5Sum || res["image_path"] != "file://"+out {
			t.Errorf("%s: export %v (%d bytes, want %d)", c.image, res, len(got), len(want))
		}
		if err := r.b.DeleteImage(ctx, c.image); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(ims[0].ImagePath); !os.IsNotExist(err) {
			t.Errorf("%s: image file left after delete: %v", c.image, err)
		}
		if _, err := r.b.ExportImage(ctx, c.image, api.ExportSpec{DestURL: "file://" + out}); err == nil {
			t.Errorf("%s: export after delete succeeded", c.image)
		}
	}
}

func TestCaptureRefusals(t *testing.T) {
	r, _ := captureRig(t)
	ctx := context.Background()
	if e := apiErr(t, r.b.Capture(ctx, "SRCCKD", api.CaptureSpec{Image: "x", CaptureType: "alldisks", CompressLevel: 6})); e.OverallRC != 501 {
		t.Errorf("alldisks: %+v", e)
	}
	if e := apiErr(t, r.b.Capture(ctx, "NOSUCH", api.CaptureSpec{Image: "x", CaptureType: "rootonly", CompressLevel: 6})); e.OverallRC != 404 {
		t.Errorf("unknown guest: %+v", e)
	}
	if e := apiErr(t, r.b.Capture(ctx, "SRCCKD", api.CaptureSpec{Image: "base", CaptureType: "rootonly", CompressLevel: 6})); e.OverallRC != 300 {
		t.Errorf("existing image: %+v", e)
	}
	if e := apiErr(t, r.b.Capture(ctx, "SRCCKD", api.CaptureSpec{Image: "x", CaptureType: "rootonly", CompressLevel: 10})); e.OverallRC != 100 {
		t.Errorf("level 10: %+v", e)
	}
	if _, err := r.b.CreateGuest(ctx, api.GuestSpec{UserID: "EMPTY", VCPUs: 1, Memory: 512, DiskList: []api.Disk{{Size: "10m", IsBootDisk: true}}}); err != nil {
		t.Fatal(err)
	}
	if e := apiErr(t, r.b.Capture(ctx, "EMPTY", api.CaptureSpec{Image: "x", CaptureType: "rootonly", CompressLevel: 6})); e.OverallRC != 300 || e.RS != 5 {
		t.Errorf("never deployed: %+v", e)
	}
	for _, dest := range []string{"http://x/y", "file://relative", "file:///dir/"} {
		if e := apiErr(t, func() error { _, err := r.b.ExportImage(ctx, "base", api.ExportSpec{DestURL: dest}); return err }()); e.RS != 2 {
			t.Errorf("%s: %+v", dest, e)
		}
	}
	_, err := r.b.ExportImage(ctx, "base", api.ExportSpec{DestURL: "file:///tmp/x", RemoteHost: "-oProxyCommand=evil"})
	if e := apiErr(t, err); e.RS != 21 {
		t.Errorf("option-like remote_host: %+v", e)
	}
	_, err = r.b.ExportImage(ctx, "base", api.ExportSpec{DestURL: "file://" + filepath.Join(r.dir, "no", "such", "dir", "f")})
	if e := apiErr(t, err); e.RS != 22 {
		t.Errorf("unwritable destination: %+v", e)
	}
	// An existing file, or a symbolic link, is never overwritten.
	victim := filepath.Join(r.dir, "victim")
	os.WriteFile(victim, []byte("keep"), 0o600)
	link := filepath.Join(r.dir, "link")
	os.Symlink(victim, link)
	for _, dest := range []string{victim, link} {
		_, err = r.b.ExportImage(ctx, "base", api.ExportSpec{DestURL: "file://" + dest})
		if e := apiErr(t, err); e.RS != 22 {
			t.Errorf("%s: %+v", dest, e)
		}
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Errorf("an existing file was overwritten: %q", b)
	}
}
