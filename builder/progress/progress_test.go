package progress

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

func TestBar(t *testing.T) {
	var b bytes.Buffer
	bar := NewWriter(&b, "convert", 10)
	bar.Update(0, 2<<30)
	bar.Update(1<<30, 2<<30) // throttled
	bar.Update(2<<30, 2<<30) // completion always drawn
	bar.Done()
	out := b.String()
	if !strings.Contains(out, "\rconvert [          ]   0% 0 B/2.0 GiB") || !strings.Contains(out, "[##########] 100% 2.0 GiB/2.0 GiB") || strings.Contains(out, " 50%") {
		t.Errorf("output %q", out)
	}
}

func TestNotATerminal(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "x")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if bar := New(f, "x"); bar != nil {
		t.Fatal("bar on a regular file")
	}
	var nilBar *Bar
	nilBar.Update(1, 2) // must not panic
	nilBar.Done()
}
