// Package fstree is the in-memory description of a small file tree that the
// filesystem writers (iso9660, vfat) lay out and stream to their output.
//
// A Tree holds names, sizes and directory structure only. File contents are
// fetched through an Open function at the moment the writer streams them, so
// a tree built from a directory on disk costs memory proportional to the
// number of entries, not to their size.
package fstree

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"
)

// MaxNameLen is the longest name, in bytes, a tree accepts for one path
// component (NAME_MAX on Linux).
const MaxNameLen = 255

// MaxDepth is the deepest directory nesting a tree accepts. ECMA-119 allows
// eight levels including the root; deeper trees would need Rock Ridge
// directory relocation, which config drives never need.
const MaxDepth = 7

// ErrInvalidPath is wrapped by every error about a path that cannot be placed
// in a tree.
var ErrInvalidPath = errors.New("invalid path")

// Node is a file or a directory.
type Node struct {
	Name     string
	Dir      bool
	Children []*Node // directories only, sorted by Name after Sort
	Size     int64   // files only
	Exec     bool    // files only: owner-executable in the source
	// Open returns the content of a file; it must yield exactly Size bytes.
	Open func() (io.ReadCloser, error)
	// Source names where the content comes from, for error messages.
	Source string
}

// Tree is a rooted file tree.
type Tree struct {
	Root Node
}

// New returns an empty tree.
func New() *Tree {
	return &Tree{Root: Node{Dir: true}}
}

// ValidName reports whether name can be one path component.
func ValidName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty path component", ErrInvalidPath)
	case name == "." || name == "..":
		return fmt.Errorf("%w: %q component escapes or repeats the tree", ErrInvalidPath, name)
	case len(name) > MaxNameLen:
		return fmt.Errorf("%w: name %.40q... is %d bytes, longer than %d", ErrInvalidPath, name, len(name), MaxNameLen)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: name %q is not valid UTF-8", ErrInvalidPath, name)
	case strings.ContainsAny(name, "/\x00"):
		return fmt.Errorf("%w: name %q contains '/' or NUL", ErrInvalidPath, name)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: name %q contains a control character", ErrInvalidPath, name)
		}
	}
	return nil
}

// SplitPath checks a slash-separated path relative to the tree root and
// returns its components. Absolute paths and ".." are refused.
func SplitPath(p string) ([]string, error) {
	if p == "" {
		return nil, fmt.Errorf("%w: empty path", ErrInvalidPath)
	}
	if strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("%w: %q is absolute; tree paths are relative", ErrInvalidPath, p)
	}
	parts := strings.Split(p, "/")
	for _, c := range parts {
		if err := ValidName(c); err != nil {
			return nil, fmt.Errorf("path %q: %w", p, err)
		}
	}
	if len(parts) > MaxDepth+1 {
		return nil, fmt.Errorf("%w: %q is nested %d levels deep, more than %d", ErrInvalidPath, p, len(parts)-1, MaxDepth)
	}
	return parts, nil
}

func (t *Tree) walkTo(parts []string, p string) (*Node, error) {
	n := &t.Root
	for _, c := range parts {
		var next *Node
		for _, ch := range n.Children {
			if ch.Name == c {
				next = ch
				break
			}
		}
		if next == nil {
			next = &Node{Name: c, Dir: true}
			n.Children = append(n.Children, next)
		} else if !next.Dir {
			return nil, fmt.Errorf("%w: %q: %q is a file, not a directory", ErrInvalidPath, p, c)
		}
		n = next
	}
	return n, nil
}

// Mkdir adds a directory and its missing parents.
func (t *Tree) Mkdir(p string) error {
	parts, err := SplitPath(p)
	if err != nil {
		return err
	}
	_, err = t.walkTo(parts, p)
	return err
}

// AddFile adds a file whose content comes from open. Parents are created.
func (t *Tree) AddFile(p string, size int64, exec bool, source string, open func() (io.ReadCloser, error)) error {
	parts, err := SplitPath(p)
	if err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("%w: %q has negative size", ErrInvalidPath, p)
	}
	dir, err := t.walkTo(parts[:len(parts)-1], p)
	if err != nil {
		return err
	}
	name := parts[len(parts)-1]
	for _, ch := range dir.Children {
		if ch.Name == name {
			return fmt.Errorf("%w: %q added twice", ErrInvalidPath, p)
		}
	}
	dir.Children = append(dir.Children, &Node{Name: name, Size: size, Exec: exec, Open: open, Source: source})
	return nil
}

// AddBytes adds a file holding b. The tree keeps a reference to b.
func (t *Tree) AddBytes(p string, b []byte) error {
	return t.AddFile(p, int64(len(b)), false, p, func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	})
}

// Lookup returns the node at p, or nil.
func (t *Tree) Lookup(p string) *Node {
	n := &t.Root
	if p == "" || p == "." {
		return n
	}
	for _, c := range strings.Split(p, "/") {
		var next *Node
		for _, ch := range n.Children {
			if ch.Name == c {
				next = ch
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	return n
}

// ReadFile returns the whole content of the file at p. It is meant for the
// small JSON files a caller wants to validate.
func (t *Tree) ReadFile(p string, limit int64) ([]byte, error) {
	n := t.Lookup(p)
	if n == nil || n.Dir {
		return nil, fmt.Errorf("%s: %w", p, fs.ErrNotExist)
	}
	if n.Size > limit {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d allowed", p, n.Size, limit)
	}
	rc, err := n.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, limit+1))
}

// Sort orders every directory's children by name (byte order), so that
// writers that iterate the tree produce the same output for the same input.
func (t *Tree) Sort() {
	var rec func(n *Node)
	rec = func(n *Node) {
		sort.Slice(n.Children, func(i, j int) bool { return n.Children[i].Name < n.Children[j].Name })
		for _, c := range n.Children {
			if c.Dir {
				rec(c)
			}
		}
	}
	rec(&t.Root)
}

// Walk calls fn for every node below the root in depth-first, sorted order
// with its slash-separated path.
func (t *Tree) Walk(fn func(p string, n *Node) error) error {
	t.Sort()
	var rec func(prefix string, n *Node) error
	rec = func(prefix string, n *Node) error {
		for _, c := range n.Children {
			p := path.Join(prefix, c.Name)
			if err := fn(p, c); err != nil {
				return err
			}
			if c.Dir {
				if err := rec(p, c); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return rec("", &t.Root)
}

// FromDir builds a tree from the directory dir. Only regular files and
// directories are accepted: a symlink could point outside the tree, and
// devices or sockets have no place on a config drive. File contents are not
// read here.
func FromDir(dir string) (*Tree, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s: not a directory", dir)
	}
	t := New()
	err = filepath.WalkDir(dir, func(full string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if full == dir {
			return nil
		}
		rel, err := filepath.Rel(dir, full)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			return fmt.Errorf("%w: %s is a symlink; a config drive tree may hold only regular files and directories (a link can point outside the tree)", ErrInvalidPath, full)
		case d.IsDir():
			return t.Mkdir(rel)
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			return t.AddFile(rel, info.Size(), info.Mode()&0o100 != 0, full, func() (io.ReadCloser, error) {
				return os.Open(full)
			})
		default:
			return fmt.Errorf("%w: %s is a %v, not a regular file or directory", ErrInvalidPath, full, d.Type())
		}
	})
	if err != nil {
		return nil, err
	}
	t.Sort()
	return t, nil
}

// CopyFile streams n's content to w and checks that it has the announced
// size; a file that changed since the tree was built is an error, not a
// corrupt image.
func CopyFile(w io.Writer, n *Node, buf []byte) error {
	rc, err := n.Open()
	if err != nil {
		return fmt.Errorf("open %s: %w", n.Source, err)
	}
	defer rc.Close()
	got, err := io.CopyBuffer(w, io.LimitReader(rc, n.Size), buf)
	if err != nil {
		return fmt.Errorf("copy %s: %w", n.Source, err)
	}
	if got != n.Size {
		return fmt.Errorf("%s: shrank from %d to %d bytes while the image was written", n.Source, n.Size, got)
	}
	var one [1]byte
	if k, _ := rc.Read(one[:]); k > 0 {
		return fmt.Errorf("%s: grew beyond %d bytes while the image was written", n.Source, n.Size)
	}
	return nil
}
