package imagerepo

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/zguest/zguest/builder/qcow2"
	"github.com/zguest/zguest/hostside/source"
)

func TestFetchAndOpen(t *testing.T) {
	dir := t.TempDir()
	content := bytes.Repeat([]byte("zguest-dpm-"), 100000)[:1<<20+1536] // qcow2 sizes are whole sectors
	raw := filepath.Join(dir, "a.raw")
	if err := os.WriteFile(raw, content, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dst := filepath.Join(dir, "copy")
	sum, n, err := Fetch(ctx, SCP{}, nil, "file://"+raw, "", dst)
	if err != nil || n != int64(len(content)) || len(sum) != 32 {
		t.Fatalf("fetch: %q %d %v", sum, n, err)
	}
	if _, _, err := Fetch(ctx, SCP{}, nil, "http://x/a", "", filepath.Join(dir, "b")); !errors.Is(err, ErrBadURL) {
		t.Errorf("http URL: %v", err)
	}
	if _, _, err := Fetch(ctx, SCP{}, nil, "file://"+raw, "-oX=y@h", filepath.Join(dir, "c")); !errors.Is(err, ErrRemoteHost) {
		t.Errorf("bad remote host: %v", err)
	}
	if _, _, err := Fetch(ctx, SCP{}, nil, "file:///nonexistent", "", filepath.Join(dir, "d")); !errors.Is(err, ErrLocalCopy) {
		t.Errorf("missing file: %v", err)
	}
	if _, _, err := Fetch(ctx, SCP{Binary: "/bin/false"}, nil, "file:///x", "u@h", filepath.Join(dir, "e")); !errors.Is(err, ErrRemoteCopy) {
		t.Errorf("failing scp: %v", err)
	}
	d, err := Open(dst)
	if err != nil || d.Format != Raw || d.Size != int64(len(content)) {
		t.Fatalf("open raw: %+v %v", d, err)
	}
	d.Close()
	in, _ := os.Open(raw)
	defer in.Close()
	src, err := qcow2.NewRawFile(in)
	if err != nil {
		t.Fatal(err)
	}
	q := filepath.Join(dir, "a.qcow2")
	out, _ := os.Create(q)
	if _, err := qcow2.Write(out, src, qcow2.Options{}); err != nil {
		t.Fatal(err)
	}
	out.Close()
	d, err = Open(q)
	if err != nil || d.Format != QCOW2 || d.Size != int64(len(content)) {
		t.Fatalf("open qcow2: %+v %v", d, err)
	}
	defer d.Close()
	got, err := io.ReadAll(io.NewSectionReader(d, 0, d.Size))
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("qcow2 contents differ (%v)", err)
	}
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o644)
	if _, err := Open(empty); err == nil {
		t.Error("an empty file opened as a disk")
	}
}

// FuzzOpen: whatever a repository file holds, Open and reading the disk
// return errors, never panic.
func FuzzOpen(f *testing.F) {
	f.Add([]byte("QFI\xfb\x00\x00\x00\x03"))
	f.Add([]byte("raw disk"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "f")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		d, err := Open(p)
		if err != nil {
			return
		}
		defer d.Close()
		buf := make([]byte, 4096)
		_, _ = d.ReadAt(buf, 0)
	})
}

// TestCopyUnderPolicy: the DPM backend's copies (file:// imports and
// transport files) open under the source policy, so a symbolic link
// swapped in after the API's check cannot lead out of source_dirs.
func TestCopyUnderPolicy(t *testing.T) {
	dir := t.TempDir()
	allowed := filepath.Join(dir, "images")
	os.Mkdir(allowed, 0o755)
	secret := filepath.Join(dir, "secret")
	os.WriteFile(secret, []byte("secret"), 0o600)
	pol := &source.Policy{Dirs: []string{allowed}}
	ok := filepath.Join(allowed, "ok.raw")
	os.WriteFile(ok, []byte("image"), 0o644)
	ctx := context.Background()
	if _, n, err := Fetch(ctx, SCP{}, pol, "file://"+ok, "", filepath.Join(dir, "a")); err != nil || n != 5 {
		t.Fatalf("a file under the policy: %d %v", n, err)
	}
	link := filepath.Join(allowed, "swapped.raw")
	os.Symlink(secret, link)
	if _, _, err := Fetch(ctx, SCP{}, pol, "file://"+link, "", filepath.Join(dir, "b")); !errors.Is(err, ErrLocalCopy) {
		t.Errorf("import through a link out: %v", err)
	}
	if _, _, err := CopyHash(ctx, pol, link, filepath.Join(dir, "c")); err == nil {
		t.Error("transport file through a link out copied")
	}
	if _, err := os.Stat(filepath.Join(dir, "c")); !os.IsNotExist(err) {
		t.Errorf("refused copy left its destination: %v", err)
	}
}
