package qeth

import (
	"strings"
	"testing"

	"github.com/zguest/zguest/agent/ccw"
)

func FuzzParseIgnoreList(f *testing.F) {
	for _, s := range []string{"0.0.0000-0.0.0009\n0.0.f500\n", "", "0.1.0000-0.1.ffff\n", "0.0.zzzz", "0.0.0001-\n", "-0.0.0001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseIgnoreList(s)
		if err != nil {
			return
		}
		// Every single id listed is contained.
		for _, line := range strings.Split(s, "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.Contains(line, "-") {
				continue
			}
			if id, err := ccw.Parse(line); err == nil && !l.Contains(id) {
				t.Fatalf("%s listed but not contained", id)
			}
		}
	})
}

func FuzzParseNetDevPath(f *testing.F) {
	for _, s := range []string{"/devices/qeth/0.0.f500/net/encf500", "/devices/virtual/net/lo", "/net/x", "", "/devices/qeth/0.0.f500/net/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, name, ok := ParseNetDevPath(s)
		if !ok {
			return
		}
		if _, err := ccw.Parse(id); err != nil || name == "" || strings.Contains(name, "/") {
			t.Fatalf("%q -> %q %q", s, id, name)
		}
	})
}
