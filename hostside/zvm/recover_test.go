package zvm_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/smapi"
	"github.com/zguest/zguest/hostside/store"
	"github.com/zguest/zguest/hostside/zvm"
	"github.com/zguest/zguest/hostside/zvmsim"
	"github.com/zguest/zguest/internal/zvm/spool"
)

// crashRig is a simulator and a state file that outlive backends: a
// backend stopped at a journal step is a crashed daemon, the next one
// built on the same file and simulator is the restarted daemon.
type crashRig struct {
	sim  *zvmsim.Sim
	cl   *smapi.Client
	dir  string
	st   *store.Store
	path string
}

func newCrashRig(t *testing.T) *crashRig {
	t.Helper()
	dir := t.TempDir()
	sim, cl := serveSim(t, zvmsim.Options{DiskDir: filepath.Join(dir, "disks"), UserID: "ADMIN", Password: "s3cret"})
	c := &crashRig{sim: sim, dir: dir, path: filepath.Join(dir, "state.db"), cl: cl}
	t.Cleanup(func() {
		if c.st != nil {
			c.st.Close()
		}
	})
	return c
}

// backend (re)opens the state file and builds a backend on it; crash,
// if set, stops operations at a step.
func (c *crashRig) backend(t *testing.T, crash func(kind, step string) bool) *zvm.Backend {
	t.Helper()
	if c.st != nil {
		c.st.Close()
	}
	st, err := store.Open(c.path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.st = st
	cfg := zvm.Config{SMAPI: c.cl, CP: c.sim.CP(), Disks: c.sim.CP(), Store: zvm.NewBoltStore(st),
		ImageRepo: filepath.Join(c.dir, "images"), DiskPool: "ECKD:POOL1"}
	zvm.SetCrash(&cfg, crash)
	b, err := zvm.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// restart builds a backend on the same state and recovers.
func (c *crashRig) restart(t *testing.T) *zvm.Backend {
	t.Helper()
	b := c.backend(t, nil)
	if err := b.Recover(context.Background()); err != nil {
		t.Fatalf("recover: %v", err)
	}
	return b
}

// crashAt stops at the n-th (1-based) step of kind.
func crashAt(kind, step string, n int) func(string, string) bool {
	return func(k, s string) bool {
		if k == kind && s == step {
			n--
			return n == 0
		}
		return false
	}
}

// checkInvariants: every directory entry has a record and the reverse,
// the journal is empty and the connector's reader holds nothing.
func (c *crashRig) checkInvariants(t *testing.T, b *zvm.Backend) {
	t.Helper()
	ctx := context.Background()
	ids, err := b.ListGuests(ctx)
	if err != nil {
		t.Fatal(err)
	}
	recs := map[string]bool{}
	for _, id := range ids {
		recs[id] = true
		if _, ok := c.sim.Directory(id); !ok {
			t.Errorf("record of %s without a directory entry", id)
		}
	}
	for _, id := range c.sim.Users() {
		if !recs[id] {
			t.Errorf("directory entry %s without a record", id)
		}
	}
	if ops, err := c.st.Pending(); err != nil || len(ops) != 0 {
		t.Errorf("journal still holds %+v (%v)", ops, err)
	}
	if fs, err := c.sim.Spool().Files(c.sim.HostID(), spool.QueueRDR); err != nil || len(fs) != 0 {
		t.Errorf("connector's reader holds %d files (%v)", len(fs), err)
	}
}

func TestRecoverCreate(t *testing.T) {
	for _, tc := range []struct {
		step string
		n    int
		kept bool // finished rather than rolled back
	}{
		{"", 1, false}, {"entry", 1, false}, {"disk", 1, false}, {"disk", 2, true}, {"recorded", 1, true},
	} {
		t.Run(tc.step+"-"+string(rune('0'+tc.n)), func(t *testing.T) {
			c := newCrashRig(t)
			ctx := context.Background()
			b := c.backend(t, crashAt("create", tc.step, tc.n))
			if _, err := b.CreateGuest(ctx, spec("LINUX01")); err == nil {
				t.Fatal("create did not stop")
			}
			b = c.restart(t)
			c.checkInvariants(t, b)
			_, inDir := c.sim.Directory("LINUX01")
			if inDir != tc.kept {
				t.Fatalf("guest kept %v, want %v", inDir, tc.kept)
			}
			if tc.kept {
				if err := b.DeleteGuest(ctx, "LINUX01"); err != nil {
					t.Fatal(err)
				}
			}
			if used, _, _ := c.sim.PoolUsage("POOL1"); used != 0 {
				t.Errorf("pool usage %d with no guest", used)
			}
			if _, err := b.CreateGuest(ctx, spec("LINUX01")); err != nil {
				t.Fatalf("create again: %v", err)
			}
			c.checkInvariants(t, b)
		})
	}
}

// TestRecoverCreateUnjournaledEntry: the crash came after Image_Create_DM
// made the entry and before the journal said so; a guest defined before
// the create is never touched.
func TestRecoverCreateUnjournaledEntry(t *testing.T) {
	c := newCrashRig(t)
	ctx := context.Background()
	b := c.backend(t, crashAt("create", "", 1))
	recs, err := b.DirectoryRecords(spec("LINUX01"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateGuest(ctx, spec("LINUX01")); err == nil {
		t.Fatal("create did not stop")
	}
	if err := c.cl.ImageCreateDM(ctx, "LINUX01", recs); err != nil {
		t.Fatal(err)
	}
	// Someone else's guest, whose create stopped before Image_Create_DM.
	if err := c.cl.ImageCreateDM(ctx, "OTHER", []string{"USER OTHER LBYONLY 1G 2G G", "INCLUDE OSDFLT"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateGuest(ctx, spec("OTHER")); err == nil {
		t.Fatal("create did not stop")
	}
	b = c.restart(t)
	if _, ok := c.sim.Directory("LINUX01"); ok {
		t.Error("LINUX01's entry survived")
	}
	if _, ok := c.sim.Directory("OTHER"); !ok {
		t.Error("OTHER's entry, defined before the create, was deleted")
	}
	if ids, _ := b.ListGuests(ctx); len(ids) != 0 {
		t.Errorf("records %v", ids)
	}
}

// deployRig creates LINUX01 with a NIC and imports an image.
func deployRig(t *testing.T) (*crashRig, string) {
	t.Helper()
	c := newCrashRig(t)
	ctx := context.Background()
	b := c.backend(t, nil)
	img := filepath.Join(c.dir, "img.raw")
	iso := filepath.Join(c.dir, "cfgdrive.iso")
	os.WriteFile(img, make([]byte, 1<<20), 0o644)
	os.WriteFile(iso, []byte("config drive"), 0o644)
	if err := b.ImportImage(ctx, api.ImageImport{ImageName: "img1", URL: "file://" + img, ImageMeta: map[string]string{"os_version": "rhel9"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateGuest(ctx, spec("LINUX01")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateNIC(ctx, "LINUX01", api.NICSpec{MACAddr: "02:00:00:00:00:09"}); err != nil {
		t.Fatal(err)
	}
	return c, iso
}

func TestRecoverDeploy(t *testing.T) {
	for _, tc := range []struct {
		step     string
		n        int
		orphan   bool // punch a cfgdrive.iso as if the punch returned unjournaled
		finished bool
	}{
		{"", 1, false, false}, {"image", 1, false, false}, {"punching", 1, false, false}, {"punching", 1, true, false},
		{"punched", 1, false, false}, {"transferred", 1, false, false}, {"punched", 2, false, false},
		{"recorded", 1, false, true},
	} {
		name := tc.step + "-" + string(rune('0'+tc.n))
		if tc.orphan {
			name += "-unjournaled"
		}
		t.Run(name, func(t *testing.T) {
			c, iso := deployRig(t)
			ctx := context.Background()
			b := c.backend(t, crashAt("deploy", tc.step, tc.n))
			if err := b.Deploy(ctx, "LINUX01", api.DeploySpec{Image: "img1", TransportFiles: iso}); err == nil {
				t.Fatal("deploy did not stop")
			}
			if tc.orphan {
				if _, err := c.sim.CP().Punch(ctx, strings.NewReader("config drive"), "cfgdrive", "iso"); err != nil {
					t.Fatal(err)
				}
			}
			b = c.restart(t)
			c.checkInvariants(t, b)
			g, _, _ := zvm.NewBoltStore(c.st).Guest(ctx, "LINUX01")
			if (g.OSVersion == "rhel9") != tc.finished {
				t.Errorf("os_version %q after recovery", g.OSVersion)
			}
			before, _ := c.sim.Spool().Files("LINUX01", spool.QueueRDR)
			if err := b.Deploy(ctx, "LINUX01", api.DeploySpec{Image: "img1", TransportFiles: iso}); err != nil {
				t.Fatalf("deploy again: %v", err)
			}
			after, _ := c.sim.Spool().Files("LINUX01", spool.QueueRDR)
			if len(after) != len(before)+2 {
				t.Errorf("guest's reader: %d files before the new deploy, %d after", len(before), len(after))
			}
			c.checkInvariants(t, b)
		})
	}
}

func TestRecoverDelete(t *testing.T) {
	for _, step := range []string{"", "deleted"} {
		t.Run("step-"+step, func(t *testing.T) {
			c := newCrashRig(t)
			ctx := context.Background()
			b := c.backend(t, crashAt("delete", step, 1))
			if _, err := b.CreateGuest(ctx, spec("LINUX01")); err != nil {
				t.Fatal(err)
			}
			if err := b.DeleteGuest(ctx, "LINUX01"); err == nil {
				t.Fatal("delete did not stop")
			}
			b = c.restart(t)
			c.checkInvariants(t, b)
			if _, ok := c.sim.Directory("LINUX01"); ok {
				t.Error("delete not finished")
			}
		})
	}
}

// TestRecoverPunch: a NIC list punched outside a deploy is journaled too.
func TestRecoverPunch(t *testing.T) {
	c, _ := deployRig(t)
	ctx := context.Background()
	b := c.backend(t, crashAt("punch", "punched", 1))
	if _, err := b.CreateNetworkInterface(ctx, "LINUX01", api.InterfaceSpec{GuestNetworks: []api.GuestNetwork{{MACAddr: "02:00:00:00:00:0a"}}}); err == nil {
		t.Fatal("punch did not stop")
	}
	if fs, _ := c.sim.Spool().Files(c.sim.HostID(), spool.QueueRDR); len(fs) != 1 {
		t.Fatalf("connector's reader holds %d files before the restart", len(fs))
	}
	b = c.restart(t)
	c.checkInvariants(t, b)
}
