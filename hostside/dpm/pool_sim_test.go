package dpm_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/zguest/zguest/builder/qcow2"
	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/dpm"
	"github.com/zguest/zguest/hostside/hmc"
	"github.com/zguest/zguest/hostside/hmcsim"
	"github.com/zguest/zguest/hostside/store"
)

const (
	uuid1 = "600507680C8080B11000000000000001"
	uuid2 = "600507680C8080B11000000000000002"
)

// poolEnv is a backend with a boot pool of two storage groups (10 and
// 20 GiB boot volumes) whose volumes are sparse files in volDir,
// reached through the HMC volume writer from the partition "ZGHOSTD".
type poolEnv struct {
	b      *dpm.Backend
	c      *hmc.Client
	st     *store.Store
	volDir string
	cfg    dpm.Config
	logs   *bytes.Buffer
}

func poolSetup(t *testing.T) *poolEnv {
	t.Helper()
	inv := inventory("2.20", true)
	inv.CPCs[0].StorageGroups = []hmcsim.StorageGroupIn{
		{ObjectID: "sg2", Name: "SG2", Type: "fcp", Volumes: []hmcsim.StorageVolume{{ObjectID: "vol2", Name: "boot-2", Size: 20, Usage: "boot", UUID: uuid2}}},
		{ObjectID: "sg1", Name: "SG1", Type: "fcp", Volumes: []hmcsim.StorageVolume{{ObjectID: "vol1", Name: "boot-1", Size: 10, Usage: "boot", UUID: uuid1},
			{ObjectID: "data1", Name: "data-1", Size: 50, Usage: "data", UUID: "600507680C8080B11000000000000009"}}},
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	dir := t.TempDir()
	e := &poolEnv{volDir: filepath.Join(dir, "by-id"), logs: &bytes.Buffer{}}
	if err := os.Mkdir(e.volDir, 0o755); err != nil {
		t.Fatal(err)
	}
	sim, err := hmcsim.Start(ctx, hmcsim.Options{Listen: "127.0.0.1:0", Inventory: inv, JobDuration: 10 * time.Millisecond, VolumeDir: e.volDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	log := slog.New(slog.NewTextHandler(e.logs, nil))
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(e.logs.String())
		}
	})
	e.c, err = hmc.New(hmc.Config{URL: sim.URL(), CA: sim.CACertPEM(), UserID: user, Password: password, Backoff: time.Millisecond, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.Create(ctx, "/api/cpcs/cpc1/partitions", map[string]any{"name": "ZGHOSTD", "ifl-processors": 1, "initial-memory": 4096, "maximum-memory": 4096}); err != nil {
		t.Fatal(err)
	}
	if e.st, err = store.Open(filepath.Join(dir, "state.db"), time.Second); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.st.Close() })
	e.cfg = dpm.Config{HMC: e.c, CPC: "cpc1", Host: "host-a", MaxProcessors: 4, MaxMemoryMB: 8192,
		Networks: map[string]dpm.Network{"physnet1": {VSwitch: "vs1"}},
		Poll:     5 * time.Millisecond, JobTimeout: 5 * time.Second, StatusTimeout: 5 * time.Second, Log: log,
		Store: e.st, ImageDir: filepath.Join(dir, "images"), BootPool: []string{"sg2", "sg1"},
		OwnPartition: "ZGHOSTD", DeviceDir: e.volDir, DeviceTimeout: time.Second}
	if e.b, err = dpm.New(ctx, e.cfg); err != nil {
		t.Fatal(err)
	}
	return e
}

// testImages writes a 3 MiB raw disk (random first MiB, zeros, a
// random last 4 KiB) and the same disk as qcow2.
func testImages(t *testing.T) (content []byte, raw, qcow string) {
	t.Helper()
	dir := t.TempDir()
	content = make([]byte, 3<<20)
	rand.New(rand.NewSource(14)).Read(content[:1<<20])
	rand.New(rand.NewSource(15)).Read(content[len(content)-4096:])
	raw = filepath.Join(dir, "disk.raw")
	if err := os.WriteFile(raw, content, 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(raw)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	src, err := qcow2.NewRawFile(in)
	if err != nil {
		t.Fatal(err)
	}
	qcow = filepath.Join(dir, "disk.qcow2")
	out, err := os.Create(qcow)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := qcow2.Write(out, src, qcow2.Options{}); err != nil {
		t.Fatal(err)
	}
	return content, raw, qcow
}

func wantRC(t *testing.T, err error, overall, rs int) {
	t.Helper()
	var ae *api.Error
	if !errors.As(err, &ae) || ae.OverallRC != overall || ae.RS != rs {
		t.Fatalf("got %v, want overallRC %d rs %d", err, overall, rs)
	}
}

func TestImageRepository(t *testing.T) {
	e := poolSetup(t)
	ctx := context.Background()
	_, raw, qcow := testImages(t)
	meta := map[string]string{"os_version": "ubuntu22.04"}
	if err := e.b.ImportImage(ctx, api.ImageImport{ImageName: "img-raw", URL: "file://" + raw, ImageMeta: meta}); err != nil {
		t.Fatal(err)
	}
	if err := e.b.ImportImage(ctx, api.ImageImport{ImageName: "img-q", URL: "file://" + qcow, ImageMeta: meta}); err != nil {
		t.Fatal(err)
	}
	wantRC(t, e.b.ImportImage(ctx, api.ImageImport{ImageName: "img-q", URL: "file://" + qcow, ImageMeta: meta}), 300, 13)
	wantRC(t, e.b.ImportImage(ctx, api.ImageImport{ImageName: "x", URL: "http://h/x", ImageMeta: meta}), 300, 4)
	wantRC(t, e.b.ImportImage(ctx, api.ImageImport{ImageName: "x", URL: "file:///nonexistent/x", ImageMeta: meta}), 300, 12)
	wantRC(t, e.b.ImportImage(ctx, api.ImageImport{ImageName: "x", URL: "file:///x", RemoteHost: "-oProxyCommand=x", ImageMeta: meta}), 300, 11)
	ims, err := e.b.QueryImages(ctx, "")
	if err != nil || len(ims) != 2 {
		t.Fatalf("query all: %v %+v", err, ims)
	}
	q, err := e.b.QueryImages(ctx, "img-q")
	if err != nil || q[0].DiskSizeUnits != "1:GB" || q[0].ImageOSDistro != "ubuntu22.04" || len(q[0].MD5Sum) != 32 {
		t.Fatalf("query img-q: %v %+v", err, q)
	}
	_, err = e.b.QueryImages(ctx, "nope")
	wantRC(t, err, 404, 1)
	if n, err := e.b.ImageRootDiskSize(ctx, "img-raw"); err != nil || n != "1g" {
		t.Fatalf("root disk size: %q %v", n, err)
	}
	if err := e.b.DeleteImage(ctx, "img-raw"); err != nil {
		t.Fatal(err)
	}
	_, err = e.b.ImageRootDiskSize(ctx, "img-raw")
	wantRC(t, err, 404, 1)
	if err := e.b.DeleteImage(ctx, "img-raw"); err != nil {
		t.Fatalf("deleting a missing image: %v", err)
	}
}

func TestBootPoolDeploy(t *testing.T) {
	e := poolSetup(t)
	ctx := context.Background()
	content, _, qcow := testImages(t)
	if err := e.b.ImportImage(ctx, api.ImageImport{ImageName: "img-q", URL: "file://" + qcow, ImageMeta: map[string]string{"os_version": "ubuntu22.04"}}); err != nil {
		t.Fatal(err)
	}
	boot := func(size string) api.GuestSpec {
		return api.GuestSpec{VCPUs: 1, Memory: 1024, DiskList: []api.Disk{{Size: size, IsBootDisk: true}}}
	}
	s := boot("1g")
	s.UserID = "G1"
	if _, err := e.b.CreateGuest(ctx, s); err != nil {
		t.Fatal(err)
	}
	s = boot("15g")
	s.UserID = "G2"
	if _, err := e.b.CreateGuest(ctx, s); err != nil {
		t.Fatal(err)
	}
	s = boot("1g")
	s.UserID = "G3"
	_, err := e.b.CreateGuest(ctx, s)
	wantRC(t, err, 409, 3)
	rec, err := e.st.Guest("G1")
	if err != nil || rec.Meta["storage_group"] != "/api/storage-groups/sg1" {
		t.Fatalf("G1 took %+v %v, want the smallest group sg1", rec, err)
	}
	if err := e.b.Deploy(ctx, "G1", api.DeploySpec{Image: "img-q"}); err != nil {
		t.Fatal(err)
	}
	vol1 := hmcsim.VolumeFile(e.volDir, uuid1)
	got := make([]byte, len(content))
	f, err := os.Open(vol1)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.ReadFull(f, got); err != nil || !bytes.Equal(got, content) {
		t.Fatalf("volume contents differ from the qcow2 image's disk (%v)", err)
	}
	var p struct {
		Boot string   `json:"boot-device"`
		Vol  string   `json:"boot-storage-volume"`
		SGs  []string `json:"storage-group-uris"`
	}
	if err := e.c.Get(ctx, e.partURI(t, "OpenStack-host-a-G1"), &p); err != nil {
		t.Fatal(err)
	}
	if p.Boot != "storage-volume" || p.Vol != "/api/storage-groups/sg1/storage-volumes/vol1" || len(p.SGs) != 1 || p.SGs[0] != "/api/storage-groups/sg1" {
		t.Fatalf("partition after deploy: %+v", p)
	}
	if err := e.c.Get(ctx, e.partURI(t, "ZGHOSTD"), &p); err != nil || len(p.SGs) != 0 {
		t.Fatalf("own partition keeps storage groups %v after the write (%v)", p.SGs, err)
	}
	if err := e.b.DeleteGuest(ctx, "G1"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ReadAt(got, 0); err != nil || !bytes.Equal(got, make([]byte, len(got))) {
		t.Fatalf("volume not wiped after delete (%v)", err)
	}
	if _, err := e.st.Guest("G1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("G1's assignment left: %v", err)
	}
	s.UserID = "G3"
	if _, err := e.b.CreateGuest(ctx, s); err != nil {
		t.Fatalf("the returned volume is not free again: %v", err)
	}
	wantRC(t, e.b.Deploy(ctx, "G3", api.DeploySpec{Image: "nope"}), 404, 1)
}

func (e *poolEnv) partURI(t *testing.T, name string) string {
	t.Helper()
	ps, err := e.c.ListPartitions(context.Background(), "/api/cpcs/cpc1", name)
	if err != nil || len(ps) != 1 {
		t.Fatalf("partition %s: %v %v", name, ps, err)
	}
	return ps[0].URI
}

func TestBootPoolConfig(t *testing.T) {
	e := poolSetup(t)
	for _, c := range []struct {
		pool []string
		want string
	}{
		{[]string{"nope"}, "boot_pool storage group nope"},
		{[]string{"sg1"}, ""},
		{[]string{"sg1", "sg1"}, "want distinct storage group object ids"},
		{[]string{"../cpcs/cpc1"}, "want distinct storage group object ids"},
	} {
		cfg := e.cfg
		cfg.BootPool = c.pool
		_, err := dpm.New(context.Background(), cfg)
		if (err == nil) != (c.want == "") || err != nil && !bytes.Contains([]byte(err.Error()), []byte(c.want)) {
			t.Errorf("pool %v: %v, want %q", c.pool, err, c.want)
		}
	}
	cfg := e.cfg
	cfg.OwnPartition = "NOPE"
	if _, err := dpm.New(context.Background(), cfg); err == nil {
		t.Error("an own partition that does not exist was accepted")
	}
}

// TestBootPoolRecovery: a restart finishes what a crash left: a volume
// taken for a partition that was never made is given back, and a
// release interrupted before the wipe is wiped and given back.
func TestBootPoolRecovery(t *testing.T) {
	e := poolSetup(t)
	vol2 := hmcsim.VolumeFile(e.volDir, uuid2)
	if err := os.WriteFile(vol2, []byte("old guest data"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, r := range []store.Guest{
		{UserID: "G9", Progress: store.Creating, Meta: map[string]string{"storage_group": "/api/storage-groups/sg1", "boot_volume": "/api/storage-groups/sg1/storage-volumes/vol1"}},
		{UserID: "G8", Progress: store.Deleting, Meta: map[string]string{"storage_group": "/api/storage-groups/sg2", "boot_volume": "/api/storage-groups/sg2/storage-volumes/vol2", "written": "1048576"}},
	} {
		if err := e.st.PutGuest(r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := dpm.New(context.Background(), e.cfg); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"G8", "G9"} {
		if _, err := e.st.Guest(id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s's assignment left after the restart: %v", id, err)
		}
	}
	got, err := os.ReadFile(vol2)
	if err != nil || !bytes.Equal(got[:14], make([]byte, 14)) {
		t.Errorf("volume 2 not wiped: %q %v", got[:14], err)
	}
}
