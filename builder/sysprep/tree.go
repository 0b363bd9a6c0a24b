package sysprep

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// maxRead bounds the configuration files an operation reads and rewrites
// (machine-id, ifcfg-*): they are a few hundred bytes, and a hostile tree
// must not make us read a huge file into memory.
const maxRead = 1 << 20

// skipError says that a path was deliberately left alone: it is a symbolic
// link (never followed), or it has a type the operation does not handle.
type skipError struct {
	path, reason string
}

func (e *skipError) Error() string { return e.path + ": " + e.reason }

// tree is the guest root. Every access goes through an os.Root, which keeps
// it inside the root directory; on top of that, tree never follows a
// symbolic link at all, not even one that stays inside the root: every
// directory on a path is checked with Lstat, and every file is opened only
// after an Lstat and checked to be the same file afterwards (os.Root.OpenFile
// itself resolves links in the root, it ignores O_NOFOLLOW).
type tree struct {
	root *os.Root
	dirs map[string]error // checkDir results
}

func openTree(dir string) (*tree, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("sysprep: open root %s: %w", dir, err)
	}
	return &tree{root: r, dirs: map[string]error{}}, nil
}

func (t *tree) close() error { return t.root.Close() }

func (t *tree) linkReason(rel string) string {
	target, err := t.root.Readlink(rel)
	if err != nil {
		return "symbolic link, not followed"
	}
	return fmt.Sprintf("symbolic link to %q, not followed", target)
}

// notRegular is the skip for rel, which is not a regular file.
func (t *tree) notRegular(rel string, fi fs.FileInfo) *skipError {
	if fi.Mode()&fs.ModeSymlink != 0 {
		return &skipError{rel, t.linkReason(rel)}
	}
	return &skipError{rel, "not a regular file (" + fi.Mode().Type().String() + ")"}
}

// checkDir reports whether rel and every directory above it are real
// directories, not symbolic links. The error wraps fs.ErrNotExist when a
// component is missing, or is a *skipError.
func (t *tree) checkDir(rel string) error {
	if rel == "." {
		return nil
	}
	if err, ok := t.dirs[rel]; ok {
		return err
	}
	err := t.checkDir(path.Dir(rel))
	if err == nil {
		var fi fs.FileInfo
		fi, err = t.root.Lstat(rel)
		switch {
		case err != nil:
			err = fmt.Errorf("lstat %s: %w", rel, err)
		case fi.Mode()&fs.ModeSymlink != 0:
			err = &skipError{rel, t.linkReason(rel)}
		case !fi.IsDir():
			// Nothing to clean there (RHEL's /etc/sysconfig/network is
			// a file, SUSE's a directory): the same as absent.
			err = fmt.Errorf("%s is not a directory: %w", rel, fs.ErrNotExist)
		}
	}
	t.dirs[rel] = err
	return err
}

// forget drops cached directory checks at and below rel (after it was
// removed).
func (t *tree) forget(rel string) {
	for k := range t.dirs {
		if k == rel || strings.HasPrefix(k, rel+"/") {
			delete(t.dirs, k)
		}
	}
}

// lstat returns the FileInfo of rel itself after checking its directories.
func (t *tree) lstat(rel string) (fs.FileInfo, error) {
	if err := t.checkDir(path.Dir(rel)); err != nil {
		return nil, err
	}
	fi, err := t.root.Lstat(rel)
	if err != nil {
		return nil, fmt.Errorf("lstat %s: %w", rel, err)
	}
	return fi, nil
}

// open opens rel, which must be neither a symbolic link nor under one, and
// returns it with its FileInfo. It fails if rel changed between the Lstat and
// the open.
func (t *tree) open(rel string, flag int) (*os.File, fs.FileInfo, error) {
	fi, err := t.lstat(rel)
	if err != nil {
		return nil, nil, err
	}
	if !fi.IsDir() && !fi.Mode().IsRegular() {
		return nil, nil, t.notRegular(rel, fi)
	}
	f, err := t.root.OpenFile(rel, flag|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", rel, err)
	}
	got, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("stat %s: %w", rel, err)
	}
	if !os.SameFile(fi, got) {
		f.Close()
		return nil, nil, fmt.Errorf("open %s: it changed while being opened", rel)
	}
	return f, got, nil
}

// readDir lists the directory rel sorted by name, without following links.
func (t *tree) readDir(rel string) ([]fs.DirEntry, error) {
	if err := t.checkDir(rel); err != nil {
		return nil, err
	}
	f, _, err := t.open(rel, os.O_RDONLY|syscall.O_DIRECTORY)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ents, err := f.ReadDir(-1)
	if err != nil {
		return nil, fmt.Errorf("read directory %s: %w", rel, err)
	}
	slices.SortFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return ents, nil
}

// readFile reads the regular file rel (at most maxRead bytes).
func (t *tree) readFile(rel string) ([]byte, fs.FileInfo, error) {
	f, fi, err := t.open(rel, os.O_RDONLY)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	if !fi.Mode().IsRegular() {
		return nil, nil, &skipError{rel, "not a regular file"}
	}
	if fi.Size() > maxRead {
		return nil, nil, fmt.Errorf("read %s: %d bytes, more than the %d this operation reads", rel, fi.Size(), maxRead)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxRead+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", rel, err)
	}
	return b, fi, nil
}

// count returns how many entries removing rel removes (rel included).
func (t *tree) count(rel string, isDir bool) (int, error) {
	if !isDir {
		return 1, nil
	}
	ents, err := t.readDir(rel)
	if err != nil {
		return 0, err
	}
	n := 1
	for _, e := range ents {
		c, err := t.count(path.Join(rel, e.Name()), e.IsDir())
		if err != nil {
			return 0, err
		}
		n += c
	}
	return n, nil
}

// remove removes rel: the link itself for a symbolic link, the whole
// subtree for a directory (os.Root.RemoveAll does not follow links below
// it). A missing rel is not an error.
func (t *tree) remove(rel string, isDir bool) error {
	fi, err := t.lstat(rel)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() != isDir {
		return fmt.Errorf("remove %s: it changed type since it was planned (now %v)", rel, fi.Mode().Type())
	}
	if isDir {
		err = t.root.RemoveAll(rel)
		t.forget(rel)
	} else {
		err = t.root.Remove(rel)
	}
	if err != nil {
		return fmt.Errorf("remove %s: %w", rel, err)
	}
	return nil
}

// truncate empties the regular file rel in place, which keeps its inode,
// mode, owner and extended attributes. A file with more than one hard link
// is replaced by an empty copy instead, so the other names (possibly outside
// the root) keep their contents.
func (t *tree) truncate(rel string) error {
	f, fi, err := t.open(rel, os.O_WRONLY)
	if err != nil {
		return err
	}
	defer f.Close()
	if !fi.Mode().IsRegular() {
		return &skipError{rel, "not a regular file"}
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
		return t.replace(rel, nil, f, fi, 0)
	}
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("truncate %s: %w", rel, err)
	}
	return nil
}

// replace atomically replaces rel with a new regular file holding data: a
// temporary file in the same directory gets the mode, owner and extended
// attributes of the old file (src, fi; nil when rel is a symbolic link or
// absent, then mode is used) and is renamed over rel. rename(2) replaces a
// symbolic link itself, never its target.
func (t *tree) replace(rel string, data []byte, src *os.File, fi fs.FileInfo, mode fs.FileMode) (err error) {
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return err
	}
	tmp := path.Join(path.Dir(rel), "."+path.Base(rel)+".sysprep-"+hex.EncodeToString(rnd[:]))
	f, err := t.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("replace %s: create %s: %w", rel, tmp, err)
	}
	defer func() {
		if f != nil {
			f.Close()
		}
		if err != nil {
			t.root.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("replace %s: write %s: %w", rel, tmp, err)
	}
	if fi != nil {
		old, ok1 := fi.Sys().(*syscall.Stat_t)
		nfi, err := f.Stat()
		if err != nil {
			return fmt.Errorf("replace %s: stat %s: %w", rel, tmp, err)
		}
		cur, ok2 := nfi.Sys().(*syscall.Stat_t)
		if ok1 && ok2 && (old.Uid != cur.Uid || old.Gid != cur.Gid) {
			if err := f.Chown(int(old.Uid), int(old.Gid)); err != nil {
				return fmt.Errorf("replace %s: keep owner %d:%d: %w", rel, old.Uid, old.Gid, err)
			}
		}
	}
	// Order: owner (chown drops security.capability and set-ID bits),
	// then extended attributes (setting user.* needs write permission,
	// which a 0444 mode would deny a non-root caller), then the mode.
	if src != nil {
		if err := copyXattrs(src, f); err != nil {
			return fmt.Errorf("replace %s: %w", rel, err)
		}
	}
	if fi != nil {
		mode = fi.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
	}
	if err := f.Chmod(mode); err != nil {
		return fmt.Errorf("replace %s: chmod %s: %w", rel, tmp, err)
	}
	cerr := f.Close()
	f = nil
	if cerr != nil {
		return fmt.Errorf("replace %s: close %s: %w", rel, tmp, cerr)
	}
	if err := t.root.Rename(tmp, rel); err != nil {
		return fmt.Errorf("replace %s: %w", rel, err)
	}
	return nil
}

// copyXattrs copies every extended attribute the caller can see (user.*,
// security.selinux, POSIX ACLs...) from src to dst. Losing security.selinux
// on a RHEL image would leave the file unlabeled and unwritable for systemd
// at first boot, so a failure is an error. A file system without extended
// attributes has nothing to copy.
func copyXattrs(src, dst *os.File) error {
	sfd, dfd := int(src.Fd()), int(dst.Fd())
	var names []byte
	for size := 256; ; size *= 2 {
		names = make([]byte, size)
		n, err := unix.Flistxattr(sfd, names)
		if errors.Is(err, unix.ERANGE) {
			continue
		}
		if errors.Is(err, unix.ENOTSUP) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("list extended attributes of %s: %w", src.Name(), err)
		}
		names = names[:n]
		break
	}
	for _, name := range bytes.Split(names, []byte{0}) {
		if len(name) == 0 {
			continue
		}
		var val []byte
		for size := 256; ; size *= 2 {
			val = make([]byte, size)
			n, err := unix.Fgetxattr(sfd, string(name), val)
			if errors.Is(err, unix.ERANGE) {
				continue
			}
			if err != nil {
				return fmt.Errorf("read extended attribute %s of %s: %w", name, src.Name(), err)
			}
			val = val[:n]
			break
		}
		if err := unix.Fsetxattr(dfd, string(name), val, 0); err != nil {
			return fmt.Errorf("copy extended attribute %s of %s: %w", name, src.Name(), err)
		}
	}
	return nil
}
