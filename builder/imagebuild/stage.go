package imagebuild

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/zguest/zguest/builder/imagespec"
	"golang.org/x/sys/unix"
)

// owner is what the image must record for one staged path when the
// staging tree cannot hold it itself (a build without root): its owner,
// and for device nodes and FIFOs the node to create.
type owner struct {
	Path         string // absolute inside the image
	UID, GID     int
	Mode         uint32 // permission bits incl. setuid/setgid/sticky
	Type         uint32 // i_mode file type bits of a file that is not a node
	Node         byte   // 0, 'c', 'b' or 'p': a node to create with debugfs
	Major, Minor int64
}

// stager writes a tree into the staging root, never outside it: every path
// goes through an os.Root, so symlinks in the source (or earlier entries of
// a tarball) cannot redirect a write to the build host.
type stager struct {
	root    *os.Root
	dir     string
	asRoot  bool
	fixups  []owner
	dirTime map[string]time.Time
	dirMode map[string]os.FileMode
	made    map[string]bool // directories known to exist
	buf     []byte
	entries int
}

func newStager(dir string) (*stager, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return &stager{root: r, dir: dir, asRoot: os.Geteuid() == 0, dirTime: map[string]time.Time{}, dirMode: map[string]os.FileMode{},
		made: map[string]bool{}, buf: make([]byte, 1<<20)}, nil
}

func (s *stager) Close() error { return s.root.Close() }

// entry is one file of a source tree, whatever the source.
type entry struct {
	Name         string // clean, relative, no ".." (checked by add)
	Type         byte   // tar type flag
	Mode         int64  // permission bits incl. setuid/setgid/sticky
	UID, GID     int
	ModTime      time.Time
	Linkname     string
	Major, Minor int64
	Xattrs       map[string]string
	Body         io.Reader
}

// cleanName checks a member name from a source and makes it relative to
// the root. Absolute names are taken as relative to the root, as tar does
// by default; names that climb out are refused.
func cleanName(name string) (string, error) {
	if name == "" || strings.ContainsRune(name, 0) {
		return "", fmt.Errorf("empty name or NUL byte in %q", name)
	}
	c := path.Clean("/" + name)
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", fmt.Errorf("%q climbs out of the tree with \"..\"", name)
		}
	}
	if c == "/" {
		return ".", nil
	}
	return c[1:], nil
}

func (s *stager) add(e entry) error {
	name, err := cleanName(e.Name)
	if err != nil {
		return err
	}
	s.entries++
	perm := os.FileMode(e.Mode & 0o777)
	if name == "." {
		if e.Type == tar.TypeDir {
			s.dirTime["."] = e.ModTime
			s.dirMode["."] = mode(e.Mode)
			return s.own(".", e, true)
		}
		return fmt.Errorf("the tree's root is not a directory")
	}
	if dir := path.Dir(name); dir != "." && !s.made[dir] {
		if err := s.root.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		s.made[dir] = true
	}
	switch e.Type {
	case tar.TypeDir:
		if err := s.root.Mkdir(name, perm|0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s: %w", name, err)
		}
		if st, err := s.root.Lstat(name); err != nil || !st.IsDir() {
			return fmt.Errorf("%s: exists and is not a directory", name)
		}
		// Modes last (finish): a read-only directory must take children.
		s.made[name] = true
		s.dirTime[name] = e.ModTime
		s.dirMode[name] = mode(e.Mode)
		return s.own(name, e, true)
	case tar.TypeReg: // archive/tar reports old-style (TypeRegA) members as TypeReg
		// Create first; only an existing name costs a look (a later
		// member replacing an earlier one).
		f, err := s.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			if err := s.removeNonDir(name); err != nil {
				return err
			}
			f, err = s.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := s.writeFile(f, name, e); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	case tar.TypeSymlink:
		if err := s.removeNonDir(name); err != nil {
			return err
		}
		// The link's text is stored as is: it is resolved in the guest,
		// never by the build (every later access goes through the Root).
		if err := s.root.Symlink(e.Linkname, name); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return s.own(name, e, true)
	case tar.TypeLink:
		target, err := cleanName(e.Linkname)
		if err != nil {
			return fmt.Errorf("%s: hard link: %w", name, err)
		}
		if err := s.removeNonDir(name); err != nil {
			return err
		}
		if err := s.root.Link(target, name); err != nil {
			return fmt.Errorf("%s: hard link to %s: %w", name, target, err)
		}
		return nil // same inode: owner and mode are the target's
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		if err := s.removeNonDir(name); err != nil {
			return err
		}
		node := map[byte]byte{tar.TypeChar: 'c', tar.TypeBlock: 'b', tar.TypeFifo: 'p'}[e.Type]
		if !s.asRoot {
			s.fixups = append(s.fixups, owner{Path: "/" + name, UID: e.UID, GID: e.GID, Mode: uint32(e.Mode & 0o7777),
				Node: node, Major: e.Major, Minor: e.Minor})
			return nil
		}
		mode := uint32(e.Mode & 0o7777)
		switch node {
		case 'c':
			mode |= unix.S_IFCHR
		case 'b':
			mode |= unix.S_IFBLK
		default:
			mode |= unix.S_IFIFO
		}
		// Mknodat on the parent's descriptor, opened through the Root.
		parent, err := s.root.Open(path.Dir(name))
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		err = unix.Mknodat(int(parent.Fd()), path.Base(name), mode, int(unix.Mkdev(uint32(e.Major), uint32(e.Minor))))
		parent.Close()
		if err != nil {
			return fmt.Errorf("%s: mknod: %w", name, err)
		}
	default:
		return fmt.Errorf("%s: unsupported entry type %q", name, e.Type)
	}
	return s.own(name, e, false)
}

// writeFile fills a new regular file and sets its owner, mode, extended
// attributes and times through its descriptor: no second path lookup.
func (s *stager) writeFile(f *os.File, name string, e entry) (err error) {
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	if _, err := io.CopyBuffer(f, e.Body, s.buf); err != nil {
		return err
	}
	if s.asRoot {
		for k, v := range e.Xattrs {
			if err := unix.Fsetxattr(int(f.Fd()), k, []byte(v), 0); err != nil {
				return fmt.Errorf("xattr %s: %w", k, err)
			}
		}
		if err := f.Chown(e.UID, e.GID); err != nil {
			return err
		}
	} else {
		s.recordOwner(name, e)
	}
	// After chown, which clears setuid and setgid.
	if err := f.Chmod(mode(e.Mode)); err != nil {
		return err
	}
	tv := unix.NsecToTimeval(e.ModTime.UnixNano())
	return unix.Futimes(int(f.Fd()), []unix.Timeval{tv, tv})
}

// recordOwner notes, for a build without root, an owner or setuid, setgid
// or sticky bit the staged file cannot carry; debugfs sets them after
// mke2fs. Everything not recorded becomes root's (rootlessOwners).
func (s *stager) recordOwner(name string, e entry) {
	if e.UID == 0 && e.GID == 0 && e.Mode&0o7000 == 0 {
		return
	}
	typ := map[byte]uint32{tar.TypeDir: unix.S_IFDIR, tar.TypeSymlink: unix.S_IFLNK}[e.Type]
	if typ == 0 {
		typ = unix.S_IFREG
	}
	s.fixups = append(s.fixups, owner{Path: "/" + strings.TrimPrefix(name, "."), UID: e.UID, GID: e.GID,
		Mode: uint32(e.Mode & 0o7777), Type: typ})
}

// own gives name its owner and mode, or records them for debugfs when the
// build cannot chown. noChmod: a symlink, or a directory (finish sets its
// mode once its children are in).
func (s *stager) own(name string, e entry, noChmod bool) error {
	if !s.asRoot {
		s.recordOwner(name, e)
		if !noChmod {
			return s.root.Chmod(name, mode(e.Mode))
		}
		return nil
	}
	if err := s.root.Lchown(name, e.UID, e.GID); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if noChmod {
		return nil
	}
	// chown clears setuid/setgid: set the mode after it.
	if err := s.root.Chmod(name, mode(e.Mode)); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// mode is a member's os.FileMode from its Unix permission bits.
func mode(m int64) os.FileMode { return imagespec.FileMode(uint64(m) & 0o7777) }

// removeNonDir makes room for a new member: a later tar entry replaces an
// earlier file of the same name, but never a directory.
func (s *stager) removeNonDir(name string) error {
	st, err := s.root.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if st.IsDir() {
		return fmt.Errorf("%s: a directory is in the way", name)
	}
	return s.root.Remove(name)
}

// finish sets directory modes and restores their times (creating entries
// changed them).
func (s *stager) finish() error {
	for n, m := range s.dirMode {
		if err := s.root.Chmod(n, m); err != nil {
			return fmt.Errorf("%s: %w", n, err)
		}
	}
	names := make([]string, 0, len(s.dirTime))
	for n := range s.dirTime {
		names = append(names, n)
	}
	sort.Sort(sort.Reverse(sort.StringSlice(names))) // children first
	for _, n := range names {
		t := s.dirTime[n]
		if err := s.root.Chtimes(n, t, t); err != nil {
			return fmt.Errorf("%s: %w", n, err)
		}
	}
	return nil
}

// stageTar extracts a tarball (plain, gzip or zstd, told by content).
func (s *stager) stageTar(ctx context.Context, file string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	head, _ := br.Peek(4)
	var r io.Reader = br
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		gz, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		defer gz.Close()
		r = gz
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br)
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		defer zr.Close()
		r = zr
	case bytes.HasPrefix(head, []byte{0xfd, '7', 'z', 'X'}):
		return fmt.Errorf("%s: xz-compressed tarballs are not supported; decompress it first (xz -d) or use gzip/zstd", file)
	}
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: entry %d: %w", file, s.entries+1, err)
		}
		x := map[string]string{}
		for k, v := range h.PAXRecords {
			if strings.HasPrefix(k, "SCHILY.xattr.") {
				x[strings.TrimPrefix(k, "SCHILY.xattr.")] = v
			}
		}
		if h.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		if err := s.add(entry{Name: h.Name, Type: h.Typeflag, Mode: h.Mode, UID: h.Uid, GID: h.Gid,
			ModTime: h.ModTime, Linkname: h.Linkname, Major: h.Devmajor, Minor: h.Devminor, Xattrs: x, Body: tr}); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
	}
	return s.finish()
}

// stageDir copies a directory tree, keeping owners, modes, times, hard
// links, device nodes and extended attributes.
func (s *stager) stageDir(ctx context.Context, src string) error {
	links := map[[2]uint64]string{}
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		st, err := os.Lstat(p)
		if err != nil {
			return err
		}
		sys := st.Sys().(*syscall.Stat_t)
		e := entry{Name: filepath.ToSlash(rel), Mode: int64(sys.Mode & 0o7777), UID: int(sys.Uid), GID: int(sys.Gid),
			ModTime: st.ModTime()}
		switch m := st.Mode(); {
		case m.IsDir():
			e.Type = tar.TypeDir
		case m.IsRegular():
			key := [2]uint64{sys.Dev, sys.Ino}
			if sys.Nlink > 1 {
				if first, ok := links[key]; ok {
					e.Type, e.Linkname = tar.TypeLink, first
					return s.add(e)
				}
				links[key] = e.Name
			}
			e.Type = tar.TypeReg
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			e.Body = f
			e.Xattrs = xattrs(p)
		case m&fs.ModeSymlink != 0:
			e.Type = tar.TypeSymlink
			if e.Linkname, err = os.Readlink(p); err != nil {
				return err
			}
		case m&fs.ModeDevice != 0:
			e.Type = tar.TypeBlock
			if m&fs.ModeCharDevice != 0 {
				e.Type = tar.TypeChar
			}
			e.Major, e.Minor = int64(unix.Major(sys.Rdev)), int64(unix.Minor(sys.Rdev))
		case m&fs.ModeNamedPipe != 0:
			e.Type = tar.TypeFifo
		default:
			return fmt.Errorf("%s: sockets and other special files are not copied", p)
		}
		return s.add(e)
	})
	if err != nil {
		return fmt.Errorf("source %s: %w", src, err)
	}
	return s.finish()
}

func xattrs(p string) map[string]string {
	sz, err := unix.Llistxattr(p, nil)
	if err != nil || sz <= 0 {
		return nil
	}
	buf := make([]byte, sz)
	n, err := unix.Llistxattr(p, buf)
	if err != nil {
		return nil
	}
	out := map[string]string{}
	for _, k := range strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00") {
		if k == "" {
			continue
		}
		vsz, err := unix.Lgetxattr(p, k, nil)
		if err != nil || vsz < 0 {
			continue
		}
		v := make([]byte, vsz)
		if vsz, err = unix.Lgetxattr(p, k, v); err == nil {
			out[k] = string(v[:vsz])
		}
	}
	return out
}

// stageImage copies the root file system of a raw disk image (or a bare
// ext4 file system) with debugfs' rdump, which needs no root and no loop
// device. Owners are kept only when the build runs as root.
func stageImage(ctx context.Context, img string, offset int64, dir string) error {
	spec := img
	if offset > 0 {
		spec = fmt.Sprintf("%s?offset=%d", img, offset)
	}
	// rdump of "/" into dir creates dir's contents, not a "/" subdirectory:
	// dump every top-level entry.
	ls := exec.CommandContext(ctx, "debugfs", "-R", "ls -p /", spec)
	out, err := ls.Output()
	if err != nil {
		return fmt.Errorf("source %s: debugfs cannot read an ext2/3/4 file system at offset %d: %w", img, offset, err)
	}
	var cmds []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Split(line, "/")
		if len(f) < 7 || f[5] == "." || f[5] == ".." || f[5] == "" {
			continue
		}
		if strings.ContainsAny(f[5], "\"\n") {
			return fmt.Errorf("source %s: top-level name %q cannot be passed to debugfs", img, f[5])
		}
		cmds = append(cmds, fmt.Sprintf("rdump \"/%s\" \"%s\"", f[5], dir))
	}
	script := filepath.Join(filepath.Dir(dir), "rdump.cmds")
	if err := os.WriteFile(script, []byte(strings.Join(cmds, "\n")+"\n"), 0o600); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "debugfs", "-f", script, spec)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("source %s: debugfs rdump: %w: %s", img, err, lastLines(stderr.String(), 5))
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
