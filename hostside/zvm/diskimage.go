package zvm

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Image formats.
const (
	FormatRaw     = "raw"
	FormatXCATCKD = "xcat-ckd"
	FormatXCATFBA = "xcat-fba"
)

// Header is the cloud connector's disk image header (xCAT format), as
// zthin's creatediskimage writes it and unpackdiskimage reads it:
//
//	0..19   the kind: "xCAT CKD Disk Image:", "xCAT FBA Disk Image:",
//	        "xCAT FBA Part Image:", or zvmsdk utils.make_dummy_image's
//	        "z/VM CKD Disk Image:" / "z/VM FBA Disk Image:"
//	20..35  the disk size, right-aligned: "    3338 CYL" or "2097152 BLK"
//	37..46  "HLen: nnnn", the header length (version 2 headers only)
//	48..53  "GZIP: ", then the gzip level 0-9 at offset 54
//
// A version 1 header is the first 36 bytes alone and the payload follows
// at 36, compressed at level 6. A version 2 payload starts at the next
// 512-byte boundary after HLen bytes (unpackdiskimage: skip HLen/512+1
// blocks of 512). Level 0 means the payload is the disk content as is.
type Header struct {
	Format string // FormatXCATCKD or FormatXCATFBA
	Size   int64  // in Unit; 0 for make_dummy_image's placeholder images
	Unit   string // "CYL" or "BLK"
	Len    int    // bytes before the payload
	Level  int    // gzip level: 0 = not compressed
}

var magics = map[string]string{
	"xCAT CKD Disk Image:": FormatXCATCKD,
	"xCAT FBA Disk Image:": FormatXCATFBA,
	"xCAT FBA Part Image:": FormatXCATFBA,
	"z/VM CKD Disk Image:": FormatXCATCKD,
	"z/VM FBA Disk Image:": FormatXCATFBA,
}

// ErrNoHeader means the data has no xCAT header (a raw image).
var ErrNoHeader = errors.New("no xCAT disk image header")

// headerBlock is unpackdiskimage's block size for version 2 headers.
const headerBlock = 512

// maxHLen bounds HLen: four digits.
const maxHLen = 9999

// ParseHeader reads the header from the first bytes of an image (at
// least the header; 512 bytes are enough for any real one).
func ParseHeader(b []byte) (Header, error) {
	if len(b) < 20 {
		return Header{}, ErrNoHeader
	}
	kind := string(b[:20])
	f, ok := magics[kind]
	if !ok {
		if strings.HasPrefix(kind, "xCAT ") || strings.HasPrefix(kind, "z/VM ") {
			return Header{}, fmt.Errorf("image header: unsupported image kind %q (FCP images are not supported; want a CKD or FBA disk image)", strings.TrimSpace(kind))
		}
		return Header{}, ErrNoHeader
	}
	if len(b) < 36 {
		return Header{}, fmt.Errorf("image header: %d bytes after %q; the size field needs bytes 20-35", len(b), kind)
	}
	fields := strings.Fields(string(b[20:36]))
	if len(fields) != 2 {
		return Header{}, fmt.Errorf("image header: size field %q at bytes 20-35: want \"<n> CYL|BLK\"", string(b[20:36]))
	}
	n, err := strconv.ParseInt(fields[0], 10, 64)
	if err != nil || n < 0 {
		return Header{}, fmt.Errorf("image header: size %q at bytes 20-35 is not a number of units", fields[0])
	}
	unit := strings.ToUpper(fields[1])
	want := "CYL"
	if f == FormatXCATFBA {
		want = "BLK"
	}
	if unit != want {
		return Header{}, fmt.Errorf("image header: unit %q for a %s image: want %s", fields[1], strings.TrimSpace(kind), want)
	}
	h := Header{Format: f, Size: n, Unit: unit, Len: 36, Level: 6}
	if len(b) < 47 || string(b[37:43]) != "HLen: " {
		return h, nil // version 1
	}
	hl, err := strconv.Atoi(strings.TrimLeft(string(b[43:47]), "0 "))
	if err != nil || hl < 47 || hl > maxHLen {
		return Header{}, fmt.Errorf("image header: HLen %q at bytes 43-46: want the header length, 47 to %d", b[43:47], maxHLen)
	}
	h.Len = (hl/headerBlock + 1) * headerBlock
	if hl < 55 {
		return h, nil // no GZIP field: unpackdiskimage assumes level 6
	}
	if len(b) < 55 {
		return Header{}, fmt.Errorf("image header: HLen %d but only %d bytes", hl, len(b))
	}
	if string(b[48:54]) != "GZIP: " {
		return Header{}, fmt.Errorf("image header: %q at bytes 48-53: want \"GZIP: \"", b[48:54])
	}
	lv := b[54]
	if lv < '0' || lv > '9' {
		return Header{}, fmt.Errorf("image header: gzip level %q at byte 54: want a digit 0-9", lv)
	}
	h.Level = int(lv - '0')
	return h, nil
}

// DiskUnitsString is the image's disk_size_units ("3338:CYL").
func (h Header) DiskUnitsString() string { return fmt.Sprintf("%d:%s", h.Size, h.Unit) }

// Bytes returns the version 2 header as creatediskimage writes it: the
// kind, the size right-aligned in 16 columns, "HLen: 0055", "GZIP: <level>",
// padded with blanks to 512 bytes.
func (h Header) Bytes() []byte {
	kind := "xCAT CKD Disk Image:"
	if h.Format == FormatXCATFBA {
		kind = "xCAT FBA Disk Image:"
	}
	s := fmt.Sprintf("%s%16s HLen: 0055 GZIP: %d", kind, fmt.Sprintf("%d %s", h.Size, h.Unit), h.Level)
	return []byte(fmt.Sprintf("%-512s", s))
}

// openImage returns the image's disk content and its header (Format raw
// when there is none). A level-0 payload is returned as it is, any other
// is gunzipped.
func openImage(path string) (io.ReadCloser, Header, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, Header{}, err
	}
	head := make([]byte, headerBlock)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		f.Close()
		return nil, Header{}, err
	}
	h, herr := ParseHeader(head[:n])
	if errors.Is(herr, ErrNoHeader) {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			f.Close()
			return nil, Header{}, err
		}
		return f, Header{Format: FormatRaw}, nil
	}
	if herr != nil {
		f.Close()
		return nil, Header{}, herr
	}
	if _, err := f.Seek(int64(h.Len), io.SeekStart); err != nil {
		f.Close()
		return nil, Header{}, err
	}
	if h.Level == 0 {
		return f, h, nil
	}
	br := bufio.NewReader(f)
	if _, err := br.Peek(1); errors.Is(err, io.EOF) {
		// make_dummy_image's placeholder: a header and nothing else.
		return f, h, nil
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		f.Close()
		return nil, Header{}, fmt.Errorf("image payload after the %d-byte header is not gzip although the header says level %d: %w", h.Len, h.Level, err)
	}
	return struct {
		io.Reader
		io.Closer
	}{zr, f}, h, nil
}
