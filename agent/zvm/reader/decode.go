package reader

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// Spool page layout (big-endian), docs/facts/zvm-reader.md §2.2 and §2.3.
const (
	PageSize   = 4096
	offMagic   = 0
	offRecs    = 12
	offData    = 16
	dataEnd    = offData + 4048
	offRecLen  = 4064
	offSpoolID = 4088
	entryHead  = 12
	immSize    = 8
	opNOP      = 0x03
	flagImm    = 0x10
	blank      = 0x40 // EBCDIC blank
)

// ErrFormat is wrapped by every decoding error.
var ErrFormat = errors.New("bad spool page data")

// ErrVMDump means the file is a VMDUMP, which the agent does not handle.
var ErrVMDump = errors.New("spool file has VMDUMP format")

// Decoder turns spool pages into the bytes `vmur receive` writes in
// binary mode: each data record followed by EBCDIC blanks up to the
// file's record length; NOP and immediate entries give nothing. Feed it
// whole pages in order.
type Decoder struct {
	// WantID is the spool id the first page must carry.
	WantID int
	pages  int
	recLen int
}

// Page decodes one page and appends its records to dst.
func (d *Decoder) Page(dst, page []byte) ([]byte, error) {
	if len(page) != PageSize {
		return dst, fmt.Errorf("%w: page %d is %d bytes, want %d", ErrFormat, d.pages+1, len(page), PageSize)
	}
	d.pages++
	if d.pages == 1 {
		if binary.BigEndian.Uint32(page[offMagic:]) != 0 {
			return dst, fmt.Errorf("spool file %04d: %w", d.WantID, ErrVMDump)
		}
		if id := int(binary.BigEndian.Uint16(page[offSpoolID:])); id != d.WantID {
			return dst, fmt.Errorf("%w: spool id mismatch: the reader delivered file %04d, not %04d", ErrFormat, id, d.WantID)
		}
		d.recLen = int(int16(binary.BigEndian.Uint16(page[offRecLen:])))
		if d.recLen < 0 {
			d.recLen = 0
		}
	}
	count := binary.BigEndian.Uint32(page[offRecs:])
	off := offData
	for i := uint32(0); i < count; i++ {
		if off+immSize > dataEnd {
			return dst, fmt.Errorf("%w: page %d entry %d at offset %d runs past the data area", ErrFormat, d.pages, i, off)
		}
		op, flag := page[off], page[off+4]
		if op != opNOP && flag&flagImm != 0 {
			off += immSize
			continue
		}
		if off+entryHead > dataEnd {
			return dst, fmt.Errorf("%w: page %d entry %d header at offset %d runs past the data area", ErrFormat, d.pages, i, off)
		}
		stride := int(binary.BigEndian.Uint16(page[off+10:]))
		if op == opNOP {
			off += stride
			continue
		}
		n := int(binary.BigEndian.Uint16(page[off+6:]))
		if off+entryHead+n > dataEnd {
			return dst, fmt.Errorf("%w: page %d entry %d: %d data bytes at offset %d run past the data area", ErrFormat, d.pages, i, n, off)
		}
		dst = append(dst, page[off+entryHead:off+entryHead+n]...)
		for pad := n; pad < d.recLen; pad++ {
			dst = append(dst, blank)
		}
		off += stride
	}
	return dst, nil
}

// Decode decodes a whole page stream of spool file wantID.
func Decode(pages []byte, wantID int) ([]byte, error) {
	if len(pages) == 0 || len(pages)%PageSize != 0 {
		return nil, fmt.Errorf("%w: %d bytes is not a whole number of %d-byte pages", ErrFormat, len(pages), PageSize)
	}
	d := Decoder{WantID: wantID}
	var out []byte
	for p := 0; p < len(pages); p += PageSize {
		var err error
		if out, err = d.Page(out, pages[p:p+PageSize]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// TrimPadding removes the NUL bytes `vmur punch` added to fill the last
// 80-byte card (0 to 79 of them). Only text payloads (scripts, JSON),
// which never end in NUL, may be trimmed; ISO images and tar files keep
// the padding, which they tolerate.
func TrimPadding(b []byte) []byte { return bytes.TrimRight(b, "\x00") }
