// Package debpkg reads what zguest-image needs from a Debian binary
// package (a .deb): its control fields and one file of its data, with no
// dpkg. A .deb is an ar archive of debian-binary ("2.0\n"), control.tar.*
// and data.tar.* (deb(5)); the tars may be uncompressed or compressed with
// gzip, xz or zstd.
package debpkg

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// ErrInvalid marks a file that is not a well-formed .deb.
var ErrInvalid = errors.New("not a valid Debian package")

// Magic starts every ar archive, so every .deb.
const Magic = "!<arch>\n"

// MaxFile bounds what File decompresses (a zip bomb stops here).
const MaxFile = 512 << 20

// IsDeb tells whether b starts like a .deb.
func IsDeb(b []byte) bool { return bytes.HasPrefix(b, []byte(Magic)) }

// Package is an opened .deb.
type Package struct {
	members map[string][]byte // ar member name -> contents
}

// Open parses the ar archive in b.
func Open(b []byte) (*Package, error) {
	if !IsDeb(b) {
		return nil, fmt.Errorf("%w: no ar archive magic %q at the start", ErrInvalid, Magic)
	}
	p := &Package{members: map[string][]byte{}}
	off := len(Magic)
	for off < len(b) {
		if len(b)-off < 60 {
			return nil, fmt.Errorf("%w: truncated ar member header at offset %d", ErrInvalid, off)
		}
		h := b[off : off+60]
		if string(h[58:60]) != "`\n" {
			return nil, fmt.Errorf("%w: bad ar member header at offset %d", ErrInvalid, off)
		}
		name := strings.TrimSuffix(strings.TrimRight(string(h[0:16]), " "), "/")
		size, err := strconv.ParseInt(strings.TrimRight(string(h[48:58]), " "), 10, 64)
		if err != nil || size < 0 || size > int64(len(b)-off-60) {
			return nil, fmt.Errorf("%w: ar member %q at offset %d: bad size %q", ErrInvalid, name, off, strings.TrimSpace(string(h[48:58])))
		}
		off += 60
		p.members[name] = b[off : off+int(size)]
		off += int(size) + int(size%2)
	}
	if v, ok := p.members["debian-binary"]; !ok || !bytes.HasPrefix(v, []byte("2.")) {
		return nil, fmt.Errorf("%w: no debian-binary member with format 2.x", ErrInvalid)
	}
	return p, nil
}

// tarball opens the member prefix.tar[.gz|.xz|.zst].
func (p *Package) tarball(prefix string) (*tar.Reader, error) {
	for name, b := range p.members {
		ext, ok := strings.CutPrefix(name, prefix+".tar")
		if !ok {
			continue
		}
		var r io.Reader = bytes.NewReader(b)
		var err error
		switch ext {
		case "":
		case ".gz":
			r, err = gzip.NewReader(r)
		case ".xz":
			r, err = xz.NewReader(r)
		case ".zst":
			var d *zstd.Decoder
			d, err = zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(MaxFile))
			r = d
		default:
			return nil, fmt.Errorf("%w: member %s: unknown compression %q", ErrInvalid, name, ext)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: member %s: %v", ErrInvalid, name, err)
		}
		return tar.NewReader(r), nil
	}
	return nil, fmt.Errorf("%w: no %s.tar member", ErrInvalid, prefix)
}

// find returns the contents of the regular file name in member prefix.
func (p *Package) find(prefix, name string) ([]byte, error) {
	tr, err := p.tarball(prefix)
	if err != nil {
		return nil, err
	}
	want := path.Clean("/" + name)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil, fmt.Errorf("%s.tar has no %s", prefix, want)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s.tar: %v", ErrInvalid, prefix, err)
		}
		if path.Clean("/"+h.Name) != want {
			continue
		}
		if h.Typeflag != tar.TypeReg {
			return nil, fmt.Errorf("%s in %s.tar is not a regular file", want, prefix)
		}
		if h.Size > MaxFile {
			return nil, fmt.Errorf("%s in %s.tar is %d bytes, more than %d", want, prefix, h.Size, MaxFile)
		}
		b, err := io.ReadAll(io.LimitReader(tr, h.Size))
		if err != nil {
			return nil, fmt.Errorf("%w: %s.tar: %s: %v", ErrInvalid, prefix, want, err)
		}
		return b, nil
	}
}

// File returns the contents of the regular file at name (an absolute path
// as installed, e.g. /usr/lib/zguest/zguest-agent) from data.tar.
func (p *Package) File(name string) ([]byte, error) { return p.find("data", name) }

// Control returns the fields of the control file (Package, Version,
// Architecture, ...); continuation lines are joined with newlines.
func (p *Package) Control() (map[string]string, error) {
	b, err := p.find("control", "control")
	if err != nil {
		return nil, err
	}
	fields := map[string]string{}
	last := ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		l := sc.Text()
		if l == "" {
			break
		}
		if (l[0] == ' ' || l[0] == '\t') && last != "" {
			fields[last] += "\n" + strings.TrimSpace(l)
			continue
		}
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			return nil, fmt.Errorf("%w: control line %q has no field name", ErrInvalid, l)
		}
		last = strings.TrimSpace(k)
		fields[last] = strings.TrimSpace(v)
	}
	return fields, nil
}
