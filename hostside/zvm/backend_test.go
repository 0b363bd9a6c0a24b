package zvm_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zguest/zguest/builder/dasd"
	"github.com/zguest/zguest/builder/xcat"
	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/smapi"
	"github.com/zguest/zguest/hostside/zvm"
	"github.com/zguest/zguest/hostside/zvmsim"
	"github.com/zguest/zguest/internal/zvm/spool"
)

type rig struct {
	sim *zvmsim.Sim
	b   *zvm.Backend
	cl  *smapi.Client
	dir string
}

func newRig(t *testing.T, sp *spool.System) *rig {
	t.Helper()
	dir := t.TempDir()
	sim, cl := serveSim(t, zvmsim.Options{Spool: sp, DiskDir: filepath.Join(dir, "disks"), UserID: "ADMIN", Password: "s3cret"})
	b, err := zvm.New(zvm.Config{SMAPI: cl, CP: sim.CP(), Disks: sim.CP(), ImageRepo: filepath.Join(dir, "images"), DiskPool: "ECKD:POOL1"})
	if err != nil {
		t.Fatal(err)
	}
	return &rig{sim: sim, b: b, cl: cl, dir: dir}
}

// serveSim starts a simulator with opts (and pool POOL1 unless opts names
// pools) on a loopback SMAPI listener and returns a client for it that
// carries opts' credentials and retries quickly.
func serveSim(t *testing.T, opts zvmsim.Options) (*zvmsim.Sim, *smapi.Client) {
	t.Helper()
	if opts.Pools == nil {
		opts.Pools = []zvmsim.Pool{{Name: "POOL1", Type: "ECKD", Capacity: 2 << 30}}
	}
	sim, err := zvmsim.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := sim.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return sim, &smapi.Client{Addr: srv.Addr(), UserID: opts.UserID, Password: opts.Password, Backoff: time.Millisecond, Timeout: 10 * time.Second}
}

func apiErr(t *testing.T, err error) *api.Error {
	t.Helper()
	var e *api.Error
	if !errors.As(err, &e) {
		t.Fatalf("not an *api.Error: %v", err)
	}
	return e
}

func spec(id string) api.GuestSpec {
	return api.GuestSpec{UserID: id, VCPUs: 2, Memory: 2048, DiskList: []api.Disk{{Size: "100m", IsBootDisk: true}, {Size: "50m"}}}
}

func TestCreateGuestRecordsAndDisks(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	disks, err := r.b.CreateGuest(ctx, spec("LINUX01"))
	if err != nil {
		t.Fatal(err)
	}
	if len(disks) != 2 || disks[0].Vdev != "0100" || disks[1].Vdev != "0101" {
		t.Fatalf("%+v", disks)
	}
	recs, _ := r.sim.Directory("LINUX01")
	want := []string{"USER LINUX01 LBYONLY 2G 64G G", "INCLUDE OSDFLT", "MACHINE ESA 32", "COMMAND SET VCONFIG MODE LINUX",
		"COMMAND DEFINE CPU 00 TYPE IFL", "COMMAND DEFINE CPU 01 TYPE IFL", "SHARE RELATIVE 200", "IPL 0100",
		"COMMAND DEF STOR INITIAL STANDBY REMAINDER", "MDISK 0100 3390 0001 0143 POOL01 MR", "MDISK 0101 3390 0144 0072 POOL01 MR"}
	if strings.Join(recs, "\n") != strings.Join(want, "\n") {
		t.Errorf("directory:\n%s", strings.Join(recs, "\n"))
	}
	if st, err := r.b.PowerState(ctx, "LINUX01"); err != nil || st != "off" {
		t.Errorf("power %q %v", st, err)
	}
	// Exists: 8/400/8.
	_, err = r.b.CreateGuest(ctx, spec("LINUX01"))
	if e := apiErr(t, err); e.OverallRC != 8 || e.RC != 400 || e.RS != 8 || e.ModID != api.ModSMT {
		t.Errorf("%+v", e)
	}
	// Missing profile: 436/4.
	s := spec("LINUX02")
	s.UserProfile = "NOPE"
	_, err = r.b.CreateGuest(ctx, s)
	if e := apiErr(t, err); e.RC != 436 || e.RS != 4 {
		t.Errorf("%+v", e)
	}
	// Pool too small: 408/24, and the half-made entry is gone.
	s = spec("LINUX03")
	s.DiskList = []api.Disk{{Size: "100g"}}
	_, err = r.b.CreateGuest(ctx, s)
	if e := apiErr(t, err); e.RC != 408 || e.RS != 24 {
		t.Errorf("%+v", e)
	}
	if _, ok := r.sim.Directory("LINUX03"); ok {
		t.Error("LINUX03 left in the directory")
	}
	// A record over 72 characters never reaches SMAPI.
	s = spec("LINUX04")
	s.Comments = []string{strings.Repeat("x", 80)}
	_, err = r.b.CreateGuest(ctx, s)
	if e := apiErr(t, err); e.OverallRC != 100 {
		t.Errorf("%+v", e)
	}
}

func TestPowerAndDelete(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	if _, err := r.b.CreateGuest(ctx, spec("LINUX01")); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"start", "start"} {
		if err := r.b.Action(ctx, "LINUX01", api.PowerAction{Name: a}); err != nil {
			t.Fatalf("%s: %v", a, err)
		}
	}
	if st, _ := r.b.PowerState(ctx, "LINUX01"); st != "on" {
		t.Errorf("after start: %s", st)
	}
	// pause and unpause are Image_Pause; a paused guest stays logged on.
	for _, a := range []struct {
		name   string
		paused bool
	}{{"pause", true}, {"unpause", false}} {
		if err := r.b.Action(ctx, "LINUX01", api.PowerAction{Name: a.name}); err != nil {
			t.Fatalf("%s: %v", a.name, err)
		}
		if r.sim.Paused("LINUX01") != a.paused {
			t.Errorf("after %s: paused %v", a.name, !a.paused)
		}
		if st, _ := r.b.PowerState(ctx, "LINUX01"); st != "on" {
			t.Errorf("after %s: %s", a.name, st)
		}
	}
	info, err := r.b.GuestInfo(ctx, "LINUX01")
	if err != nil || info.NumCPU != 2 || info.MemKB != 2<<20 || info.PowerState != "on" {
		t.Errorf("%+v %v", info, err)
	}
	out, err := r.b.ConsoleOutput(ctx, "LINUX01")
	if err != nil || !strings.Contains(out, "LINUX01 LOGON AT") {
		t.Errorf("console %q %v", out, err)
	}
	if left, _ := r.sim.Spool().List(r.sim.HostID()); len(left) != 0 {
		t.Errorf("console file left in the connector's reader: %+v", left)
	}
	used, _, _ := r.sim.PoolUsage("POOL1")
	// Delete while logged on: 596/6831, forced off, deleted.
	if err := r.b.DeleteGuest(ctx, "LINUX01"); err != nil {
		t.Fatal(err)
	}
	if after, _, _ := r.sim.PoolUsage("POOL1"); used == 0 || after != 0 {
		t.Errorf("pool used %d -> %d", used, after)
	}
	if r.sim.Spool().HasUser("LINUX01") {
		t.Error("still in CP's directory")
	}
	if err := r.b.DeleteGuest(ctx, "LINUX01"); err != nil {
		t.Errorf("second delete: %v", err)
	}
	if _, err := r.b.PowerState(ctx, "LINUX01"); apiErr(t, err).OverallRC != 404 {
		t.Errorf("%v", err)
	}
}

func TestNICsLockedAndDropped(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	if _, err := r.b.CreateGuest(ctx, spec("LINUX01")); err != nil {
		t.Fatal(err)
	}
	r.sim.LockImage("LINUX01", 3)
	r.sim.DropConnections(2)
	nets, err := r.b.CreateNetworkInterface(ctx, "LINUX01", api.InterfaceSpec{OSVersion: "ubuntu22", GuestNetworks: []api.GuestNetwork{
		{MACAddr: "02:00:00:ab:cd:01"}, {MACAddr: "02:00:00:ab:cd:02"}}})
	if err != nil {
		t.Fatal(err)
	}
	if nets[0].NICVdev != "1000" || nets[1].NICVdev != "1003" {
		t.Errorf("%+v", nets)
	}
	recs, _ := r.sim.Directory("LINUX01")
	joined := strings.Join(recs, "\n")
	for _, w := range []string{"NICDEF 1000 TYPE QDIO DEVICES 3 MACID ABCD01", "NICDEF 1003 TYPE QDIO DEVICES 3 MACID ABCD02"} {
		if !strings.Contains(joined, w) {
			t.Errorf("no %q in\n%s", w, joined)
		}
	}
	files, _ := r.sim.Spool().List("LINUX01")
	if len(files) != 1 || files[0].Name != "nics" || files[0].Type != "json" || files[0].Class != 'X' || files[0].Origin != r.sim.HostID() {
		t.Fatalf("reader %+v", files)
	}
	// Locked for longer than the retries: the original's 8/400/12.
	r.sim.LockImage("LINUX01", 10)
	_, err = r.b.CreateNIC(ctx, "LINUX01", api.NICSpec{})
	if e := apiErr(t, err); e.RC != 400 || e.RS != 12 {
		t.Errorf("%+v", e)
	}
	r.sim.LockImage("LINUX01", 0)
	if err := r.b.DeleteNIC(ctx, "LINUX01", "1003", false); err != nil {
		t.Fatal(err)
	}
	if n, err := r.b.CreateNIC(ctx, "LINUX01", api.NICSpec{}); err != nil || n.Vdev != "1003" {
		t.Errorf("%+v %v", n, err)
	}
	// SMAPI gone: a transport error, overallRC 25.
	r.sim.DropConnections(100)
	_, err = r.b.CreateNIC(ctx, "LINUX01", api.NICSpec{})
	if e := apiErr(t, err); e.OverallRC != 25 {
		t.Errorf("%+v", e)
	}
}

func TestBadCredentials(t *testing.T) {
	r := newRig(t, nil)
	r.cl.Password = "wrong"
	_, err := r.b.CreateGuest(context.Background(), spec("LINUX01"))
	e := apiErr(t, err)
	if e.RC != 120 || strings.Contains(e.Error(), "wrong") {
		t.Errorf("%+v", e)
	}
}

// xcatImage builds an image with the connector's header around payload.
func xcatImage(t *testing.T, kind string, units string, v2 bool, payload []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	head := fmt.Sprintf("xCAT %s Disk Image:%-16s", kind, units)
	if v2 {
		head += " HLen: 0055 GZIP: 6"
		head += strings.Repeat(" ", 512-len(head))
	}
	b.WriteString(head)
	zw := gzip.NewWriter(&b)
	zw.Write(payload)
	zw.Close()
	return b.Bytes()
}

func TestImagesAndDeploy(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	payload := bytes.Repeat([]byte("rootfs!!"), 4096)
	// A CKD image's payload is CiKaDa-encoded tracks (ckdencode): the
	// minidisk gets the decoded 4 KiB blocks.
	dk, _ := dasd.New(3, dasd.LDL, "LNX001")
	blocks := make([]byte, dk.Size())
	copy(blocks, payload)
	var tracks bytes.Buffer
	if err := xcat.EncodeTracks(&tracks, bytes.NewReader(blocks), dk); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(r.dir, "img")
	os.WriteFile(src, xcatImage(t, "CKD", "100 CYL", true, tracks.Bytes()), 0o644)
	if err := r.b.ImportImage(ctx, api.ImageImport{ImageName: "img1", URL: "file://" + src, ImageMeta: map[string]string{"os_version": "ubuntu22"}}); err != nil {
		t.Fatal(err)
	}
	raw := filepath.Join(r.dir, "raw")
	os.WriteFile(raw, payload, 0o644)
	if err := r.b.ImportImage(ctx, api.ImageImport{ImageName: "raw1", URL: "file://" + raw, ImageMeta: map[string]string{"os_version": "rhel9"}}); err != nil {
		t.Fatal(err)
	}
	err := r.b.ImportImage(ctx, api.ImageImport{ImageName: "raw1", URL: "file://" + raw, ImageMeta: map[string]string{"os_version": "rhel9"}})
	if e := apiErr(t, err); e.RC != 300 || e.RS != 13 {
		t.Errorf("exists: %+v", e)
	}
	ims, err := r.b.QueryImages(ctx, "")
	if err != nil || len(ims) != 2 || ims[0].DiskSizeUnits != "100:CYL" || ims[0].Type != "rootonly" || ims[1].DiskSizeUnits != "1:CYL" {
		t.Fatalf("%+v %v", ims, err)
	}
	if n, err := r.b.ImageRootDiskSize(ctx, "img1"); err != nil || n != "100" {
		t.Errorf("%q %v", n, err)
	}
	if _, err := r.b.QueryImages(ctx, "nope"); apiErr(t, err).OverallRC != 404 || apiErr(t, err).RS != 1 {
		t.Errorf("%v", err)
	}
	if _, err := r.b.CreateGuest(ctx, spec("LINUX01")); err != nil {
		t.Fatal(err)
	}
	iso := filepath.Join(r.dir, "cfgdrive.iso")
	os.WriteFile(iso, bytes.Repeat([]byte{7}, 1000), 0o644)
	if err := r.b.Deploy(ctx, "LINUX01", api.DeploySpec{Image: "img1", TransportFiles: iso}); err != nil {
		t.Fatal(err)
	}
	path, _, _ := r.sim.DiskPath("LINUX01", "0100")
	disk, _ := os.ReadFile(path)
	if !bytes.HasPrefix(disk, payload) {
		t.Error("image payload not on the root disk")
	}
	files, _ := r.sim.Spool().List("LINUX01")
	if len(files) != 1 || files[0].Name != "cfgdrive" || files[0].Type != "iso" || files[0].Class != 'X' || len(files[0].Records) != 13 {
		t.Errorf("reader %+v", files)
	}
	// A failing TRANSFER purges the punched file from the connector's reader.
	r.sim.Spool().InjectQueueFull("LINUX01", true)
	err = r.b.Deploy(ctx, "LINUX01", api.DeploySpec{Image: "img1", TransportFiles: iso, SkipDiskCopy: true})
	if e := apiErr(t, err); e.OverallRC != 300 || e.RS != 3 {
		t.Errorf("%+v", e)
	}
	if left, _ := r.sim.Spool().List(r.sim.HostID()); len(left) != 0 {
		t.Errorf("left in the connector's reader: %+v", left)
	}
	r.sim.Spool().InjectQueueFull("LINUX01", false)
	// An image larger than the disk fails the deploy.
	big := filepath.Join(r.dir, "big")
	os.WriteFile(big, make([]byte, 200<<20), 0o644)
	if err := r.b.ImportImage(ctx, api.ImageImport{ImageName: "big", URL: "file://" + big, ImageMeta: map[string]string{"os_version": "rhel9"}}); err != nil {
		t.Fatal(err)
	}
	if err := r.b.Deploy(ctx, "LINUX01", api.DeploySpec{Image: "big"}); apiErr(t, err).RS != 3 {
		t.Errorf("%v", err)
	}
	if err := r.b.DeleteImage(ctx, "img1"); err != nil {
		t.Fatal(err)
	}
	if err := r.b.DeleteImage(ctx, "img1"); err != nil {
		t.Errorf("second delete: %v", err)
	}
}

func TestParseHeader(t *testing.T) {
	h, err := zvm.ParseHeader(xcatImage(t, "FBA", "2097152 BLK", false, []byte("x")))
	if err != nil || h.Format != zvm.FormatXCATFBA || h.Len != 36 || h.DiskUnitsString() != "2097152:BLK" {
		t.Fatalf("%+v %v", h, err)
	}
	if _, err := zvm.ParseHeader([]byte("xCAT FCP Disk Image:" + strings.Repeat(" ", 20))); err == nil || errors.Is(err, zvm.ErrNoHeader) {
		t.Errorf("FCP: %v", err)
	}
}

func FuzzParseHeader(f *testing.F) {
	f.Add([]byte("xCAT CKD Disk Image:    3338 CYL HLen: 0055 GZIP: 6"))
	f.Add([]byte("xCAT FBA Disk Image: 2097152 BLK"))
	f.Add([]byte("z/VM FBA Disk Image:           0 BLK HLen: 0055 GZIP: 0"))
	f.Add([]byte("xCAT CKD Disk Image:       1 CYL HLen: 1024 GZIP: 9"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := zvm.ParseHeader(b)
		if err == nil && (h.Size < 0 || h.Level < 0 || h.Level > 9 || (h.Len != 36 && h.Len%512 != 0) || h.Len > 10240) {
			t.Fatalf("%+v", h)
		}
	})
}

func TestDiskUnits(t *testing.T) {
	for _, c := range []struct {
		in, typ string
		want    int32
	}{{"10g", "3390", 14564}, {"3338:CYL", "3390", 3338}, {"1m", "9336", 2048}, {"100:BLK", "9336", 100}, {"3338", "3390", 3338}, {"467200", "9336", 467200}} {
		if got, err := zvm.DiskUnits(c.in, c.typ); err != nil || got != c.want {
			t.Errorf("%s %s: %d %v", c.in, c.typ, got, err)
		}
	}
	for _, bad := range []string{"", "g", "10x", "-1g", "5:BLK", "0", "99999999999"} {
		if _, err := zvm.DiskUnits(bad, "3390"); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
