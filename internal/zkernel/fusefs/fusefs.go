// Package fusefs serves a zkernel.Kernel's file API as a real FUSE file
// system, so that unmodified programs (and the agent under test) can read
// and write the emulated /sys and /proc.
//
// Every lookup and attribute has a zero timeout and files are opened with
// FOPEN_DIRECT_IO, so each open, read and write reaches the model and sees
// its current state. Semantics follow kernfs: opening a file without a
// show (store) routine for reading (writing) fails with EACCES even for
// root, a read returns the text generated at the first read at offset 0
// of the open file, each write(2) is one store call whose errno is
// returned verbatim, truncation (O_TRUNC) is ignored, creating files fails
// with EACCES. Symlinks carry the kernel's relative targets.
package fusefs

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"path"
	"sync"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/zguest/zguest/internal/zkernel"
)

// Mount mounts the subtree sub ("sys" or "proc") of k's tree on dir and
// returns a function that unmounts it. It calls mount(2) itself
// (DirectMountStrict), so it needs root and no fusermount.
func Mount(k *zkernel.Kernel, dir string, sub string) (unmount func() error, err error) {
	if sub != "sys" && sub != "proc" {
		return nil, fmt.Errorf("fusefs: cannot mount %q: want sys or proc", sub)
	}
	zero := time.Duration(0)
	root := &node{k: k, path: sub}
	opts := &gofs.Options{
		EntryTimeout:    &zero,
		AttrTimeout:     &zero,
		NegativeTimeout: &zero,
		MountOptions: fuse.MountOptions{
			DirectMountStrict: true,
			FsName:            "zkernel-" + sub,
			Name:              "zkernel",
			DisableXAttrs:     true,
			MaxBackground:     16,
		},
		UID: 0,
		GID: 0,
	}
	server, err := gofs.Mount(dir, root, opts)
	if err != nil {
		return nil, fmt.Errorf("fusefs: mount %s on %s: %w", sub, dir, err)
	}
	var once sync.Once
	var uerr error
	return func() error {
		once.Do(func() {
			if uerr = server.Unmount(); uerr != nil {
				uerr = fmt.Errorf("fusefs: unmount %s: %w", dir, uerr)
				return
			}
			server.Wait()
		})
		return uerr
	}, nil
}

// node is one path of the emulated tree. Nodes hold no state: every
// operation asks the Kernel.
type node struct {
	gofs.Inode
	k    *zkernel.Kernel
	path string // relative to the emulated root, e.g. "sys/bus"
}

var (
	_ gofs.NodeLookuper   = (*node)(nil)
	_ gofs.NodeGetattrer  = (*node)(nil)
	_ gofs.NodeSetattrer  = (*node)(nil)
	_ gofs.NodeReaddirer  = (*node)(nil)
	_ gofs.NodeReadlinker = (*node)(nil)
	_ gofs.NodeOpener     = (*node)(nil)
	_ gofs.NodeReader     = (*node)(nil)
	_ gofs.NodeWriter     = (*node)(nil)
	_ gofs.NodeCreater    = (*node)(nil)
	_ gofs.NodeAccesser   = (*node)(nil)
)

// errno extracts the syscall.Errno of a Kernel error (EIO if none).
func errno(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return syscall.EIO
}

// ino derives a stable inode number from the path and file type, so the
// same path keeps its inode while the tree changes around it.
func ino(p string, mode fs.FileMode) uint64 {
	h := fnv.New64a()
	h.Write([]byte(p))
	h.Write([]byte{byte(mode.Type() >> 24)})
	v := h.Sum64()
	if v <= 1 || v == ^uint64(0) {
		v += 2
	}
	return v
}

func typeBits(m fs.FileMode) uint32 {
	switch {
	case m.IsDir():
		return syscall.S_IFDIR
	case m&fs.ModeSymlink != 0:
		return syscall.S_IFLNK
	}
	return syscall.S_IFREG
}

func fillAttr(p string, fi fs.FileInfo, out *fuse.Attr) {
	out.Mode = typeBits(fi.Mode()) | uint32(fi.Mode().Perm())
	out.Size = uint64(fi.Size())
	out.Ino = ino(p, fi.Mode())
	out.Nlink = 1
	if fi.IsDir() {
		out.Nlink = 2
	}
	t := fi.ModTime()
	out.SetTimes(&t, &t, &t)
	out.Blksize = 4096
}

func (n *node) child(name string) string { return path.Join(n.path, name) }

// Lookup implements gofs.NodeLookuper.
func (n *node) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	p := n.child(name)
	fi, err := n.k.Lstat(p)
	if err != nil {
		return nil, errno(err)
	}
	fillAttr(p, fi, &out.Attr)
	c := &node{k: n.k, path: p}
	return n.NewInode(ctx, c, gofs.StableAttr{Mode: typeBits(fi.Mode()), Ino: out.Attr.Ino}), 0
}

// Getattr implements gofs.NodeGetattrer.
func (n *node) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	fi, err := n.k.Lstat(n.path)
	if err != nil {
		return errno(err)
	}
	fillAttr(n.path, fi, &out.Attr)
	return 0
}

// Setattr implements gofs.NodeSetattrer: sysfs ignores truncation and the
// model has no owners or times to change, so it only reports attributes.
func (n *node) Setattr(ctx context.Context, fh gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return n.Getattr(ctx, fh, out)
}

// Access implements gofs.NodeAccesser: only root uses the mount, and
// root passes access(2) checks as on sysfs.
func (n *node) Access(ctx context.Context, mask uint32) syscall.Errno {
	if _, err := n.k.Stat(n.path); err != nil {
		return errno(err)
	}
	return 0
}

// Readdir implements gofs.NodeReaddirer.
func (n *node) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	ents, err := n.k.ReadDir(n.path)
	if err != nil {
		return nil, errno(err)
	}
	list := make([]fuse.DirEntry, 0, len(ents))
	for _, e := range ents {
		list = append(list, fuse.DirEntry{
			Name: e.Name(),
			Mode: typeBits(e.Type()),
			Ino:  ino(n.child(e.Name()), e.Type()),
		})
	}
	return gofs.NewListDirStream(list), 0
}

// Readlink implements gofs.NodeReadlinker.
func (n *node) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	t, err := n.k.Readlink(n.path)
	if err != nil {
		return nil, errno(err)
	}
	return []byte(t), 0
}

// Create implements gofs.NodeCreater: no file can be created.
func (n *node) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, syscall.EACCES
}

// handle is an open file: the text of the last read at offset 0.
type handle struct {
	mu   sync.Mutex
	data []byte
	have bool
}

// Open implements gofs.NodeOpener with kernfs' permission rule.
func (n *node) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	acc := int(flags) & syscall.O_ACCMODE
	read := acc == os.O_RDONLY || acc == os.O_RDWR
	write := acc == os.O_WRONLY || acc == os.O_RDWR
	if err := n.k.CheckOpen(n.path, read, write); err != nil {
		return nil, 0, errno(err)
	}
	return &handle{}, fuse.FOPEN_DIRECT_IO, 0
}

// Read implements gofs.NodeReader.
func (n *node) Read(ctx context.Context, fh gofs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	h, _ := fh.(*handle)
	if h == nil {
		h = &handle{}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if off == 0 || !h.have {
		b, err := n.k.ReadFile(n.path)
		if err != nil {
			return nil, errno(err)
		}
		h.data, h.have = b, true
	}
	if off >= int64(len(h.data)) {
		return fuse.ReadResultData(nil), 0
	}
	end := min(off+int64(len(dest)), int64(len(h.data)))
	return fuse.ReadResultData(h.data[off:end]), 0
}

// Write implements gofs.NodeWriter: one store call per write(2).
func (n *node) Write(ctx context.Context, fh gofs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	if err := n.k.WriteFileAt(n.path, data, off); err != nil {
		return 0, errno(err)
	}
	return uint32(len(data)), 0
}
