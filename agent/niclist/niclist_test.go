package niclist

import (
	"errors"
	"strings"
	"testing"

	"github.com/zguest/zguest/agent/nic"
)

func TestParseExample(t *testing.T) {
	doc := `{"version": 1, "nics": [
	  {"read": "0.0.F500", "port": 0, "mac": "fa:16:3e:00:00:01"},
	  {"read": "0a00", "write": "0.0.0a01", "data": "0.0.0a05", "port": 1, "mac": "02:00:00:00:0a:00", "layer2": true, "ifname": "storage0"},
	  {"read": "0.0.0b00", "layer2": false}
	]}` + "\x00\x00\x00"
	nics, probs, err := Parse([]byte(doc), "nics.json")
	if err != nil || len(probs) != 0 {
		t.Fatal(err, probs)
	}
	if len(nics) != 3 {
		t.Fatalf("%d NICs", len(nics))
	}
	if n := nics[0]; n.Read.String() != "0.0.f500" || n.Data.String() != "0.0.f502" || n.Explicit || n.MAC.String() != "fa:16:3e:00:00:01" {
		t.Errorf("%+v", n)
	}
	if n := nics[1]; !n.Explicit || n.Data.String() != "0.0.0a05" || n.Port != 1 || n.IfName != "storage0" || n.Layer2 != nic.Layer2 {
		t.Errorf("%+v", n)
	}
	if nics[2].Layer2 != nic.Layer3 || nics[2].Port != -1 {
		t.Errorf("%+v", nics[2])
	}
}

func TestParseFileErrors(t *testing.T) {
	for doc, want := range map[string]string{
		`{"nics": []}`:                  `no "version" field`,
		`{"version": 2, "nics": []}`:    "version 2; this agent reads version 1",
		`{"version": 1, "nicz": []}`:    `unknown field "nicz"`,
		`not json`:                      "invalid character",
		`{"version": 1, "nics": []} {}`: "data after the JSON document",
		strings.Repeat(" ", MaxSize+1):  "more than the",
	} {
		_, _, err := Parse([]byte(doc), "f")
		if err == nil || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), want) {
			t.Errorf("%.40q: err %v, want %q", doc, err, want)
		}
	}
}

func TestParseEntryProblems(t *testing.T) {
	doc := `{"version": 1, "nics": [
	  {"read": "0.0.f500", "mca": "x"},
	  {"read": "0.0.f600", "mac": "01:00:00:00:00:01"},
	  {"read": "0.0.f700", "write": "0.0.f701"},
	  {"read": "0.0.f800", "port": 16},
	  {"read": "0.0.f900", "mac": "02:00:00:00:00:09"},
	  {"read": "0.0.f901"},
	  {"mac": "02:00:00:00:00:09"},
	  {"read": "0.0.fa00", "ifname": "../../etc"}
	]}`
	nics, probs, err := Parse([]byte(doc), "f")
	if err != nil {
		t.Fatal(err)
	}
	if len(nics) != 1 || nics[0].Read.String() != "0.0.f900" {
		t.Errorf("nics %+v", nics)
	}
	want := []string{`nics[0] `, "nics[1].mac", "nics[2].write", "nics[3].port", "nics[5]: subchannel 0.0.f901 is already used by nics[4]", "nics[6].read", "nics[7].ifname"}
	if len(probs) != len(want) {
		t.Fatalf("problems %v", probs)
	}
	for i, w := range want {
		if !strings.Contains(probs[i].String(), w) {
			t.Errorf("problem %d = %q, want %q", i, probs[i], w)
		}
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	in := `{"version": 1, "nics": [{"read": "0.0.f500", "write": "0.0.f501", "data": "0.0.f504", "port": 1, "mac": "02:00:00:00:00:01", "layer2": true, "ifname": "x0"}, {"read": "0.0.0600"}]}`
	a, _, err := Parse([]byte(in), "f")
	if err != nil {
		t.Fatal(err)
	}
	out, err := Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	b, probs, err := Parse(out, "g")
	if err != nil || len(probs) != 0 {
		t.Fatal(err, probs)
	}
	out2, _ := Marshal(b)
	if string(out) != string(out2) {
		t.Errorf("not stable:\n%s\n%s", out, out2)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"version": 1, "nics": [{"read": "0.0.f500", "port": 0, "mac": "fa:16:3e:00:00:01"}]}`))
	f.Add([]byte(`{"version": 1, "nics": [{"read": "f500", "write": "f501", "data": "f502", "layer2": false}]}`))
	f.Add([]byte("{\"version\":1}\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		nics, _, err := Parse(data, "fuzz")
		if err != nil {
			return
		}
		for _, n := range nics {
			if n.MAC != nil && nic.CheckMAC(n.MAC) != nil {
				t.Fatalf("accepted bad MAC %s", n.MAC)
			}
		}
		if out, err := Marshal(nics); err == nil {
			again, probs, err := Parse(out, "again")
			if err != nil || len(probs) != 0 || len(again) != len(nics) {
				t.Fatalf("re-parse of marshalled list: %v %v", err, probs)
			}
		}
	})
}
