package zvmsim_test

import (
	"context"
	"strings"
	"testing"

	"github.com/zguest/zguest/hostside/smapi"
	"github.com/zguest/zguest/hostside/zvmsim"
)

func call(s *zvmsim.Sim, fn, target string, p *smapi.Params) (int, int) {
	r := s.Handle(context.Background(), smapi.Request{Function: fn, Target: target, Params: p.Bytes()})
	return int(r.RC), int(r.RS)
}

func TestVswitchCoupling(t *testing.T) {
	s, err := zvmsim.New(zvmsim.Options{DiskDir: t.TempDir(), VSwitches: []string{"VSW1"}})
	if err != nil {
		t.Fatal(err)
	}
	var p smapi.Params
	p.String("").String("").String("").Array([]string{"USER G1 LBYONLY 1G 2G G"})
	call(s, smapi.FnImageCreateDM, "G1", &p)
	nic := func(kv ...string) *smapi.Params { var p smapi.Params; p.Keywords(kv...); return &p }
	call(s, smapi.FnVNACreateExtendedDM, "G1", nic("image_device_number=1000", "adapter_type=QDIO", "mac_id=ABCD01"))
	conn := func(vdev, sw string) *smapi.Params { var p smapi.Params; p.String(vdev).String(sw); return &p }
	disc := func(vdev string) *smapi.Params { var p smapi.Params; p.String(vdev); return &p }
	set := func(kv ...string) *smapi.Params { var p smapi.Params; p.Terminated(kv...); return &p }
	for _, c := range []struct {
		fn, target string
		p          *smapi.Params
		rc, rs     int
	}{
		{smapi.FnVswitchSetExtended, "ZCC", set("switch_name=NOPE", "grant_userid=G1"), 212, 40},
		{smapi.FnVNAConnectVswitchDM, "G1", conn("2000", "VSW1"), 404, 8},
		{smapi.FnVNAConnectVswitchDM, "NOBODY", conn("1000", "VSW1"), 400, 4},
		{smapi.FnVNADisconnectDM, "G1", disc("1000"), 212, 32},
		{smapi.FnVNAConnectVswitchDM, "G1", conn("1000", "VSW1"), 0, 0},
		{smapi.FnVNAConnectVswitch, "G1", conn("1000", "VSW1"), 200, 12}, // logged off
		{smapi.FnImageActivate, "G1", &smapi.Params{}, 0, 0},
		{smapi.FnVNAConnectVswitch, "G1", conn("1000", "VSW1"), 396, 6011}, // not granted
		{smapi.FnVNAConnectVswitch, "G1", conn("1000", "NOPE"), 212, 40},
		{smapi.FnVNAConnectVswitch, "G1", conn("2000", "VSW1"), 204, 8},
		{smapi.FnVswitchSetExtended, "ZCC", set("switch_name=VSW1", "grant_userid=G1", "user_vlan_id=7", "persist=YES"), 0, 0},
		{smapi.FnVNAConnectVswitch, "G1", conn("1000", "VSW1"), 0, 0},
		{smapi.FnVNAConnectVswitch, "G1", conn("1000", "VSW1"), 204, 20},
		{smapi.FnVNADisconnect, "G1", disc("1000"), 0, 0},
		{smapi.FnVNADisconnect, "G1", disc("1000"), 204, 48},
	} {
		if rc, rs := call(s, c.fn, c.target, c.p); rc != c.rc || rs != c.rs {
			t.Errorf("%s %s: %d/%d, want %d/%d", c.fn, c.target, rc, rs, c.rc, c.rs)
		}
	}
	recs, _ := s.Directory("G1")
	if !strings.Contains(strings.Join(recs, "\n"), "NICDEF 1000 TYPE QDIO DEVICES 3 LAN SYSTEM VSW1 MACID ABCD01") {
		t.Errorf("%q", recs)
	}
	if g, _ := s.VSwitchGrants("VSW1"); g["G1"] != 7 {
		t.Errorf("%v", g)
	}
	// Logoff uncouples, logon couples again from the directory.
	var none smapi.Params
	none.String("IMMED")
	call(s, smapi.FnImageDeactivate, "G1", &none)
	call(s, smapi.FnImageActivate, "G1", &smapi.Params{})
	if c := s.Coupled("G1", "1000"); c != "VSW1" {
		t.Errorf("after logon %q", c)
	}
	call(s, smapi.FnVswitchSetExtended, "ZCC", set("switch_name=VSW1", "revoke_userid=G1"))
	if g, _ := s.VSwitchGrants("VSW1"); len(g) != 0 {
		t.Errorf("%v", g)
	}
}
