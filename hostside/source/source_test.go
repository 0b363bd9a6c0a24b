package source

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestOpenRefusesSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	reg := filepath.Join(dir, "img")
	os.WriteFile(reg, []byte("data"), 0o600)
	for path, want := range map[string]string{
		fifo:                        "is a FIFO",
		dir:                         "is a directory",
		"/dev/null":                 "is a character device",
		"/proc/self/status":         "kernel file system proc",
		"/sys/kernel/uevent_seqnum": "kernel file system sysfs",
	} {
		f, _, err := Open(path)
		if err == nil {
			f.Close()
			t.Errorf("%s opened", path)
			continue
		}
		if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: %v, want %q naming the path", path, err, want)
		}
	}
	f, fi, err := Open(reg)
	if err != nil || fi.Size() != 4 {
		t.Fatalf("regular file: %v", err)
	}
	f.Close()
}

func TestCopyHonoursCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	n, err := Copy(ctx, &out, bytes.NewReader(make([]byte, 3*chunk+5)))
	if err != nil || n != 3*chunk+5 {
		t.Fatalf("copy: %d %v", n, err)
	}
	cancel()
	n, err = Copy(ctx, &out, bytes.NewReader(make([]byte, 10)))
	if !errors.Is(err, context.Canceled) || n != 0 {
		t.Errorf("cancelled copy: %d %v", n, err)
	}
}
