package kvm

import (
	"regexp"
	"testing"
	"time"
)

func TestBootTime(t *testing.T) {
	b, err := bootTime([]byte("cpu  1 2 3\nintr 5\nbtime 1496401630\nprocesses 9\n"))
	if err != nil || b.Unix() != 1496401630 {
		t.Fatalf("%v %v", b, err)
	}
	for _, bad := range []string{"", "btime x\n", "btime -1\n", "cpu 1\n"} {
		if _, err := bootTime([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if s := iplTime(time.UTC); !regexp.MustCompile(`^IPL at \d\d/\d\d/\d\d \d\d:\d\d:\d\d UTC$`).MatchString(s) {
		t.Errorf("this host's ipl_time %q", s)
	}
}

func FuzzBootTime(f *testing.F) {
	f.Add([]byte("btime 1496401630\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if bt, err := bootTime(b); err == nil && bt.Unix() <= 0 {
			t.Fatal(bt)
		}
	})
}
