package sysfs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestRoot(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "sys/devices/qeth/0.0.f500"), 0o755)
	os.MkdirAll(filepath.Join(dir, "sys/bus/ccwgroup/devices"), 0o755)
	os.WriteFile(filepath.Join(dir, "sys/devices/qeth/0.0.f500/online"), []byte("0\n"), 0o644)
	os.Symlink("../../../devices/qeth/0.0.f500", filepath.Join(dir, "sys/bus/ccwgroup/devices/0.0.f500"))
	r := Root{Dir: dir}
	v, err := ReadAttr(r, "sys/bus/ccwgroup/devices/0.0.f500/online")
	if err != nil || v != "0" {
		t.Fatalf("%q %v", v, err)
	}
	if err := WriteAttr(r, "sys/devices/qeth/0.0.f500/online", "1"); err != nil {
		t.Fatal(err)
	}
	if v, _ := ReadAttr(r, "sys/devices/qeth/0.0.f500/online"); v != "1" {
		t.Errorf("after write: %q", v)
	}
	if LinkBase(r, "sys/bus/ccwgroup/devices/0.0.f500") != "0.0.f500" {
		t.Error("LinkBase")
	}
	if !Exists(r, "sys/bus/ccwgroup/devices/0.0.f500") || Exists(r, "sys/nope") {
		t.Error("Exists")
	}
	err = WriteAttr(r, "sys/nope", "1")
	if !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, syscall.ENOENT) {
		t.Errorf("write to missing file: %v", err)
	}
	if _, err := r.ReadFile("../../etc/passwd"); !errors.Is(err, errEscape) {
		t.Errorf("escape: %v", err)
	}
}
