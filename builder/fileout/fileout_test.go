package fileout

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCommitAndAbort(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.img")
	f, err := Create(p)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("data")
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Fatal("final name exists before Commit")
	}
	if err := f.Commit(true); err != nil {
		t.Fatal(err)
	}
	f.Abort() // no effect after Commit
	if b, _ := os.ReadFile(p); string(b) != "data" {
		t.Fatalf("content %q", b)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", st.Mode())
	}

	g, err := Create(filepath.Join(dir, "other.img"))
	if err != nil {
		t.Fatal(err)
	}
	g.WriteString("partial")
	g.Abort()
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("directory holds %d entries after Abort, want 1", len(ents))
	}
	if _, err := Create(dir); err == nil {
		t.Error("Create on a directory succeeded")
	}
}
