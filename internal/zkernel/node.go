package zkernel

import (
	"io/fs"
	"syscall"
)

type nodeKind uint8

const (
	kindDir nodeKind = iota
	kindFile
	kindLink
)

// sysfsPageSize is the most a sysfs store routine sees of one write.
const sysfsPageSize = 4096

// node is one entry of the emulated tree. read and write run with the
// kernel lock held and see the live state.
type node struct {
	kind     nodeKind
	perm     fs.FileMode
	size     int64
	children map[string]*node
	target   string
	read     func() (string, syscall.Errno)
	write    func(data []byte, off int64) syscall.Errno
}

func newDir(perm fs.FileMode) *node {
	return &node{kind: kindDir, perm: perm, children: map[string]*node{}}
}

// mkdir returns the child directory name, creating it (0755) if needed.
func (n *node) mkdir(name string) *node {
	if c, ok := n.children[name]; ok {
		return c
	}
	c := newDir(0o755)
	n.children[name] = c
	return c
}

func (n *node) set(name string, c *node) { n.children[name] = c }

func symlink(target string) *node { return &node{kind: kindLink, perm: 0o777, target: target} }

// sysfsStore adapts a store routine to write(2) on a sysfs file: an empty
// write does nothing, longer writes are cut to a page.
func sysfsStore(store func(data []byte) syscall.Errno) func([]byte, int64) syscall.Errno {
	return func(data []byte, _ int64) syscall.Errno {
		if len(data) == 0 {
			return 0
		}
		if len(data) > sysfsPageSize {
			data = data[:sysfsPageSize]
		}
		return store(data)
	}
}

func showString(show func() string) func() (string, syscall.Errno) {
	return func() (string, syscall.Errno) { return show() + "\n", 0 }
}

// attrRO is a 0444 sysfs attribute whose show routine returns one line.
func attrRO(show func() string) *node {
	return &node{kind: kindFile, perm: 0o444, size: sysfsPageSize, read: showString(show)}
}

// attrRW is a 0644 sysfs attribute; store gets the buffer as a C string.
func attrRW(show func() string, store func(s string) syscall.Errno) *node {
	return attrRWRaw(show, func(data []byte) syscall.Errno { return store(cString(data)) })
}

func attrRWRaw(show func() string, store func(data []byte) syscall.Errno) *node {
	return &node{kind: kindFile, perm: 0o644, size: sysfsPageSize, read: showString(show), write: sysfsStore(store)}
}

// attrWO is a 0200 sysfs attribute.
func attrWO(store func(data []byte) syscall.Errno) *node {
	return &node{kind: kindFile, perm: 0o200, size: sysfsPageSize, write: sysfsStore(store)}
}

// attrErrRO is a 0444 attribute whose show routine may fail.
func attrErrRO(show func() (string, syscall.Errno)) *node {
	return &node{kind: kindFile, perm: 0o444, size: sysfsPageSize, read: func() (string, syscall.Errno) {
		s, e := show()
		if e != 0 {
			return "", e
		}
		return s + "\n", 0
	}}
}

// constAttr is a read-only attribute with fixed content.
func constAttr(v string) *node { return attrRO(func() string { return v }) }
