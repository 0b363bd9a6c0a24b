// Package dasd lays out IBM 3390 ECKD DASD images as Linux sees such a disk
// through its DASD driver formatted with 4 KiB blocks: 15 tracks per
// cylinder, 12 blocks per track, block n at byte n*4096. It writes the
// parts of a disk that `dasdfmt` writes (the empty IPL bootstrap records
// and, for the Linux disk layout, the LNX1 label) and computes where the
// one partition starts for the compatible (CDL) and Linux (LDL) layouts.
//
// Sources, read for the facts (s390-tools 2.x): dasdfmt/dasdfmt.h (the
// bootstrap records ipl1 and ipl2), dasdfmt/dasdfmt.c
// (dasdfmt_write_labels: CDL writes key and data, LDL the data only; the
// LNX1 label with ldl_version 0xF2 and formatted_blocks), include/lib/
// vtoc.h (volume_label_t), and the kernel's block/partitions/ibm.c (CDL:
// VOL1 label and VTOC, partitions from track 2; LDL: LNX1 label in block 2,
// the partition from block 3).
package dasd

import (
	"encoding/binary"
	"fmt"
	"io"
	"strings"
)

// 3390 geometry at 4 KiB blocks, as the Linux DASD driver and QEMU's
// virtio-blk-ccw "heads=15,secs=12" present it.
const (
	Heads          = 15
	BlocksPerTrack = 12
	BlockSize      = 4096
	TrackBytes     = BlocksPerTrack * BlockSize
	CylinderBytes  = Heads * TrackBytes // 737280
	// MaxCylinders is a 3390 model 54; larger (extended address)
	// volumes are not written by this package.
	MaxCylinders = 65520
)

// Layouts.
const (
	CDL = "cdl" // compatible disk layout: VOL1 + VTOC, up to 3 partitions
	LDL = "ldl" // Linux disk layout: LNX1 label, one partition from block 3
)

// Cylinders returns the cylinders needed to hold size bytes (rounded up).
func Cylinders(size int64) int64 {
	return (size + CylinderBytes - 1) / CylinderBytes
}

// Disk is one DASD image's geometry and layout.
type Disk struct {
	Cylinders int64
	Layout    string // CDL or LDL
	Volser    string // 1-6 characters of A-Z 0-9 @ # $
}

// New checks the geometry and volume serial.
func New(cyls int64, layout, volser string) (Disk, error) {
	if layout != CDL && layout != LDL {
		return Disk{}, fmt.Errorf("DASD layout %q: want %s or %s", layout, CDL, LDL)
	}
	if cyls < 3 || cyls > MaxCylinders {
		return Disk{}, fmt.Errorf("DASD of %d cylinders: want 3 to %d", cyls, MaxCylinders)
	}
	if err := CheckVolser(volser); err != nil {
		return Disk{}, err
	}
	return Disk{Cylinders: cyls, Layout: layout, Volser: strings.ToUpper(volser)}, nil
}

// CheckVolser validates a volume serial as fdasd and dasdfmt accept it.
func CheckVolser(v string) error {
	if len(v) < 1 || len(v) > 6 {
		return fmt.Errorf("volume serial %q: want 1 to 6 characters", v)
	}
	for _, c := range strings.ToUpper(v) {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '@' || c == '#' || c == '$') {
			return fmt.Errorf("volume serial %q: only A-Z, 0-9, @, # and $ are allowed", v)
		}
	}
	return nil
}

// Size is the image size in bytes.
func (d Disk) Size() int64 { return d.Cylinders * CylinderBytes }

// Blocks is the number of 4 KiB blocks.
func (d Disk) Blocks() int64 { return d.Cylinders * Heads * BlocksPerTrack }

// PartitionStart is the first block of the partition: track 2 on a CDL
// disk (tracks 0 and 1 hold the IPL records, the label and the VTOC), the
// block after the LNX1 label on an LDL disk.
func (d Disk) PartitionStart() int64 {
	if d.Layout == LDL {
		return 3
	}
	return 2 * BlocksPerTrack
}

// PartitionBytes is the partition's size: to the end of the disk.
func (d Disk) PartitionBytes() int64 { return (d.Blocks() - d.PartitionStart()) * BlockSize }

// Geometry is zipl's --targetgeometry value: cylinders,heads,sectors.
func (d Disk) Geometry() string {
	return fmt.Sprintf("%d,%d,%d", d.Cylinders, Heads, BlocksPerTrack)
}

// The empty bootstrap dasdfmt writes (dasdfmt.h, ipl1 and ipl2): a 4-byte
// key ("IPL1"/"IPL2" in EBCDIC) followed by the data. Words are
// big-endian as on s390.
var (
	ipl1Words = []uint32{0xC9D7D3F1,
		0x000A0000, 0x0000000F, 0x03000000, 0x00000001, 0x00000000, 0x00000000}
	ipl2Words = []uint32{0xC9D7D3F2,
		0x07003AB8, 0x40000006, 0x31003ABE, 0x40000005, 0x08003AA0, 0x00000000,
		0x06000000, 0x20000000, 0x00000000, 0x00000000, 0x00000400, 0x00000000}
)

// Record lengths (key + data) of the special CDL records as the kernel's
// DASD driver maps them to blocks (dasd_eckd.c sizes_trk0 and LABEL_SIZE).
const (
	KeyLen       = 4
	IPL1Len      = 28  // key 4 + data 24
	IPL2Len      = 148 // key 4 + data 144
	VOL1Len      = 84  // key 4 + data 80
	DSCBKeyLen   = 44  // track 1 (VTOC) records: key 44 + data 96
	DSCBLen      = 140 // LABEL_SIZE
	ipl2WordsLen = 37  // 4-byte key + 144 data bytes = 37 words
)

func words(ws []uint32, n int) []byte {
	b := make([]byte, n*4)
	for i, w := range ws {
		binary.BigEndian.PutUint32(b[4*i:], w)
	}
	return b
}

// IPL1 and IPL2 return dasdfmt's empty bootstrap records, key included.
func IPL1() []byte { return words(ipl1Words, IPL1Len/4) }

// IPL2 is the second bootstrap record (key + 144 data bytes).
func IPL2() []byte { return words(ipl2Words, ipl2WordsLen) }

// WriteBootstrap writes what dasdfmt leaves in blocks 0 to 2 for the
// layout: CDL, the IPL1 and IPL2 records with their keys (the VOL1 label
// and VTOC are fdasd's); LDL, the records' data without keys and the LNX1
// label. zipl then writes its stage 0 and 1 over parts of blocks 0 and 1
// and its boot info into block 1 (CDL) or 0 (LDL).
func (d Disk) WriteBootstrap(w io.WriterAt) error {
	zero := make([]byte, 3*BlockSize)
	if _, err := w.WriteAt(zero, 0); err != nil {
		return err
	}
	ipl1, ipl2 := IPL1(), IPL2()
	if d.Layout == LDL {
		ipl1, ipl2 = ipl1[KeyLen:], ipl2[KeyLen:]
	}
	if _, err := w.WriteAt(ipl1, 0); err != nil {
		return err
	}
	if _, err := w.WriteAt(ipl2, BlockSize); err != nil {
		return err
	}
	if d.Layout == LDL {
		if _, err := w.WriteAt(d.LNX1(), 2*BlockSize); err != nil {
			return err
		}
	}
	return nil
}

// LNX1 returns the LDL volume label as dasdfmt writes it into block 2:
// volume_label_t without its key, EBCDIC blanks except the label "LNX1",
// the volume serial, ldl_version 0xF2 ("2") and the formatted block count.
func (d Disk) LNX1() []byte {
	// volume_label_t: 83 bytes of labels (key 4, label 4, volser 6,
	// security 1, VTOC pointer 5, reserved and FBA fields 63), then
	// ldl_version and formatted_blocks; vtoc_volume_label_init blanks the
	// first 84 bytes (ldl_version included).
	b := make([]byte, 83+1+8)
	for i := range 84 {
		b[i] = 0x40
	}
	copy(b[4:8], EBCDIC("LNX1"))
	copy(b[8:14], EBCDIC(fmt.Sprintf("%-6s", d.Volser)))
	b[83] = 0xF2
	binary.BigEndian.PutUint64(b[84:], uint64(d.Blocks()))
	return b[4:] // without volkey
}

// EBCDIC encodes the characters volume labels use (A-Z, 0-9, space, @ #
// $ and a few more) into code page 037; others become '?' (0x6F).
func EBCDIC(s string) []byte {
	out := make([]byte, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'I':
			out[i] = 0xC1 + (c - 'A')
		case c >= 'J' && c <= 'R':
			out[i] = 0xD1 + (c - 'J')
		case c >= 'S' && c <= 'Z':
			out[i] = 0xE2 + (c - 'S')
		case c >= '0' && c <= '9':
			out[i] = 0xF0 + (c - '0')
		case c == ' ':
			out[i] = 0x40
		case c == '@':
			out[i] = 0x7C
		case c == '#':
			out[i] = 0x7B
		case c == '$':
			out[i] = 0x5B
		case c == '.':
			out[i] = 0x4B
		default:
			out[i] = 0x6F
		}
	}
	return out
}

// Detect reads a DASD image's layout the way the kernel's ibm.c and
// QEMU's firmware tell them apart: block 2 starting with the key "VOL1"
// (CDL) or the label "LNX1" (LDL). It returns "" for neither.
func Detect(r io.ReaderAt) (layout, volser string, err error) {
	b := make([]byte, 14)
	if _, err := r.ReadAt(b, 2*BlockSize); err != nil {
		return "", "", fmt.Errorf("reading block 2: %w", err)
	}
	switch {
	case string(b[:4]) == string(EBCDIC("VOL1")) && string(b[4:8]) == string(EBCDIC("VOL1")):
		return CDL, fromEBCDIC(b[8:14]), nil
	case string(b[:4]) == string(EBCDIC("LNX1")):
		return LDL, fromEBCDIC(b[4:10]), nil
	}
	return "", "", nil
}

func fromEBCDIC(b []byte) string {
	var s strings.Builder
	for _, c := range b {
		ch := byte('?')
		for _, r := range "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 @#$." {
			if EBCDIC(string(r))[0] == c {
				ch = byte(r)
				break
			}
		}
		s.WriteByte(ch)
	}
	return strings.TrimRight(s.String(), " ")
}
