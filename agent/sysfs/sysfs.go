// Package sysfs is the agent's seam to the kernel's file interfaces
// (/sys, /proc, /dev) and to the few files it keeps under /run and /etc.
// Every path is relative to a root ("sys/bus/ccw/devices"), so the same
// code runs against the real system (root "/"), an emulated kernel mounted
// under a directory, or an in-memory model.
package sysfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// FS is what the agent needs from a file tree. Errors wrap the
// syscall.Errno the kernel returned, so errors.Is(err, syscall.EINVAL)
// works on them.
type FS interface {
	ReadFile(name string) ([]byte, error)
	// WriteFile writes data to an existing file in one write(2), as sysfs
	// attributes require. It never creates or truncates a file.
	WriteFile(name string, data []byte) error
	ReadDir(name string) ([]fs.DirEntry, error)
	Stat(name string) (fs.FileInfo, error)
	Readlink(name string) (string, error)
}

// Root is an FS on the real file system below Dir.
type Root struct{ Dir string }

var errEscape = errors.New("path leaves the root")

func (r Root) path(name string) (string, error) {
	clean := path.Clean("/" + name)
	if strings.Contains(name, "..") && clean != "/"+strings.TrimPrefix(name, "/") {
		return "", &fs.PathError{Op: "open", Path: name, Err: errEscape}
	}
	return filepath.Join(r.Dir, filepath.FromSlash(clean)), nil
}

// ReadFile reads a whole file.
func (r Root) ReadFile(name string) ([]byte, error) {
	p, err := r.path(name)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(p)
}

// WriteFile writes data in one write(2) to an existing file.
func (r Root) WriteFile(name string, data []byte) error {
	p, err := r.path(name)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	cerr := f.Close()
	if werr != nil {
		return werr
	}
	return cerr
}

// ReadDir lists a directory.
func (r Root) ReadDir(name string) ([]fs.DirEntry, error) {
	p, err := r.path(name)
	if err != nil {
		return nil, err
	}
	return os.ReadDir(p)
}

// Stat follows symbolic links.
func (r Root) Stat(name string) (fs.FileInfo, error) {
	p, err := r.path(name)
	if err != nil {
		return nil, err
	}
	return os.Stat(p)
}

// Readlink returns a link's target as stored.
func (r Root) Readlink(name string) (string, error) {
	p, err := r.path(name)
	if err != nil {
		return "", err
	}
	return os.Readlink(p)
}

// ReadAttr reads a sysfs attribute and trims the trailing newline.
func ReadAttr(f FS, name string) (string, error) {
	b, err := f.ReadFile(name)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\n"), nil
}

// Exists says whether name exists (following links). Errors other than
// "does not exist" count as existing, so that a permission problem is
// seen where the file is used rather than hidden here.
func Exists(f FS, name string) bool {
	_, err := f.Stat(name)
	return err == nil || !errors.Is(err, fs.ErrNotExist)
}

// LinkBase returns the last element of a symbolic link's target ("qeth"
// for driver -> ../../../bus/ccwgroup/drivers/qeth), or "" if name is not
// a link.
func LinkBase(f FS, name string) string {
	t, err := f.Readlink(name)
	if err != nil {
		return ""
	}
	return path.Base(t)
}

// WriteAttr writes value to a sysfs attribute and wraps a failure with the
// attribute and the value, keeping the errno.
func WriteAttr(f FS, name, value string) error {
	if err := f.WriteFile(name, []byte(value)); err != nil {
		// The path is said once, relative to the root, as the kernel knows it.
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("write %q to /%s: %w", value, name, err)
	}
	return nil
}
