package smapi_test

import (
	"testing"

	"github.com/zguest/zguest/hostside/smapi"
)

func TestExtentBytes(t *testing.T) {
	// The figures of smtLayer's test_getHost.py _getDiskSize cases.
	for _, c := range []struct {
		rec  string
		want int64
	}{
		{"v1 9336-? 1 10000000 POOL", 5120000000},
		{"v1 3390-? 1 10016 POOL", 7384596480},
		{"v1 ???? 1 10016 POOL", 7384596480},
		{"v1 ???? 1 10000000 POOL", 5120000000},
		{"VOL001 3390-09 0001 0100 LINUX01 0100 MR POOL1 X", 73728000},
	} {
		e, err := smapi.ParseExtent(c.rec)
		if err != nil || e.Bytes() != c.want {
			t.Errorf("%q: %+v %d %v", c.rec, e, e.Bytes(), err)
		}
	}
	if e, _ := smapi.ParseExtent("VOL001 3390-09 0001 0100 LINUX01 0100 MR POOL1 X"); e.Group != "POOL1" {
		t.Errorf("9-field record's group: %q", e.Group)
	}
	for _, bad := range []string{"", "a b c d", "v 3390 x 1 P", "v 3390 1 -5 P"} {
		if _, err := smapi.ParseExtent(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestProcessorCounts(t *testing.T) {
	var p smapi.Params
	p.String("Z/VM").Array([]string{"0000 MASTER-PROCESSOR CP 0000", "0002 ALTERNATE IFL 0001", "0003 PARKED IFL 0001", "0004 STANDBY IFL 0002"})
	procs, err := smapi.DecodeProcessors(p.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if total, used := procs.Counts(); total != 4 || used != 3 || procs.PartitionMode != "Z/VM" {
		t.Errorf("total %d used %d %+v", total, used, procs)
	}
}

func FuzzHostReplies(f *testing.F) {
	var p smapi.Params
	p.String("Z/VM").Array([]string{"0000 MASTER-PROCESSOR CP 0000"})
	f.Add(p.Bytes(), "VOL001 3390-09 0001 10016 POOL1")
	f.Fuzz(func(t *testing.T, b []byte, rec string) {
		if procs, err := smapi.DecodeProcessors(b); err == nil {
			if total, used := procs.Counts(); total < 0 || used < 0 || total > len(procs.List) {
				t.Fatalf("%d %d", total, used)
			}
		}
		if e, err := smapi.ParseExtent(rec); err == nil && (e.Size < 0 || e.Bytes() < 0 && e.Size < 1<<40) {
			t.Fatalf("%+v", e)
		}
	})
}
