package zvm_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/smapi"
	"github.com/zguest/zguest/hostside/zvm"
	"github.com/zguest/zguest/hostside/zvmsim"
)

// vswRig is a rig whose simulator has the vswitches VSW1 and VSW2 and
// whose backend knows the connector's userid.
func vswRig(t *testing.T) *rig {
	t.Helper()
	dir := t.TempDir()
	sim, cl := serveSim(t, zvmsim.Options{DiskDir: filepath.Join(dir, "disks"), VSwitches: []string{"VSW1", "vsw2"}})
	b, err := zvm.New(zvm.Config{SMAPI: cl, CP: sim.CP(), Disks: sim.CP(), ImageRepo: filepath.Join(dir, "images"), DiskPool: "ECKD:POOL1"})
	if err != nil {
		t.Fatal(err)
	}
	return &rig{sim: sim, b: b, cl: cl, dir: dir}
}

func nicdef(t *testing.T, r *rig, userid, vdev string) string {
	t.Helper()
	recs, _ := r.sim.Directory(userid)
	for _, rec := range recs {
		if strings.HasPrefix(rec, "NICDEF "+vdev+" ") {
			return rec
		}
	}
	t.Fatalf("no NICDEF %s in %q", vdev, recs)
	return ""
}

func TestCoupleNIC(t *testing.T) {
	r := vswRig(t)
	ctx := context.Background()
	if _, err := r.b.CreateGuest(ctx, spec("LINUX01")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.b.CreateNIC(ctx, "LINUX01", api.NICSpec{MACAddr: "02:00:00:ab:cd:01"}); err != nil {
		t.Fatal(err)
	}

	// Inactive couple: grant (with the VLAN), then the NICDEF.
	if err := r.b.CoupleNIC(ctx, "LINUX01", "1000", api.Couple{Couple: true, VSwitch: "vsw1", VLANID: 10}); err != nil {
		t.Fatal(err)
	}
	if got := nicdef(t, r, "LINUX01", "1000"); got != "NICDEF 1000 TYPE QDIO DEVICES 3 LAN SYSTEM VSW1 MACID ABCD01" {
		t.Errorf("directory: %q", got)
	}
	if g, _ := r.sim.VSwitchGrants("VSW1"); g["LINUX01"] != 10 {
		t.Errorf("grants %v", g)
	}
	if g, _, _ := r.b.Store().Guest(ctx, "LINUX01"); g.NICs[0].VSwitch != "VSW1" {
		t.Errorf("record %+v", g.NICs)
	}
	// Again: nothing to do.
	if err := r.b.CoupleNIC(ctx, "LINUX01", "1000", api.Couple{Couple: true, VSwitch: "VSW1"}); err != nil {
		t.Error(err)
	}

	// Unknown vswitch (Set_Extended 212/40): 404, directory unchanged.
	err := r.b.CoupleNIC(ctx, "LINUX01", "1000", api.Couple{Couple: true, VSwitch: "NOSUCH"})
	if e := apiErr(t, err); e.OverallRC != 404 || e.ModID != api.ModNetwork {
		t.Errorf("%+v", e)
	}
	// Bad name: input error, nothing sent.
	err = r.b.CoupleNIC(ctx, "LINUX01", "1000", api.Couple{Couple: true, VSwitch: "a;b"})
	if e := apiErr(t, err); e.OverallRC != 100 {
		t.Errorf("%+v", e)
	}
	// Unknown NIC.
	err = r.b.CoupleNIC(ctx, "LINUX01", "2000", api.Couple{Couple: true, VSwitch: "VSW1"})
	if e := apiErr(t, err); e.OverallRC != 404 {
		t.Errorf("%+v", e)
	}
	// Active on a guest that is off: the original's 409 rs 1.
	err = r.b.CoupleNIC(ctx, "LINUX01", "1000", api.Couple{Couple: true, VSwitch: "VSW2", Active: true})
	if e := apiErr(t, err); e.OverallRC != 409 || e.RS != 1 {
		t.Errorf("%+v", e)
	}

	// Logon couples what the directory says (granted).
	if err := r.b.Action(ctx, "LINUX01", api.PowerAction{Name: "start"}); err != nil {
		t.Fatal(err)
	}
	if c := r.sim.Coupled("LINUX01", "1000"); c != "VSW1" {
		t.Errorf("coupled at logon: %q", c)
	}
	// Active uncouple, then active couple to VSW2.
	if err := r.b.CoupleNIC(ctx, "LINUX01", "1000", api.Couple{Couple: false, Active: true}); err != nil {
		t.Fatal(err)
	}
	if got := nicdef(t, r, "LINUX01", "1000"); strings.Contains(got, "LAN") || r.sim.Coupled("LINUX01", "1000") != "" {
		t.Errorf("after uncouple: %q, coupled %q", got, r.sim.Coupled("LINUX01", "1000"))
	}
	// Uncoupling again is fine (212/32 and 204/48 tolerated).
	if err := r.b.CoupleNIC(ctx, "LINUX01", "1000", api.Couple{Couple: false, Active: true}); err != nil {
		t.Error(err)
	}
	if err := r.b.CoupleNIC(ctx, "LINUX01", "1000", api.Couple{Couple: true, VSwitch: "VSW2", Active: true}); err != nil {
		t.Fatal(err)
	}
	if got := nicdef(t, r, "LINUX01", "1000"); !strings.Contains(got, "LAN SYSTEM VSW2") || r.sim.Coupled("LINUX01", "1000") != "VSW2" {
		t.Errorf("after active couple: %q, coupled %q", got, r.sim.Coupled("LINUX01", "1000"))
	}

	// The active couple fails (CP refuses): the directory coupling is
	// rolled back and the record keeps the NIC uncoupled.
	if err := r.b.CoupleNIC(ctx, "LINUX01", "1000", api.Couple{Couple: false, Active: true}); err != nil {
		t.Fatal(err)
	}
	r.sim.FailNext(smapi.FnVNAConnectVswitch, 396, 6011, 1)
	err = r.b.CoupleNIC(ctx, "LINUX01", "1000", api.Couple{Couple: true, VSwitch: "VSW1", Active: true})
	if e := apiErr(t, err); e.OverallRC != 409 || e.RS != 10 || e.ModID != api.ModNetwork {
		t.Errorf("%+v", e)
	}
	if got := nicdef(t, r, "LINUX01", "1000"); strings.Contains(got, "LAN") {
		t.Errorf("not rolled back: %q", got)
	}
	if g, _, _ := r.b.Store().Guest(ctx, "LINUX01"); g.NICs[0].VSwitch != "" {
		t.Errorf("record %+v", g.NICs)
	}
	// The rollback fails too: the original's 300 rs 3.
	r.sim.FailNext(smapi.FnVNAConnectVswitch, 396, 6011, 1)
	r.sim.FailNext(smapi.FnVNADisconnectDM, 396, 0, 1)
	err = r.b.CoupleNIC(ctx, "LINUX01", "1000", api.Couple{Couple: true, VSwitch: "VSW1", Active: true})
	if e := apiErr(t, err); e.OverallRC != 300 || e.RS != 3 {
		t.Errorf("%+v", e)
	}
}
