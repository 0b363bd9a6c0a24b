// Package iso9660 reads the files of an ISO 9660 image in memory, with
// the long names of its Joliet supplementary volume or its Rock Ridge NM
// entries, as genisoimage/mkisofs -J -r (nova's config drive) write
// them. It reads only what a config drive needs: the volume label,
// directories and regular files; it never follows an offset outside the
// image and bounds the work a hostile image can cause.
package iso9660

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"path"
	"strings"
	"unicode/utf16"
)

// SectorSize is the logical block size the package supports.
const SectorSize = 2048

// Limits on what an image may make the reader do.
const (
	MaxDepth   = 16
	MaxEntries = 20000
)

// ErrFormat is wrapped by every error about the image.
var ErrFormat = errors.New("not a readable ISO 9660 image")

// File is one regular file.
type File struct {
	Path string // slash-separated, relative, e.g. "openstack/latest/meta_data.json"
	Data []byte // a slice of the image
}

// Image is a parsed image.
type Image struct {
	Label string // volume identifier, trailing blanks removed
	Dirs  []string
	Files []File
}

type extent struct {
	lba, size uint32
}

// Read parses img.
func Read(img []byte) (*Image, error) {
	var pvd, joliet []byte
	for s := 16; ; s++ {
		if (s+1)*SectorSize > len(img) || s > 16+64 {
			return nil, fmt.Errorf("%w: no volume descriptor set terminator", ErrFormat)
		}
		d := img[s*SectorSize : (s+1)*SectorSize]
		if string(d[1:6]) != "CD001" {
			return nil, fmt.Errorf("%w: sector %d is not a volume descriptor", ErrFormat, s)
		}
		switch d[0] {
		case 1:
			if pvd == nil {
				pvd = d
			}
		case 2:
			esc := d[88:120]
			if joliet == nil && (bytes.HasPrefix(esc, []byte("%/@")) || bytes.HasPrefix(esc, []byte("%/C")) || bytes.HasPrefix(esc, []byte("%/E"))) {
				joliet = d
			}
		case 255:
			goto done
		}
	}
done:
	if pvd == nil {
		return nil, fmt.Errorf("%w: no primary volume descriptor", ErrFormat)
	}
	if bs := binary.LittleEndian.Uint16(pvd[128:]); bs != SectorSize {
		return nil, fmt.Errorf("%w: logical block size %d", ErrFormat, bs)
	}
	im := &Image{Label: strings.TrimRight(string(pvd[40:72]), " \x00")}
	r := &walker{img: img, im: im, seen: map[uint32]bool{}}
	vd, mode := pvd, modeISO
	if joliet != nil {
		vd, mode = joliet, modeJoliet
	}
	root, _, err := r.record(vd[156:190])
	if err != nil {
		return nil, fmt.Errorf("%w: root directory record: %v", ErrFormat, err)
	}
	if mode == modeISO {
		mode = r.detectRockRidge(root)
	}
	r.mode = mode
	if err := r.dir(root, "", 0); err != nil {
		return nil, err
	}
	return im, nil
}

type nameMode int

const (
	modeISO nameMode = iota
	modeJoliet
	modeRockRidge
)

type walker struct {
	img     []byte
	im      *Image
	mode    nameMode
	entries int
	seen    map[uint32]bool
}

type rec struct {
	ext   extent
	isDir bool
	name  string
}

// record parses one directory record (b starts at its length byte).
func (w *walker) record(b []byte) (extent, bool, error) {
	if len(b) < 34 || int(b[0]) > len(b) || b[0] < 34 {
		return extent{}, false, errors.New("short directory record")
	}
	e := extent{lba: binary.LittleEndian.Uint32(b[2:]), size: binary.LittleEndian.Uint32(b[10:])}
	return e, b[25]&2 != 0, nil
}

func (w *walker) span(e extent) ([]byte, error) {
	start := uint64(e.lba) * SectorSize
	end := start + uint64(e.size)
	if end > uint64(len(w.img)) {
		return nil, fmt.Errorf("%w: extent at block %d (%d bytes) lies outside the %d-byte image", ErrFormat, e.lba, e.size, len(w.img))
	}
	return w.img[start:end], nil
}

// records lists a directory's entries except . and ..
func (w *walker) records(dir extent) ([]rec, []byte, error) {
	data, err := w.span(dir)
	if err != nil {
		return nil, nil, err
	}
	var out []rec
	var self []byte
	for off := 0; off < len(data); {
		l := int(data[off])
		if l == 0 { // records never span sectors: skip to the next one
			off = (off/SectorSize + 1) * SectorSize
			continue
		}
		if off+l > len(data) || l < 34 {
			return nil, nil, fmt.Errorf("%w: directory record at block %d offset %d has length %d", ErrFormat, dir.lba, off, l)
		}
		b := data[off : off+l]
		off += l
		e, isDir, _ := w.record(b)
		nl := int(b[32])
		if 33+nl > len(b) {
			return nil, nil, fmt.Errorf("%w: directory record name overruns the record", ErrFormat)
		}
		raw := b[33 : 33+nl]
		if nl == 1 && (raw[0] == 0 || raw[0] == 1) {
			if raw[0] == 0 && self == nil {
				self = b
			}
			continue
		}
		w.entries++
		if w.entries > MaxEntries {
			return nil, nil, fmt.Errorf("%w: more than %d entries", ErrFormat, MaxEntries)
		}
		su := 33 + nl
		if nl%2 == 0 {
			su++
		}
		name := w.name(raw, b[min(su, len(b)):])
		out = append(out, rec{ext: e, isDir: isDir, name: name})
	}
	return out, self, nil
}

func (w *walker) name(raw, su []byte) string {
	switch w.mode {
	case modeJoliet:
		u := make([]uint16, len(raw)/2)
		for i := range u {
			u[i] = binary.BigEndian.Uint16(raw[2*i:])
		}
		return stripVersion(string(utf16.Decode(u)))
	case modeRockRidge:
		if n, ok := rockRidgeName(su); ok {
			return n
		}
	}
	return strings.ToLower(strings.TrimSuffix(stripVersion(string(raw)), "."))
}

func stripVersion(s string) string {
	if i := strings.LastIndexByte(s, ';'); i >= 0 {
		return s[:i]
	}
	return s
}

// rockRidgeName reads the NM entries of a system use area.
func rockRidgeName(su []byte) (string, bool) {
	var name []byte
	found := false
	for len(su) >= 4 {
		l := int(su[2])
		if l < 4 || l > len(su) {
			break
		}
		if su[0] == 'N' && su[1] == 'M' && l >= 5 {
			flags := su[4]
			if flags&0x06 == 0 { // not "." or ".."
				name = append(name, su[5:l]...)
				found = true
			}
		}
		su = su[l:]
	}
	return string(name), found && len(name) > 0
}

// detectRockRidge looks for the SUSP "SP" entry in the root's "."
// record.
func (w *walker) detectRockRidge(root extent) nameMode {
	data, err := w.span(root)
	if err != nil || len(data) < 34 {
		return modeISO
	}
	l := int(data[0])
	if l < 34 || l > len(data) {
		return modeISO
	}
	su := data[34:l] // "." has a 1-byte name and a pad byte: 33+1
	if len(su) >= 7 && su[0] == 'S' && su[1] == 'P' && su[4] == 0xBE && su[5] == 0xEF {
		return modeRockRidge
	}
	return modeISO
}

func (w *walker) dir(e extent, prefix string, depth int) error {
	if depth > MaxDepth {
		return fmt.Errorf("%w: directories nested deeper than %d", ErrFormat, MaxDepth)
	}
	if w.seen[e.lba] {
		return fmt.Errorf("%w: directory at block %d is reached twice (a loop)", ErrFormat, e.lba)
	}
	w.seen[e.lba] = true
	recs, _, err := w.records(e)
	if err != nil {
		return err
	}
	for _, r := range recs {
		if r.name == "" || r.name == "." || r.name == ".." || strings.ContainsAny(r.name, "/\x00") {
			return fmt.Errorf("%w: unsafe file name %q in /%s", ErrFormat, r.name, prefix)
		}
		p := path.Join(prefix, r.name)
		if r.isDir {
			w.im.Dirs = append(w.im.Dirs, p)
			if err := w.dir(r.ext, p, depth+1); err != nil {
				return err
			}
			continue
		}
		data, err := w.span(r.ext)
		if err != nil {
			return fmt.Errorf("file /%s: %w", p, err)
		}
		w.im.Files = append(w.im.Files, File{Path: p, Data: data})
	}
	return nil
}

// File returns the file at p, or nil.
func (im *Image) File(p string) *File {
	for i := range im.Files {
		if im.Files[i].Path == p {
			return &im.Files[i]
		}
	}
	return nil
}
