package fstree

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestSplitPath(t *testing.T) {
	for _, bad := range []string{"", "/abs", "a/../b", "..", "a//b", "a/./b", "a\x00b", "bad\xff", strings.Repeat("x", 256),
		"a/b/c/d/e/f/g/h/i", "ctl\x01"} {
		if _, err := SplitPath(bad); !errors.Is(err, ErrInvalidPath) {
			t.Errorf("SplitPath(%q) = %v, want ErrInvalidPath", bad, err)
		}
	}
	for _, good := range []string{"a", "openstack/latest/meta_data.json", strings.Repeat("x", 255), "über/naмe", "a/b/c/d/e/f/g/h"} {
		if _, err := SplitPath(good); err != nil {
			t.Errorf("SplitPath(%q): %v", good, err)
		}
	}
}

func TestTree(t *testing.T) {
	tr := New()
	if err := tr.AddBytes("b/x", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if err := tr.AddBytes("a", []byte("22")); err != nil {
		t.Fatal(err)
	}
	if err := tr.AddBytes("a", nil); err == nil {
		t.Error("duplicate file accepted")
	}
	if err := tr.AddBytes("a/y", nil); err == nil {
		t.Error("file used as a directory")
	}
	var got []string
	tr.Walk(func(p string, n *Node) error { got = append(got, p); return nil })
	if strings.Join(got, ",") != "a,b,b/x" {
		t.Errorf("walk order %v", got)
	}
	b, err := tr.ReadFile("a", 10)
	if err != nil || string(b) != "22" {
		t.Errorf("ReadFile = %q, %v", b, err)
	}
	if _, err := tr.ReadFile("a", 1); err == nil {
		t.Error("limit not enforced")
	}
}

func TestFromDir(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "openstack", "latest"), 0o755)
	os.WriteFile(filepath.Join(dir, "openstack", "latest", "meta_data.json"), []byte("{}"), 0o644)
	os.WriteFile(filepath.Join(dir, "run.sh"), []byte("#!/bin/sh\n"), 0o755)
	tr, err := FromDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if n := tr.Lookup("run.sh"); n == nil || !n.Exec || n.Size != 10 {
		t.Errorf("run.sh: %+v", n)
	}
	var buf bytes.Buffer
	if err := CopyFile(&buf, tr.Lookup("openstack/latest/meta_data.json"), make([]byte, 16)); err != nil || buf.String() != "{}" {
		t.Errorf("CopyFile = %q, %v", buf.String(), err)
	}
	// A file that grows after the tree was built is an error.
	os.WriteFile(filepath.Join(dir, "run.sh"), []byte("#!/bin/sh\nexit 0\n"), 0o755)
	if err := CopyFile(new(bytes.Buffer), tr.Lookup("run.sh"), make([]byte, 16)); err == nil || !strings.Contains(err.Error(), "grew") {
		t.Errorf("grown file: %v", err)
	}

	link := t.TempDir()
	os.Symlink("/etc/passwd", filepath.Join(link, "escape"))
	if _, err := FromDir(link); !errors.Is(err, ErrInvalidPath) || !strings.Contains(err.Error(), "symlink") {
		t.Errorf("symlink: %v", err)
	}
	fifo := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(fifo, "pipe"), 0o644); err == nil {
		if _, err := FromDir(fifo); !errors.Is(err, ErrInvalidPath) {
			t.Errorf("fifo: %v", err)
		}
	}
	if _, err := FromDir(filepath.Join(dir, "run.sh")); err == nil {
		t.Error("FromDir on a file")
	}
}
