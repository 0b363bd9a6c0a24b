package payload

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// ErrUnsafeTar is wrapped when a doscript's tar would write outside the
// transport directory.
var ErrUnsafeTar = errors.New("unsafe tar entry")

// maxTar bounds what a doscript may unpack.
const maxTar = 256 << 20

// safeName returns the cleaned relative name of a tar entry, or an error
// if it is absolute or climbs out.
func safeName(name string) (string, error) {
	if name == "" || strings.HasPrefix(name, "/") || strings.ContainsRune(name, 0) {
		return "", fmt.Errorf("%w: %q is absolute or empty", ErrUnsafeTar, name)
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", fmt.Errorf("%w: %q has a \"..\" component", ErrUnsafeTar, name)
		}
	}
	c := path.Clean(name)
	if c == "." {
		return "", nil
	}
	return c, nil
}

// Untar checks every entry of the tar in data first and, only if all are
// safe, extracts regular files, directories and symbolic links that stay
// inside dir. Absolute names, ".." components, links pointing out,
// hard links and device files refuse the whole archive: nothing is
// written. The reader's NUL padding after the archive is fine (tar ends
// with zero blocks).
func Untar(data []byte, dir string) error {
	type ent struct {
		hdr  *tar.Header
		name string
		body []byte
	}
	var ents []ent
	tr := tar.NewReader(bytes.NewReader(data))
	total := 0
	links := map[string]bool{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read the tar: %w", err)
		}
		name, err := safeName(h.Name)
		if err != nil {
			return err
		}
		if name == "" {
			continue
		}
		for p := path.Dir(name); p != "."; p = path.Dir(p) {
			if links[p] {
				return fmt.Errorf("%w: %q lies below the symbolic link %q", ErrUnsafeTar, h.Name, p)
			}
		}
		e := ent{hdr: h, name: name}
		switch h.Typeflag {
		case tar.TypeReg:
			if h.Size < 0 || total+int(h.Size) > maxTar {
				return fmt.Errorf("tar entry %q: larger than %d bytes in all", h.Name, maxTar)
			}
			b, err := io.ReadAll(io.LimitReader(tr, h.Size))
			if err != nil || int64(len(b)) != h.Size {
				return fmt.Errorf("tar entry %q is truncated: %v", h.Name, err)
			}
			total += len(b)
			e.body = b
		case tar.TypeDir:
		case tar.TypeSymlink:
			t := h.Linkname
			if t == "" || strings.HasPrefix(t, "/") {
				return fmt.Errorf("%w: symbolic link %q points to %q", ErrUnsafeTar, h.Name, t)
			}
			if r := path.Join(path.Dir(name), t); r == ".." || strings.HasPrefix(r, "../") {
				return fmt.Errorf("%w: symbolic link %q points out to %q", ErrUnsafeTar, h.Name, t)
			}
			links[name] = true
		default:
			return fmt.Errorf("%w: %q has type %q (only files, directories and symbolic links are unpacked)", ErrUnsafeTar, h.Name, string(h.Typeflag))
		}
		ents = append(ents, e)
	}
	for _, e := range ents {
		p := filepath.Join(dir, filepath.FromSlash(e.name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("unpack %q: %w", e.name, err)
		}
		switch e.hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				return fmt.Errorf("unpack %q: %w", e.name, err)
			}
		case tar.TypeSymlink:
			os.Remove(p)
			if err := os.Symlink(e.hdr.Linkname, p); err != nil {
				return fmt.Errorf("unpack %q: %w", e.name, err)
			}
		default:
			// O_NOFOLLOW: never write through a link an earlier entry made.
			f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|noFollow, os.FileMode(e.hdr.Mode)&0o755|0o600)
			if err != nil {
				return fmt.Errorf("unpack %q: %w", e.name, err)
			}
			_, werr := f.Write(e.body)
			if err := errors.Join(werr, f.Close()); err != nil {
				return fmt.Errorf("unpack %q: %w", e.name, err)
			}
		}
	}
	return nil
}
