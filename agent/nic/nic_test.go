package nic

import (
	"net"
	"strings"
	"testing"

	"github.com/zguest/zguest/agent/ccw"
)

func mac(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

func TestCheckMAC(t *testing.T) {
	for s, ok := range map[string]bool{
		"02:00:00:00:00:01": true, "fa:16:3e:00:00:01": true, "0a:00:00:00:00:11": true, "0e:00:00:00:00:11": true,
		// Universally administered unicast: the kernel takes it.
		"00:00:00:00:00:01": true, "00:00:00:00:00:11": true, "08:00:27:00:00:01": true,
		"00:00:00:00:00:00": false, "03:00:00:00:00:01": false, "01:00:5e:00:00:01": false, "ff:ff:ff:ff:ff:ff": false,
	} {
		if err := CheckMAC(mac(s)); (err == nil) != ok {
			t.Errorf("CheckMAC(%s) = %v, want ok=%v", s, err, ok)
		}
	}
}

func TestMACWarning(t *testing.T) {
	for s, warn := range map[string]bool{
		"00:00:00:00:00:11": true, "08:00:27:00:00:01": true, "f0:00:00:00:00:01": true,
		"02:00:00:00:00:01": false, "fa:16:3e:00:00:01": false, "0e:00:00:00:00:11": false,
	} {
		w := MACWarning(mac(s))
		if (w != "") != warn {
			t.Errorf("MACWarning(%s) = %q, want a warning: %v", s, w, warn)
		}
		if warn && !strings.Contains(w, "universally administered") {
			t.Errorf("MACWarning(%s) = %q", s, w)
		}
	}
}

func TestMergePrecedenceAndConflicts(t *testing.T) {
	a, _ := New(ccw.MustParse("0.0.f500"), "niclist")
	a.MAC = mac("02:00:00:00:00:01")
	a.Port = 1
	b, _ := New(ccw.MustParse("0.0.f500"), "cmdline")
	b.MAC = mac("02:00:00:00:00:02")
	b.Port = 1
	c, _ := New(ccw.MustParse("0.0.0600"), "rd.znet")
	c.Layer2 = Layer3
	got, probs := Merge([]NIC{a}, []NIC{b, c})
	if len(got) != 2 || got[0].Read.String() != "0.0.0600" || got[1].Read.String() != "0.0.f500" {
		t.Fatalf("order: %+v", got)
	}
	if got[1].MAC.String() != "02:00:00:00:00:01" {
		t.Errorf("earlier source must win, got %s", got[1].MAC)
	}
	if len(probs) != 1 || !strings.Contains(probs[0].Reason, "MAC 02:00:00:00:00:02 conflicts") {
		t.Errorf("problems: %v", probs)
	}
	if strings.Join(got[1].Sources, "|") != "niclist|cmdline" {
		t.Errorf("sources %v", got[1].Sources)
	}
}

func TestMergeFillsMissingFields(t *testing.T) {
	a, _ := New(ccw.MustParse("0.0.f500"), "cmdline")
	b, _ := New(ccw.MustParse("0.0.f500"), "rd.znet")
	b.Write, b.Data, b.Explicit = ccw.MustParse("0.0.f501"), ccw.MustParse("0.0.f504"), true
	b.Layer2 = Layer2
	b.Attrs = []Attr{{"buffer_count", "128"}}
	got, probs := Merge([]NIC{a}, []NIC{b})
	if len(probs) != 0 {
		t.Fatal(probs)
	}
	n := got[0]
	if !n.Explicit || n.Data.String() != "0.0.f504" || n.Layer2 != Layer2 || len(n.Attrs) != 1 {
		t.Errorf("%+v", n)
	}
}
