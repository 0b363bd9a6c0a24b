package cfgdrive

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestParseRejects(t *testing.T) {
	for _, b := range [][]byte{nil, make([]byte, 100), make([]byte, 40*2048)} {
		if _, err := Parse(b); !errors.Is(err, ErrInvalid) {
			t.Errorf("%d bytes: %v", len(b), err)
		}
	}
}

func TestPresentWithoutDrive(t *testing.T) {
	root := t.TempDir()
	out, _, err := Present(root)
	if err != nil || out != NoDrive {
		t.Fatalf("%q %v", out, err)
	}
	// A seed someone else made is never overwritten.
	os.MkdirAll(filepath.Join(root, SeedDir), 0o755)
	os.MkdirAll(filepath.Join(root, "var/lib/zguest"), 0o755)
	os.WriteFile(filepath.Join(root, ISOPath), []byte("junk"), 0o600)
	if _, _, err := Present(root); err == nil {
		t.Error("a bad kept drive was presented")
	}
}

func FuzzParse(f *testing.F) {
	f.Add(make([]byte, 20*2048))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Parse(b)
		if err == nil && d.UUID == "" {
			t.Fatal("drive without uuid accepted")
		}
	})
}
