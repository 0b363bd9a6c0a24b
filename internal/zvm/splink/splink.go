// Package splink synthesises the z/VM spool pages ("SPLINK" pages) that the
// Linux vmur driver returns from a reader device, following the emulator
// contract in docs/facts/zvm-reader.md §2.2, §2.3.
//
// Encode is the emulator's encoder. DecodePages models what vmur receive
// does with those pages (binary mode) and exists as a test oracle for the
// emulator; the guest agent carries its own decoder written from the spec.
package splink

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Page layout constants (big-endian fields).
const (
	PageSize      = 4096
	DataRecsOff   = 12   // u32: entries in this page
	DataOff       = 16   // first record entry
	DataSize      = 4048 // bytes available for entries
	RecLenOff     = 4064 // u16: file record length (page 1)
	SpoolIDOff    = 4088 // u16: spool file id (every page)
	EntryHeader   = 12   // CCW (8) + reserved (2) + record_len (2)
	ImmediateSize = 8    // an immediate (no-data) entry is the CCW only

	OpWrite       = 0x01 // CCW write, as the kernel punches
	OpNOP         = 0x03
	FlagCCSLI     = 0x60 // guess: CC|SLI as punched; CP's stored value is undocumented
	FlagImmediate = 0x10
)

// Options are robustness knobs; the zero value gives the contract's
// default layout.
type Options struct {
	// NOPEvery inserts a NOP entry (opcode 0x03, record_len 12) before
	// every n-th data entry; 0 disables.
	NOPEvery int
	// ImmediateEvery inserts an immediate entry (flag 0x10, 8 bytes)
	// before every n-th data entry; 0 disables.
	ImmediateEvery int
	// FixedStride stores record_len 92 (or 12+len if larger) instead of
	// 12+len.
	FixedStride bool
	// RecLenOnAllPages writes the record length at 4064 on every page
	// instead of page 1 only.
	RecLenOnAllPages bool
}

// ErrRecordTooLong reports a record that cannot fit a page.
var ErrRecordTooLong = errors.New("splink: record too long for a page")

type entry struct {
	op, flag byte
	data     []byte
	size     int // bytes it occupies
	stride   int // record_len field
}

// Encode returns the page stream of a spool file: ceil pages of PageSize
// bytes. A file without records still yields one page.
func Encode(spoolID, recLen int, records [][]byte, opt Options) ([]byte, error) {
	var entries []entry
	for i, r := range records {
		if EntryHeader+len(r) > DataSize || len(r) > 0xffff {
			return nil, fmt.Errorf("record %d (%d bytes): %w", i, len(r), ErrRecordTooLong)
		}
		n := i + 1
		if opt.NOPEvery > 0 && n%opt.NOPEvery == 0 {
			entries = append(entries, entry{op: OpNOP, size: EntryHeader, stride: EntryHeader})
		}
		if opt.ImmediateEvery > 0 && n%opt.ImmediateEvery == 0 {
			entries = append(entries, entry{op: OpWrite, flag: FlagImmediate, size: ImmediateSize, stride: ImmediateSize})
		}
		stride := EntryHeader + len(r) // guess: CP's stride is undocumented
		if opt.FixedStride {
			stride = max(stride, EntryHeader+80)
		}
		entries = append(entries, entry{op: OpWrite, flag: FlagCCSLI, data: r, size: stride, stride: stride})
	}
	var out []byte
	page := newPage(spoolID, recLen, true)
	used, count := 0, 0
	for _, e := range entries {
		if used+e.size > DataSize {
			binary.BigEndian.PutUint32(page[DataRecsOff:], uint32(count))
			out = append(out, page...)
			page = newPage(spoolID, recLen, opt.RecLenOnAllPages)
			used, count = 0, 0
		}
		p := page[DataOff+used:]
		p[0] = e.op
		p[4] = e.flag
		if e.size > ImmediateSize {
			binary.BigEndian.PutUint16(p[6:], uint16(len(e.data)))
			binary.BigEndian.PutUint16(p[10:], uint16(e.stride))
			copy(p[EntryHeader:], e.data)
		}
		used += e.size
		count++
	}
	binary.BigEndian.PutUint32(page[DataRecsOff:], uint32(count))
	return append(out, page...), nil
}

func newPage(spoolID, recLen int, withRecLen bool) []byte {
	p := make([]byte, PageSize)
	if withRecLen {
		binary.BigEndian.PutUint16(p[RecLenOff:], uint16(recLen))
	}
	binary.BigEndian.PutUint16(p[SpoolIDOff:], uint16(spoolID))
	return p
}
