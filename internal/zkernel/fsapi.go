package zkernel

import (
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
	"syscall"
	"time"
)

// maxSymlinkHops is the kernel's limit on symlinks followed in one lookup.
const maxSymlinkHops = 40

func splitPath(name string) []string {
	var out []string
	for _, c := range strings.Split(name, "/") {
		if c != "" && c != "." {
			out = append(out, c)
		}
	}
	return out
}

// walk resolves name (relative to the emulated root; a leading slash is
// ignored) and follows symlinks in every component, and in the last one if
// follow is set. Symlink targets are relative to the link's directory.
func (k *Kernel) walk(name string, follow bool) (*node, syscall.Errno) {
	root := k.currentTree()
	stack := []*node{root}
	comps := splitPath(name)
	hops := 0
	for len(comps) > 0 {
		c := comps[0]
		comps = comps[1:]
		if c == ".." {
			if len(stack) > 1 {
				stack = stack[:len(stack)-1]
			}
			continue
		}
		cur := stack[len(stack)-1]
		if cur.kind != kindDir {
			return nil, syscall.ENOTDIR
		}
		child := cur.children[c]
		if child == nil {
			return nil, syscall.ENOENT
		}
		if child.kind == kindLink && (len(comps) > 0 || follow) {
			if hops++; hops > maxSymlinkHops {
				return nil, syscall.ELOOP
			}
			if strings.HasPrefix(child.target, "/") {
				stack = stack[:1]
			}
			comps = append(splitPath(child.target), comps...)
			continue
		}
		stack = append(stack, child)
	}
	return stack[len(stack)-1], 0
}

func pathErr(op, name string, e syscall.Errno) error {
	return &fs.PathError{Op: op, Path: name, Err: e}
}

// openCheck is the permission check of open(2) on a kernfs/procfs file:
// a file without a read (write) routine cannot be opened for reading
// (writing), even by root.
// guess: procfs rejects at read/write time with EIO; the model uses EACCES
// at open like sysfs.
func openCheck(n *node, read, write bool) syscall.Errno {
	switch {
	case n.kind == kindDir && write:
		return syscall.EISDIR
	case n.kind == kindDir:
		return 0
	case read && (n.read == nil || n.perm&0o444 == 0):
		return syscall.EACCES
	case write && (n.write == nil || n.perm&0o222 == 0):
		return syscall.EACCES
	}
	return 0
}

// CheckOpen checks whether name could be opened for reading and/or
// writing: ENOENT, ENOTDIR, ELOOP, EISDIR (directory for writing) or
// EACCES (no read or write routine).
func (k *Kernel) CheckOpen(name string, read, write bool) error {
	k.lock()
	defer k.unlock()
	n, e := k.walk(name, true)
	if e == 0 {
		e = openCheck(n, read, write)
	}
	if e != 0 {
		return pathErr("open", name, e)
	}
	return nil
}

// ReadFile opens name for reading and reads it whole.
func (k *Kernel) ReadFile(name string) ([]byte, error) {
	k.lock()
	defer k.unlock()
	n, e := k.walk(name, true)
	if e == 0 {
		e = openCheck(n, true, false)
	}
	if e != 0 {
		return nil, pathErr("open", name, e)
	}
	if n.kind == kindDir {
		return nil, pathErr("read", name, syscall.EISDIR)
	}
	s, e := n.read()
	if e != 0 {
		return nil, pathErr("read", name, e)
	}
	return []byte(s), nil
}

// WriteFile opens name for writing and does one write(2) of data at
// offset 0.
func (k *Kernel) WriteFile(name string, data []byte) error {
	return k.WriteFileAt(name, data, 0)
}

// WriteFileAt opens name for writing and does one write(2) of data at
// offset off (sysfs attributes ignore the offset; /proc/cio_ignore
// rejects a non-zero one).
func (k *Kernel) WriteFileAt(name string, data []byte, off int64) error {
	k.lock()
	defer k.unlock()
	n, e := k.walk(name, true)
	if e == 0 {
		e = openCheck(n, false, true)
	}
	if e != 0 {
		return pathErr("open", name, e)
	}
	if e := n.write(data, off); e != 0 {
		return pathErr("write", name, e)
	}
	return nil
}

// ReadDir lists a directory, sorted by name.
func (k *Kernel) ReadDir(name string) ([]fs.DirEntry, error) {
	k.lock()
	defer k.unlock()
	n, e := k.walk(name, true)
	if e == 0 && n.kind != kindDir {
		e = syscall.ENOTDIR
	}
	if e != 0 {
		return nil, pathErr("readdirent", name, e)
	}
	names := slices.Sorted(maps.Keys(n.children))
	out := make([]fs.DirEntry, len(names))
	for i, c := range names {
		out[i] = fs.FileInfoToDirEntry(k.info(c, n.children[c]))
	}
	return out, nil
}

// Stat describes name, following symlinks.
func (k *Kernel) Stat(name string) (fs.FileInfo, error) { return k.stat("stat", name, true) }

// Lstat describes name without following a final symlink.
func (k *Kernel) Lstat(name string) (fs.FileInfo, error) { return k.stat("lstat", name, false) }

func (k *Kernel) stat(op, name string, follow bool) (fs.FileInfo, error) {
	k.lock()
	defer k.unlock()
	n, e := k.walk(name, follow)
	if e != 0 {
		return nil, pathErr(op, name, e)
	}
	return k.info(path.Base("/"+strings.TrimSuffix(name, "/")), n), nil
}

// Readlink returns a symlink's target, relative like the kernel's.
func (k *Kernel) Readlink(name string) (string, error) {
	k.lock()
	defer k.unlock()
	n, e := k.walk(name, false)
	if e == 0 && n.kind != kindLink {
		e = syscall.EINVAL
	}
	if e != 0 {
		return "", pathErr("readlink", name, e)
	}
	return n.target, nil
}

func (k *Kernel) info(name string, n *node) fs.FileInfo {
	mode := n.perm
	switch n.kind {
	case kindDir:
		mode |= fs.ModeDir
	case kindLink:
		mode |= fs.ModeSymlink
	}
	size := n.size
	if n.kind == kindLink {
		size = int64(len(n.target))
	}
	return fileInfo{name: name, mode: mode, size: size, mtime: k.start}
}

// fileInfo implements fs.FileInfo for tree nodes.
type fileInfo struct {
	name  string
	mode  fs.FileMode
	size  int64
	mtime time.Time
}

func (fi fileInfo) Name() string       { return fi.name }
func (fi fileInfo) Size() int64        { return fi.size }
func (fi fileInfo) Mode() fs.FileMode  { return fi.mode }
func (fi fileInfo) ModTime() time.Time { return fi.mtime }
func (fi fileInfo) IsDir() bool        { return fi.mode.IsDir() }
func (fi fileInfo) Sys() any           { return nil }
