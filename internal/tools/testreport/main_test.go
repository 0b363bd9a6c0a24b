package main

import (
	"bytes"
	"strings"
	"testing"
)

const sample = `{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Test":"TestA","Output":"=== RUN   TestA\n"}
{"Action":"pass","Package":"p","Test":"TestA"}
{"Action":"run","Package":"p","Test":"TestB"}
{"Action":"output","Package":"p","Test":"TestB","Output":"    b_test.go:12: needs root: FUSE mounts\n"}
{"Action":"skip","Package":"p","Test":"TestB"}
{"Action":"pass","Package":"p"}
`

func TestRootSkipFailsOnlyAsRoot(t *testing.T) {
	for _, tc := range []struct {
		root, strict bool
		want         int
	}{{false, false, 0}, {true, false, 1}, {false, true, 1}} {
		var out bytes.Buffer
		if got := run(strings.NewReader(sample), &out, tc.root, tc.strict, false); got != tc.want {
			t.Errorf("root=%v strict=%v: exit %d, want %d\n%s", tc.root, tc.strict, got, tc.want, out.String())
		}
		if !strings.Contains(out.String(), "1 passed, 0 failed, 1 skipped") {
			t.Errorf("summary line missing:\n%s", out.String())
		}
		if !strings.Contains(out.String(), "needs root: FUSE mounts") {
			t.Errorf("skip reason missing:\n%s", out.String())
		}
	}
}

func TestFailureExitsNonZero(t *testing.T) {
	in := `{"Action":"output","Package":"p","Test":"TestC","Output":"boom\n"}
{"Action":"fail","Package":"p","Test":"TestC"}
{"Action":"fail","Package":"p"}
`
	var out bytes.Buffer
	if got := run(strings.NewReader(in), &out, false, false, false); got != 1 {
		t.Fatalf("exit %d, want 1", got)
	}
	if !strings.Contains(out.String(), "boom") || !strings.Contains(out.String(), "0 passed, 1 failed, 0 skipped") {
		t.Errorf("output:\n%s", out.String())
	}
}
