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

// Header is the cloud connector's disk image header (xCAT format):
// a 20-byte magic, the size and unit at 20..35, and optionally
// "HLen: nnnn" at 37 with the header padded to 512 bytes and the gzip
// level at 54; otherwise a 36-byte header.
type Header struct {
	Format string // FormatXCATCKD or FormatXCATFBA
	Size   int64  // in Unit
	Unit   string // "CYL" or "BLK"
	Len    int    // header bytes before the gzip payload
}

var magics = map[string]string{
	"xCAT CKD Disk Image:": FormatXCATCKD,
	"xCAT FBA Disk Image:": FormatXCATFBA,
	"xCAT FBA Part Image:": FormatXCATFBA,
}

// ErrNoHeader means the data has no xCAT header (a raw image).
var ErrNoHeader = errors.New("no xCAT disk image header")

// ParseHeader reads the header from the first bytes of an image.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < 36 {
		return Header{}, ErrNoHeader
	}
	f, ok := magics[string(b[:20])]
	if !ok {
		if strings.HasPrefix(string(b[:20]), "xCAT ") {
			return Header{}, fmt.Errorf("unsupported image kind %q (FCP images are not supported)", strings.TrimSpace(string(b[:20])))
		}
		return Header{}, ErrNoHeader
	}
	fields := strings.Fields(string(b[20:36]))
	if len(fields) != 2 {
		return Header{}, fmt.Errorf("image header: size field %q: want \"<n> CYL|BLK\"", string(b[20:36]))
	}
	n, err := strconv.ParseInt(fields[0], 10, 64)
	if err != nil || n <= 0 {
		return Header{}, fmt.Errorf("image header: size %q", fields[0])
	}
	unit := strings.ToUpper(fields[1])
	if unit != "CYL" && unit != "BLK" {
		return Header{}, fmt.Errorf("image header: unit %q: want CYL or BLK", fields[1])
	}
	h := Header{Format: f, Size: n, Unit: unit, Len: 36}
	if len(b) >= 47 && string(b[37:43]) == "HLen: " {
		hl, err := strconv.Atoi(strings.TrimSpace(string(b[43:47])))
		if err != nil || hl < 47 || hl > 512 {
			return Header{}, fmt.Errorf("image header: HLen %q", b[43:47])
		}
		h.Len = 512
	}
	return h, nil
}

// DiskUnitsString is the image's disk_size_units ("3338:CYL").
func (h Header) DiskUnitsString() string { return fmt.Sprintf("%d:%s", h.Size, h.Unit) }

// openImage returns the image's disk content and its header (Format raw
// when there is none).
func openImage(path string) (io.ReadCloser, Header, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, Header{}, err
	}
	head := make([]byte, 512)
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
	zr, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		f.Close()
		return nil, Header{}, fmt.Errorf("image payload after the %d-byte header is not gzip: %w", h.Len, err)
	}
	return struct {
		io.Reader
		io.Closer
	}{zr, f}, h, nil
}
