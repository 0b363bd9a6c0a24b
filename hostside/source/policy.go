package source

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// DefaultDirs are the directories file sources may come from unless the
// configuration says otherwise: nova's [zvm] image_tmp_path (images it
// downloads from glance and imports with file://) and its instances
// directory (where the config drive it passes as transportfiles is
// built).
var DefaultDirs = []string{"/var/lib/nova/images", "/var/lib/nova/instances"}

// ErrOutside is wrapped by the errors of a Policy for paths outside its
// directories.
var ErrOutside = errors.New("outside the allowed source directories")

// Policy says which host paths requests may name: only paths under
// Dirs, resolved without following a symbolic link out of the
// directory they are under (os.Root). AnyPath lifts the restriction,
// as the original connector does (any file the daemon can read).
type Policy struct {
	Dirs    []string
	AnyPath bool
	// Setting names the configuration key in errors ("source_dirs").
	Setting string
}

func (p *Policy) setting() string {
	if p.Setting == "" {
		return "source_dirs"
	}
	return p.Setting
}

// locate finds the directory of Dirs that path lies under, and path
// relative to it. path must be absolute and hold no "..".
func (p *Policy) locate(path string) (dir, rel string, err error) {
	if !filepath.IsAbs(path) {
		return "", "", fmt.Errorf("%q is not an absolute path", path)
	}
	for _, el := range strings.Split(path, "/") {
		if el == ".." {
			return "", "", fmt.Errorf("%q holds \"..\"", path)
		}
	}
	clean := filepath.Clean(path)
	for _, d := range p.Dirs {
		d = filepath.Clean(d)
		if r, err := filepath.Rel(d, clean); err == nil && r != "." && !strings.HasPrefix(r, "..") {
			return d, r, nil
		}
	}
	return "", "", fmt.Errorf("%s is %w (%s: %s); put the file there or add its directory to %q in the daemon's configuration",
		path, ErrOutside, p.setting(), strings.Join(p.Dirs, ", "), p.setting())
}

// Open opens path for reading under the policy: under one of Dirs,
// without leaving it through a symbolic link, a regular file on a disk
// file system (see Open).
func (p *Policy) Open(path string) (*os.File, os.FileInfo, error) {
	if p == nil || p.AnyPath {
		return Open(path)
	}
	dir, rel, err := p.locate(path)
	if err != nil {
		return nil, nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("%s (%s): %w", dir, p.setting(), err)
	}
	defer root.Close()
	f, err := root.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w (a symbolic link may not lead out of %s)", path, err, dir)
	}
	fi, err := Check(f)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// Check opens and closes path under the policy: what a request names is
// refused before any work starts.
func (p *Policy) Check(path string) error {
	f, _, err := p.Open(path)
	if err != nil {
		return err
	}
	return f.Close()
}

// CheckDest checks a destination path to write: its directory must
// resolve under one of Dirs without a symbolic link out of it, and the
// path itself must not be a symbolic link.
func (p *Policy) CheckDest(path string) error {
	if p == nil || p.AnyPath {
		return nil
	}
	dir, rel, err := p.locate(path)
	if err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("%s (%s): %w", dir, p.setting(), err)
	}
	defer root.Close()
	if parent := filepath.Dir(rel); parent != "." {
		fi, err := root.Stat(parent)
		if err != nil {
			return fmt.Errorf("%s: %w (a symbolic link may not lead out of %s)", path, err, dir)
		}
		if !fi.IsDir() {
			return fmt.Errorf("%s: %s is not a directory", path, filepath.Join(dir, parent))
		}
	}
	if fi, err := root.Lstat(rel); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		return fmt.Errorf("%s is a symbolic link; name the file itself", path)
	}
	return nil
}
