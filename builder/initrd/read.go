// Package initrd reads Linux initramfs images and builds small cpio
// archives to append to them.
//
// An initramfs image is a sequence of newc ("070701") cpio archives, each
// either stored uncompressed (the early microcode cpio that Debian and RHEL
// prepend) or compressed, separated by zero padding. The kernel unpacks them
// in order and a later file of the same name replaces an earlier one
// (Documentation/driver-api/early-userspace/buffer-format.rst), which is what
// lets the image builder change an initramfs without running the guest's
// dracut or update-initramfs: it appends one more archive.
//
// The reader is meant for images taken from untrusted disk images: every size
// is bounded, nothing is written to disk, and bad input yields an error,
// never a panic.
package initrd

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// Limits bound what List reads from an image. Zero fields take the value
// of DefaultLimits.
type Limits struct {
	// MaxData is the largest regular file whose content is kept in
	// Entry.Data; larger files are listed with Data nil.
	MaxData int64
	// MaxTotal bounds the decompressed size of the whole image.
	MaxTotal int64
	// MaxEntries bounds the number of cpio entries.
	MaxEntries int
	// MaxKept bounds the sum of the Data kept; files beyond it are listed
	// with Data nil.
	MaxKept int64
	// Keep, if not nil, selects the regular files whose Data is kept (by
	// cleaned name); the others are listed with Data nil.
	Keep func(name string) bool
}

// DefaultLimits are used by List.
var DefaultLimits = Limits{MaxData: 1 << 20, MaxTotal: 4 << 30, MaxEntries: 1 << 20, MaxKept: 512 << 20}

// Compression names as reported in Entry.Compression.
const (
	CompressNone = "none"
	CompressGzip = "gzip"
	CompressZstd = "zstd"
)

// Entry is one member of a cpio archive inside an initramfs image.
type Entry struct {
	Name        string // path without leading "/" or "./"; "." for the root
	Mode        uint32 // st_mode: type bits (S_IFREG, ...) and permissions
	UID, GID    uint32
	Size        int64  // size of the content in the archive
	Data        []byte // content of a regular file of at most MaxData bytes, or a symlink's target
	Archive     int    // index of the cpio archive in the image, from 0
	Compression string // compression of the archive: CompressNone, CompressGzip or CompressZstd
}

// File type bits of Entry.Mode.
const (
	ModeType    = 0o170000
	ModeDir     = 0o040000
	ModeRegular = 0o100000
	ModeSymlink = 0o120000
)

// IsDir reports whether e is a directory.
func (e Entry) IsDir() bool { return e.Mode&ModeType == ModeDir }

// IsRegular reports whether e is a regular file.
func (e Entry) IsRegular() bool { return e.Mode&ModeType == ModeRegular }

// IsSymlink reports whether e is a symbolic link.
func (e Entry) IsSymlink() bool { return e.Mode&ModeType == ModeSymlink }

// List returns the entries of all cpio archives in img in order, with
// DefaultLimits.
func List(img []byte) ([]Entry, error) { return ListLimits(img, DefaultLimits) }

// Merged returns the view the kernel ends up with after unpacking: for each
// name the last entry of that name.
func Merged(entries []Entry) map[string]Entry {
	m := make(map[string]Entry, len(entries))
	for _, e := range entries {
		m[e.Name] = e
	}
	return m
}

// ErrUnsupportedCompression is wrapped by errors about archives compressed
// with a method the reader does not implement.
var ErrUnsupportedCompression = errors.New("unsupported initramfs compression")

// magics of compression formats the kernel can unpack (lib/decompress.c).
var magics = []struct {
	name  string
	magic []byte
}{
	{CompressGzip, []byte{0x1f, 0x8b}},
	{CompressGzip, []byte{0x1f, 0x9e}},
	{CompressZstd, []byte{0x28, 0xb5, 0x2f, 0xfd}},
	{"xz", []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}},
	{"lzma", []byte{0x5d, 0x00, 0x00}},
	{"bzip2", []byte{'B', 'Z', 'h'}},
	{"lz4", []byte{0x02, 0x21, 0x4c, 0x18}},
	{"lz4", []byte{0x04, 0x22, 0x4d, 0x18}},
	{"lzo", []byte{0x89, 'L', 'Z', 'O'}},
}

func compressionOf(b []byte) string {
	for _, m := range magics {
		if bytes.HasPrefix(b, m.magic) {
			return m.name
		}
	}
	return ""
}

// lister holds the state of one List call.
type lister struct {
	lim        Limits
	total      int64 // decompressed bytes read so far
	kept       int64 // bytes of Data kept so far
	entries    []Entry
	archiveIdx int
}

// ListLimits is List with explicit limits.
func ListLimits(img []byte, lim Limits) ([]Entry, error) {
	if lim.MaxData <= 0 {
		lim.MaxData = DefaultLimits.MaxData
	}
	if lim.MaxTotal <= 0 {
		lim.MaxTotal = DefaultLimits.MaxTotal
	}
	if lim.MaxEntries <= 0 {
		lim.MaxEntries = DefaultLimits.MaxEntries
	}
	if lim.MaxKept <= 0 {
		lim.MaxKept = DefaultLimits.MaxKept
	}
	l := &lister{lim: lim}
	pos := 0
	for {
		for pos < len(img) && img[pos] == 0 {
			pos++
		}
		if pos >= len(img) {
			break
		}
		if bytes.HasPrefix(img[pos:], []byte("0707")) {
			r := &countReader{r: bytes.NewReader(img[pos:])}
			if err := l.archives(r, CompressNone, true); err != nil {
				return l.entries, fmt.Errorf("initramfs: uncompressed cpio at offset %d: %w", pos, err)
			}
			pos += int(r.n)
			continue
		}
		comp := compressionOf(img[pos:])
		switch comp {
		case CompressGzip, CompressZstd:
		case "":
			return l.entries, fmt.Errorf("initramfs: unknown data at offset %d (%x...): neither a newc cpio archive nor a compressed one; the file is not an initramfs or is damaged", pos, img[pos:min(pos+8, len(img))])
		default:
			return l.entries, fmt.Errorf("initramfs: archive at offset %d is %s-compressed: %w; regenerate the guest's initramfs with COMPRESS=zstd or COMPRESS=gzip (initramfs-tools: /etc/initramfs-tools/initramfs.conf; dracut: compress=\"zstd\" in /etc/dracut.conf.d)", pos, comp, ErrUnsupportedCompression)
		}
		fr := &frameReader{img: img, pos: pos, comp: comp}
		err := l.archives(fr, comp, false)
		fr.close()
		if err != nil {
			return l.entries, fmt.Errorf("initramfs: %s-compressed data at offset %d: %w", comp, pos, err)
		}
		pos = fr.pos
	}
	return l.entries, nil
}

// frameReader yields the decompressed content of consecutive compressed
// frames of one kind (gzip members or zstd frames, as zstd -T0 writes
// several) of img starting at pos, skipping zero padding between them, as
// the kernel's state machine sees it. It stops before anything else; pos is
// then the offset of that data.
type frameReader struct {
	img  []byte
	pos  int
	comp string
	cur  io.Reader
	end  func() int // offset after the current frame, valid at its EOF
	done bool
	zdec *zstd.Decoder
}

func (f *frameReader) Read(p []byte) (int, error) {
	for {
		if f.done {
			return 0, io.EOF
		}
		if f.cur == nil {
			if err := f.open(); err != nil {
				return 0, err
			}
			continue
		}
		n, err := f.cur.Read(p)
		if err == io.EOF {
			f.pos = f.end()
			f.cur = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		if err != nil {
			return n, err
		}
		return n, nil
	}
}

func (f *frameReader) close() {
	if f.zdec != nil {
		f.zdec.Close()
		f.zdec = nil
	}
}

// open starts the frame at f.pos, or sets done if there is none.
func (f *frameReader) open() error {
	p := f.pos
	for p < len(f.img) && f.img[p] == 0 {
		p++
	}
	comp := compressionOf(f.img[p:])
	if p >= len(f.img) || comp != f.comp {
		f.done = true
		return nil
	}
	f.pos = p
	switch comp {
	case CompressGzip:
		br := bytes.NewReader(f.img[p:])
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("gzip member at offset %d: %w", p, err)
		}
		zr.Multistream(false)
		f.cur = zr
		f.end = func() int { return p + int(br.Size()) - br.Len() }
	case CompressZstd:
		n, err := zstdFrameLen(f.img[p:])
		if err != nil {
			return fmt.Errorf("zstd frame at offset %d: %w", p, err)
		}
		if f.zdec == nil {
			f.zdec, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(1<<27), zstd.WithDecoderMaxMemory(1<<32))
			if err != nil {
				return err
			}
		}
		if err := f.zdec.Reset(bytes.NewReader(f.img[p : p+n])); err != nil {
			return fmt.Errorf("zstd frame at offset %d: %w", p, err)
		}
		f.cur = f.zdec
		f.end = func() int { return p + n }
	}
	return nil
}

// zstdFrameLen returns the length of the zstd frame at the start of b by
// walking its block headers (RFC 8878 section 3.1.1).
func zstdFrameLen(b []byte) (int, error) {
	if len(b) < 5 {
		return 0, errors.New("truncated frame header")
	}
	fhd := b[4]
	if fhd&0x08 != 0 {
		return 0, errors.New("reserved bit set in frame header")
	}
	single := fhd&0x20 != 0
	n := 5
	if !single {
		n++ // window descriptor
	}
	n += [4]int{0, 1, 2, 4}[fhd&3]
	switch fhd >> 6 {
	case 0:
		if single {
			n++
		}
	case 1:
		n += 2
	case 2:
		n += 4
	case 3:
		n += 8
	}
	for {
		if n+3 > len(b) {
			return 0, errors.New("truncated frame (block header)")
		}
		h := uint32(b[n]) | uint32(b[n+1])<<8 | uint32(b[n+2])<<16
		n += 3
		size := int(h >> 3)
		switch (h >> 1) & 3 {
		case 1: // RLE
			size = 1
		case 3:
			return 0, errors.New("reserved block type")
		}
		if size > len(b)-n {
			return 0, errors.New("truncated frame (block data)")
		}
		n += size
		if h&1 != 0 {
			break
		}
	}
	if fhd&0x04 != 0 {
		n += 4
		if n > len(b) {
			return 0, errors.New("truncated frame (checksum)")
		}
	}
	return n, nil
}

// countReader counts bytes read.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

const (
	newcHeaderLen = 110
	maxNameSize   = 4096 // PATH_MAX, as the kernel's initramfs unpacker
	trailerName   = "TRAILER!!!"
)

// archives parses cpio archives from r. With one set it stops after the
// first archive's trailer (uncompressed archives in the image, whose end
// is only known by parsing); otherwise it reads archives until EOF,
// skipping zero padding between them.
func (l *lister) archives(r io.Reader, comp string, one bool) error {
	off := int64(0) // offset in r, for 4-byte alignment
	var hdr [newcHeaderLen]byte
	for {
		// Skip zero padding before the next header (only between archives
		// of a compressed stream; an uncompressed one starts at its magic).
		if !one {
			for {
				if _, err := io.ReadFull(r, hdr[:4]); err != nil {
					if err == io.EOF {
						return nil
					}
					return err
				}
				if off += 4; binary.BigEndian.Uint32(hdr[:4]) != 0 {
					break
				}
			}
			if _, err := io.ReadFull(r, hdr[4:]); err != nil {
				return fmt.Errorf("truncated cpio header: %w", errUnexpectedEOF(err))
			}
			off += newcHeaderLen - 4
		} else {
			if _, err := io.ReadFull(r, hdr[:]); err != nil {
				return fmt.Errorf("truncated cpio header: %w", errUnexpectedEOF(err))
			}
			off += newcHeaderLen
		}
		if err := l.archive(r, hdr, &off, comp); err != nil {
			return err
		}
		l.archiveIdx++
		if one {
			return nil
		}
	}
}

func errUnexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// archive parses one archive whose first header is in hdr.
func (l *lister) archive(r io.Reader, hdr [newcHeaderLen]byte, off *int64, comp string) error {
	for {
		magic := string(hdr[:6])
		if magic != "070701" && magic != "070702" {
			return fmt.Errorf("bad cpio magic %q at offset %d (only newc archives, as written by the initramfs tools, are supported)", hdr[:6], *off-newcHeaderLen)
		}
		var f [13]uint32
		for i := range f {
			v, err := strconv.ParseUint(string(hdr[6+8*i:14+8*i]), 16, 32)
			if err != nil {
				return fmt.Errorf("bad cpio header field %q at offset %d", hdr[6+8*i:14+8*i], *off-newcHeaderLen)
			}
			f[i] = uint32(v)
		}
		mode, uid, gid, size, nameSize := f[1], f[2], f[3], int64(f[6]), int64(f[11])
		if nameSize == 0 || nameSize > maxNameSize {
			return fmt.Errorf("cpio name size %d at offset %d out of range 1..%d", nameSize, *off-newcHeaderLen, maxNameSize)
		}
		nameBuf := make([]byte, nameSize+pad4(*off+nameSize))
		if err := l.read(r, nameBuf, off); err != nil {
			return fmt.Errorf("cpio entry name: %w", err)
		}
		name := string(nameBuf[:nameSize])
		name = strings.TrimRight(name, "\x00")
		if name == trailerName {
			return nil
		}
		if len(l.entries) >= l.lim.MaxEntries {
			return fmt.Errorf("more than %d cpio entries", l.lim.MaxEntries)
		}
		e := Entry{Name: cleanName(name), Mode: mode, UID: uid, GID: gid, Size: size, Archive: l.archiveIdx, Compression: comp}
		keep := (e.IsRegular() && size <= l.lim.MaxData && (l.lim.Keep == nil || l.lim.Keep(e.Name))) ||
			(e.IsSymlink() && size <= maxNameSize)
		if keep && l.kept+size <= l.lim.MaxKept {
			l.kept += size
			e.Data = make([]byte, size)
			if err := l.read(r, e.Data, off); err != nil {
				return fmt.Errorf("content of %s: %w", e.Name, err)
			}
		} else if err := l.skip(r, size, off); err != nil {
			return fmt.Errorf("content of %s: %w", e.Name, err)
		}
		if err := l.skip(r, pad4(*off), off); err != nil {
			return fmt.Errorf("padding after %s: %w", e.Name, err)
		}
		l.entries = append(l.entries, e)
		if err := l.read(r, hdr[:], off); err != nil {
			return fmt.Errorf("cpio header after %s (archive without TRAILER!!!?): %w", e.Name, err)
		}
	}
}

func (l *lister) account(n int64) error {
	l.total += n
	if l.total > l.lim.MaxTotal {
		return fmt.Errorf("decompressed initramfs larger than %d bytes", l.lim.MaxTotal)
	}
	return nil
}

func (l *lister) read(r io.Reader, b []byte, off *int64) error {
	if err := l.account(int64(len(b))); err != nil {
		return err
	}
	n, err := io.ReadFull(r, b)
	*off += int64(n)
	return errUnexpectedEOF(err)
}

func (l *lister) skip(r io.Reader, n int64, off *int64) error {
	if err := l.account(n); err != nil {
		return err
	}
	m, err := io.CopyN(io.Discard, r, n)
	*off += m
	return errUnexpectedEOF(err)
}

func pad4(n int64) int64 { return (4 - n%4) % 4 }

// cleanName makes an archive member name relative: "./a", "/a" and "a" are
// the same file to the kernel.
func cleanName(n string) string {
	n = path.Clean("/" + n)
	if n == "/" {
		return "."
	}
	return n[1:]
}
