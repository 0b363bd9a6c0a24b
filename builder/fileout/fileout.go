// Package fileout writes an output file under a temporary name in the
// destination directory and renames it into place only once it is complete,
// so a failed or interrupted build never leaves a partial image behind.
package fileout

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// File is an output file being written.
type File struct {
	*os.File
	final string
	done  bool
}

// Create opens a new temporary file next to path.
func Create(path string) (*File, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if base == "" {
		return nil, fmt.Errorf("output %q: no file name", path)
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return nil, fmt.Errorf("output %s: is a directory", path)
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("output %s: %w", path, err)
	}
	return &File{File: f, final: path}, nil
}

// Commit flushes the file to stable storage, closes it and renames it to its
// final name. sync=false skips the fsync (for tests and scratch output).
func (f *File) Commit(sync bool) error {
	if f.done {
		return errors.New("fileout: commit after commit or abort")
	}
	f.done = true
	tmp := f.Name()
	err := f.Chmod(0o644)
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, f.final)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("output %s: %w", f.final, err)
	}
	return nil
}

// Abort closes and removes the temporary file. It is safe to call after
// Commit (it does nothing then), so callers can defer it.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.Close()
	os.Remove(f.Name())
}
