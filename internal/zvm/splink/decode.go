package splink

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Decoding errors.
var (
	ErrShortPage     = errors.New("splink: page stream not a multiple of the page size")
	ErrSpoolMismatch = errors.New("splink: spool id mismatch")
	ErrVMDump        = errors.New("splink: VMDUMP file")
	ErrCorrupt       = errors.New("splink: corrupt page")
)

// DecodePages walks a page stream as vmur receive does and returns the
// data records (data_len bytes each, trailing blanks still cut). NOP
// entries and immediate entries are skipped. The page-1 spool id must be
// wantSpoolID.
func DecodePages(pages []byte, wantSpoolID int) (records [][]byte, err error) {
	if len(pages) == 0 || len(pages)%PageSize != 0 {
		return nil, fmt.Errorf("%d bytes: %w", len(pages), ErrShortPage)
	}
	if binary.BigEndian.Uint32(pages) != 0 {
		return nil, ErrVMDump
	}
	if got := int(binary.BigEndian.Uint16(pages[SpoolIDOff:])); got != wantSpoolID {
		return nil, fmt.Errorf("got %d, want %d: %w", got, wantSpoolID, ErrSpoolMismatch)
	}
	for pn := 0; pn*PageSize < len(pages); pn++ {
		page := pages[pn*PageSize : (pn+1)*PageSize]
		n := binary.BigEndian.Uint32(page[DataRecsOff:])
		off := DataOff
		for i := uint32(0); i < n; i++ {
			if off+ImmediateSize > RecLenOff {
				return nil, fmt.Errorf("page %d entry %d: %w", pn+1, i, ErrCorrupt)
			}
			e := page[off:]
			switch {
			case e[0] == OpNOP:
				off += int(binary.BigEndian.Uint16(e[10:]))
			case e[4]&FlagImmediate != 0:
				off += ImmediateSize
			default:
				dl := int(binary.BigEndian.Uint16(e[6:]))
				stride := int(binary.BigEndian.Uint16(e[10:]))
				if off+EntryHeader+dl > RecLenOff || stride < EntryHeader {
					return nil, fmt.Errorf("page %d entry %d: %w", pn+1, i, ErrCorrupt)
				}
				records = append(records, append([]byte(nil), e[EntryHeader:EntryHeader+dl]...))
				off += stride
			}
		}
	}
	return records, nil
}

// ReceiveBinary is vmur receive in binary mode: each record padded with
// 0x40 to the page-1 record length.
func ReceiveBinary(pages []byte, wantSpoolID int) ([]byte, error) {
	recs, err := DecodePages(pages, wantSpoolID)
	if err != nil {
		return nil, err
	}
	reclen := int(binary.BigEndian.Uint16(pages[RecLenOff:]))
	var out []byte
	for _, r := range recs {
		out = append(out, r...)
		for i := len(r); i < reclen; i++ {
			out = append(out, 0x40)
		}
	}
	return out, nil
}
