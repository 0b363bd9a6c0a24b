package testutil

import (
	"os"
	"strings"
	"testing"
)

// fakeTB records a skip instead of stopping the goroutine.
type fakeTB struct {
	testing.TB
	skipped string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Skipf(format string, args ...any) {
	f.skipped = format
	if len(args) > 0 {
		f.skipped = strings.Replace(format, "%s", args[0].(string), 1)
	}
}

func TestRequireTool(t *testing.T) {
	f := &fakeTB{TB: t}
	RequireTool(f, "sh")
	if f.skipped != "" {
		t.Errorf("skipped for sh: %q", f.skipped)
	}
	RequireTool(f, "no-such-tool-zguest")
	if f.skipped != "needs tool: no-such-tool-zguest" {
		t.Errorf("skip message %q", f.skipped)
	}
}

func TestRequireRoot(t *testing.T) {
	f := &fakeTB{TB: t}
	RequireRoot(f, "testing")
	want := ""
	if os.Geteuid() != 0 {
		want = "needs root: testing"
	}
	if f.skipped != want {
		t.Errorf("skip message %q, want %q", f.skipped, want)
	}
}
