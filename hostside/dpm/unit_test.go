package dpm

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/hmc"
)

func TestTokens(t *testing.T) {
	ts := []token{{devno: "0001", port: 0, mac: "aabbccddeeff"}, {devno: "000A", port: 1, mac: "020000000001"}}
	s := appendTokens("", ts)
	if s != " 0001,0,aabbccddeeff; 000A,1,020000000001;" {
		t.Fatalf("%q", s)
	}
	if len(s) != 2*tokenLen {
		t.Errorf("length %d, want %d", len(s), 2*tokenLen)
	}
	for _, in := range []string{s, "0001,0,aabbccddeeff;000A,1,020000000001;", "root=x 0001,0,AABBCCDDEEFF; 000A,1,020000000001;"} {
		got := parseTokens(in)
		if fmt.Sprint(got) != fmt.Sprint(ts) {
			t.Errorf("parse %q: %v", in, got)
		}
	}
	if got := parseTokens("x10001,0,aabbccddeeff;"); len(got) != 0 {
		t.Errorf("token inside a word matched: %v", got)
	}
	if got := removeToken(s, "000a"); got != " 0001,0,aabbccddeeff;" {
		t.Errorf("remove: %q", got)
	}
	if got := removeToken("0001,0,aabbccddeeff;000A,1,020000000001;", "0001"); got != "000A,1,020000000001;" {
		t.Errorf("remove back to back first: %q", got)
	}
	if got := removeToken("0001,0,aabbccddeeff;000A,1,020000000001;", "000A"); got != "0001,0,aabbccddeeff;" {
		t.Errorf("remove back to back second: %q", got)
	}
}

func TestCheckLen(t *testing.T) {
	if err := checkLen("", 12); err != nil {
		t.Errorf("12 NICs: %v", err)
	}
	err := checkLen("", 13)
	var ae *api.Error
	if !errors.As(err, &ae) || ae.ModID != api.ModNetwork || !strings.Contains(ae.Msg, "273") {
		t.Errorf("13 NICs: %v", err)
	}
	var tok11 []token
	for i := 0; i < 11; i++ {
		tok11 = append(tok11, token{devno: fmt.Sprintf("%04X", i), mac: "020000000001"})
	}
	eleven := appendTokens("", tok11)
	if err := checkLen(eleven, 1); err != nil {
		t.Errorf("11+1: %v", err)
	}
	if err := checkLen(eleven, 2); err == nil {
		t.Error("11+2 accepted")
	}
}

func TestNormMAC(t *testing.T) {
	for in, want := range map[string]string{"AA:bb:cc:dd:ee:ff": "aabbccddeeff", "02-00-00-00-00-01": "020000000001", "": ""} {
		if got, err := normMAC(in); got != want || err != nil {
			t.Errorf("%q: %q %v", in, got, err)
		}
	}
	for _, in := range []string{"aa:bb", "zz:bb:cc:dd:ee:ff", "aabbccddeeff00"} {
		if _, err := normMAC(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
	if colonMAC("aabbccddeeff") != "aa:bb:cc:dd:ee:ff" {
		t.Error("colonMAC")
	}
}

func TestBootProps(t *testing.T) {
	b := &Backend{}
	p, err := b.bootProps("storage-volume:/api/storage-groups/g1/storage-volumes/v1")
	if err != nil || p["boot-device"] != "storage-volume" || p["boot-storage-volume"] != "/api/storage-groups/g1/storage-volumes/v1" {
		t.Errorf("volume: %v %v", p, err)
	}
	p, err = b.bootProps("fcp:0x500507630B0017A8:4000400E")
	if err != nil || p["boot-device"] != "storage-adapter" || p["boot-world-wide-port-name"] != "500507630b0017a8" || p["boot-logical-unit-number"] != "000000004000400e" {
		t.Errorf("fcp: %v %v", p, err)
	}
	for _, bad := range []string{"", "ubuntu.img", "fcp:1234:1", "fcp:500507630b0017a8:", "storage-volume:/etc/passwd"} {
		if _, err := b.bootProps(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestErrorMapping(t *testing.T) {
	for _, tc := range []struct {
		err             error
		overall, rc, rs int
	}{
		{&hmc.Error{HTTPStatus: 404, Reason: 1, Message: "gone"}, 404, 404, 1},
		{&hmc.Error{HTTPStatus: 409, Reason: 1, Message: "not in a valid state"}, 409, 409, 1},
		{&hmc.Error{HTTPStatus: 400, Reason: 8, Message: "not unique"}, 409, 400, 8},
		{&hmc.Error{HTTPStatus: 400, Reason: 6, Message: "unrecognized field"}, 300, 400, 6},
		{&hmc.Error{HTTPStatus: 500, Reason: 263, Message: "job failed"}, 300, 500, 263},
		{&hmc.Error{Method: "GET", URI: "/api/x", Err: errors.New("connection refused")}, 503, 503, 0},
		{errors.New("other"), 500, 500, 0},
	} {
		e := api.AsError(hmcErr(api.ModGuest, "op", tc.err))
		if e.OverallRC != tc.overall || e.RC != tc.rc || e.RS != tc.rs || e.ModID != api.ModGuest {
			t.Errorf("%v: got %d/%d/%d", tc.err, e.OverallRC, e.RC, e.RS)
		}
		if he, ok := tc.err.(*hmc.Error); ok && he.Message != "" && !strings.Contains(e.Msg, he.Message) {
			t.Errorf("message lost: %q", e.Msg)
		}
	}
}

func TestNames(t *testing.T) {
	b := &Backend{cfg: Config{Host: strings.Repeat("h", 45)}}
	if n := b.PartitionName("ABCDEFGH"); len(n) != 64 {
		t.Errorf("%q is %d long", n, len(n))
	}
	for _, h := range []string{"", "a.b", strings.Repeat("h", 46), "a b"} {
		if hostRE.MatchString(h) {
			t.Errorf("host %q accepted", h)
		}
	}
	if seVersion("2.13.1") != 2013001 || seVersion("2.15.0") != 2015000 {
		t.Error("seVersion")
	}
	for st, want := range map[string]string{"active": "on", "degraded": "on", "starting": "on", "stopped": "off", "paused": "off", "terminated": "off", "status-check": "off"} {
		if powerState(st) != want {
			t.Errorf("%s: %s", st, powerState(st))
		}
	}
}
