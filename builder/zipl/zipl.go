// Package zipl writes the boot record that lets the s390x firmware IPL a
// Linux kernel from a SCSI-type disk (a virtio-blk disk under KVM, an FCP
// LUN in a DPM partition) without running s390-tools' zipl.
//
// zipl must run on s390x against a block device (osbuild and kiwi run it
// on a loop device inside the target chroot, mkosi refuses to); building
// images on amd64 would need qemu-user, root and a loop device for that.
// The on-disk format for SCSI is small, so this package writes it itself:
//
//   - block 0 (the MBR; the DOS partition table at 0x1BE stays intact):
//     "zIPL", layout version 1, a block pointer to the program table;
//   - the program table: "zIPL", then one block pointer per boot entry
//     (entry 0 is the default; loadparm n picks entry n);
//   - the component table: a header ("zIPL", type 0 = IPL) and 32-byte
//     entries: LOAD (type 2: a block pointer list to load at an address)
//     and a final EXEC (type 1: the PSW to start);
//   - block pointer lists: 16-byte pointers {block number, block size,
//     block count - 1}; a list ends with a zero pointer, and the last slot
//     of a list block may continue the list in another block.
//
// The firmware reads block-sized pieces: every pointer's size field must be
// the disk's logical block size (512 here). All integers are big-endian.
//
// Instead of zipl's stage3 loader, the program loads three segments and
// jumps to the kernel directly: the kernel image from file offset 64 KiB to
// address 0x10000 (stage3 cuts the same 64 KiB header), then a copy of the
// kernel's parameter area (0x10400) with the initrd address and size and
// the command line filled in — the work stage3 does at run time — and then
// the initrd. The kernel entry point is 0x10000, started with the PSW
// zipl uses by default (0x0008000080010000: 31-bit addressing, which the
// kernel's startup code leaves for 64-bit itself). guess: that a real
// machine's SCSI loader (an FCP LUN in a DPM partition) starts a kernel
// entered this way as it starts zipl's stage3; only QEMU's firmware has
// been seen to. Layout facts come from
// s390-tools (zipl/boot/stage3.[ch]) and QEMU's firmware
// (pc-bios/s390-ccw/bootmap.[ch]), which is what boots it in the tests.
package zipl

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Kernel image layout: s390-tools zipl/boot/stage3.h and the kernel's
// struct parmarea (arch/s390/include/asm/setup.h: max_command_line_size at
// 0x10430, LEGACY_COMMAND_LINE_SIZE 896, STARTUP_NORMAL_OFFSET 0x10000).
// The "S390EP" mark at 0x10008 was checked against Debian 12's vmlinuz.
const (
	imageLoadAddr   = 0x10000 // the kernel's entry; the image's first 64 KiB are not loaded
	parmArea        = 0x10400
	offInitrdStart  = 0x08 // within the parameter area
	offInitrdSize   = 0x10
	offMaxCmdline   = 0x30
	offCmdline      = 0x80
	legacyCmdlineSz = 896 // kernels that do not state their maximum
	epOffset        = 0x10008
	epMagic         = "S390EP"
	// DefaultPSW is zipl's default load PSW for a kernel at 0x10000.
	DefaultPSW = 0x0008000080010000
	// minInitrdAddr is the lowest initrd address used (32 MiB); the
	// initrd goes higher when the kernel is bigger. guess: taken to be
	// zipl's default ramdisk address, not looked up; the kernel moves an
	// initrd that is in its way, and QEMU's firmware sits near the top of
	// memory, so any address between the kernel's end and that works.
	minInitrdAddr = 0x2000000
)

// Component types and magic (QEMU pc-bios/s390-ccw/bootmap.h).
const (
	magic         = "zIPL"
	compHeaderIPL = 0x00
	compExec      = 0x01
	compLoad      = 0x02
	ptrSize       = 16
	// maxRun caps the blocks one pointer covers (its count field is 16
	// bits); 1 MiB keeps each firmware read moderate.
	maxRun = 2048
)

// Extent is a run of device blocks holding consecutive bytes of a file.
// Block 0 stands for a hole: blocks of zeros (file systems store runs of
// zeros as holes; the boot map points them at zeroed blocks of its own).
type Extent struct {
	Block uint64 // first device block, counted from the start of the disk; 0: zeros
	Count uint64 // number of device blocks
}

// zeroRun is how many zeroed blocks the boot map keeps for holes; longer
// holes take several pointers to the same blocks.
const zeroRun = 64

// Program is what one boot entry loads.
type Program struct {
	Kernel     []Extent // the kernel image file's blocks, in file order
	KernelSize int64
	// KernelHead is the start of the kernel image file: at least up to
	// the end of its parameter area (0x10480 + its maximum command line).
	KernelHead []byte
	Initrd     []Extent // may be empty: no initrd
	InitrdSize int64
	Cmdline    string
}

// Layout reports where Write put things, in device blocks.
type Layout struct {
	ProgramTable, ComponentTable uint64
	Used                         uint64 // blocks used from the gap start
	InitrdAddr                   uint64
	MaxCmdline                   int
}

// ErrInvalid marks a kernel, initrd or command line this package cannot
// boot; the message says which and why.
var ErrInvalid = errors.New("cannot make bootable")

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}

// MaxCmdline returns the longest command line the kernel accepts, read
// from its parameter area.
func MaxCmdline(head []byte) (int, error) {
	if len(head) < parmArea+offCmdline {
		return 0, invalid("kernel image is %d bytes, shorter than its parameter area at 0x%x", len(head), parmArea)
	}
	if string(head[epOffset:epOffset+len(epMagic)]) != epMagic {
		return 0, invalid("kernel image has no %q mark at 0x%x: not an s390x Linux kernel image (vmlinuz)", epMagic, epOffset)
	}
	n := binary.BigEndian.Uint64(head[parmArea+offMaxCmdline:])
	if n == 0 {
		return legacyCmdlineSz, nil
	}
	if n > 1<<20 {
		return 0, invalid("kernel states a maximum command line of %d bytes: corrupt parameter area", n)
	}
	return int(n), nil
}

// Write writes the boot record for p with blocks of blockSize bytes: the
// MBR fields into block 0 (read, changed and written back so a partition
// table stays), everything else into blocks [gapStart, gapEnd).
func Write(dev io.ReaderAt, w io.WriterAt, blockSize int, gapStart, gapEnd uint64, p Program) (Layout, error) {
	var lay Layout
	if blockSize != 512 && blockSize != 4096 {
		return lay, invalid("block size %d: want 512 or 4096", blockSize)
	}
	if gapStart < 1 || gapEnd <= gapStart {
		return lay, invalid("no room for the boot map: blocks [%d, %d)", gapStart, gapEnd)
	}
	maxCmd, err := MaxCmdline(p.KernelHead)
	if err != nil {
		return lay, err
	}
	lay.MaxCmdline = maxCmd
	if len(p.Cmdline) >= maxCmd {
		return lay, invalid("kernel command line is %d bytes; this kernel takes at most %d", len(p.Cmdline), maxCmd-1)
	}
	if i := bytes.IndexByte([]byte(p.Cmdline), 0); i >= 0 {
		return lay, invalid("kernel command line has a NUL byte at %d", i)
	}
	bs := uint64(blockSize)
	kernel, err := skip(p.Kernel, imageLoadAddr/bs, p.KernelSize, bs, "kernel")
	if err != nil {
		return lay, err
	}
	if p.InitrdSize > 0 {
		if err := covers(p.Initrd, p.InitrdSize, bs, "initrd"); err != nil {
			return lay, err
		}
	}

	// The parameter area, filled in as stage3 would.
	parmLen := roundUp(uint64(offCmdline+maxCmd), bs)
	if uint64(len(p.KernelHead)) < parmArea+parmLen {
		return lay, invalid("kernel image head is %d bytes; need %d to copy its parameter area", len(p.KernelHead), parmArea+parmLen)
	}
	parm := make([]byte, parmLen)
	copy(parm, p.KernelHead[parmArea:parmArea+parmLen])
	lay.InitrdAddr = roundUp(uint64(imageLoadAddr)+uint64(p.KernelSize), 1<<20)
	if lay.InitrdAddr < minInitrdAddr {
		lay.InitrdAddr = minInitrdAddr
	}
	if p.InitrdSize > 0 {
		binary.BigEndian.PutUint64(parm[offInitrdStart:], lay.InitrdAddr)
		binary.BigEndian.PutUint64(parm[offInitrdSize:], uint64(p.InitrdSize))
	} else {
		binary.BigEndian.PutUint64(parm[offInitrdStart:], 0)
		binary.BigEndian.PutUint64(parm[offInitrdSize:], 0)
	}
	clear(parm[offCmdline : offCmdline+maxCmd])
	copy(parm[offCmdline:], p.Cmdline)

	// Allocate blocks in the gap: program table, component table, the
	// parameter copy, then the pointer lists.
	next := gapStart
	alloc := func(n uint64) (uint64, error) {
		b := next
		next += n
		if next > gapEnd {
			return 0, invalid("boot map needs more than the %d blocks before the first partition", gapEnd-gapStart)
		}
		return b, nil
	}
	lay.ProgramTable, _ = alloc(1)
	lay.ComponentTable, _ = alloc(1)
	var zeros uint64
	if hasHole(p.Kernel) || hasHole(p.Initrd) {
		if zeros, err = alloc(zeroRun); err != nil {
			return lay, err
		}
	}
	parmBlock, err := alloc(parmLen / bs)
	if err != nil {
		return lay, err
	}
	type segment struct {
		addr    uint64
		extents []Extent
	}
	segs := []segment{
		{imageLoadAddr, kernel},
		{parmArea, []Extent{{parmBlock, parmLen / bs}}},
	}
	if p.InitrdSize > 0 {
		segs = append(segs, segment{lay.InitrdAddr, trim(p.Initrd, roundUp(uint64(p.InitrdSize), bs)/bs)})
	}
	perBlock := int(bs/ptrSize) - 1 // the last slot continues the list
	var writes []blockWrite
	comp := make([]byte, bs)
	copy(comp, magic)
	comp[4] = compHeaderIPL
	off := 32
	for _, s := range segs {
		ptrs := pointers(s.extents, blockSize, zeros)
		nblocks := (uint64(len(ptrs)) + uint64(perBlock)) / uint64(perBlock) // room for the terminator
		first, err := alloc(nblocks)
		if err != nil {
			return lay, err
		}
		for b := uint64(0); b < nblocks; b++ {
			buf := make([]byte, bs)
			lo := int(b) * perBlock
			hi := min(lo+perBlock, len(ptrs))
			for i := lo; i < hi; i++ {
				copy(buf[(i-lo)*ptrSize:], ptrs[i])
			}
			if b+1 < nblocks {
				putPtr(buf[perBlock*ptrSize:], first+b+1, blockSize, 1)
			}
			writes = append(writes, blockWrite{first + b, buf})
		}
		if off+64 > int(bs) { // this entry and the EXEC entry
			return lay, invalid("too many segments for one component table")
		}
		putPtr(comp[off:], first, blockSize, 1)
		comp[off+23] = compLoad
		binary.BigEndian.PutUint64(comp[off+24:], s.addr)
		off += 32
	}
	comp[off+23] = compExec
	binary.BigEndian.PutUint64(comp[off+24:], DefaultPSW)
	writes = append(writes, blockWrite{lay.ComponentTable, comp})

	pt := make([]byte, bs)
	copy(pt, magic)
	putPtr(pt[16:], lay.ComponentTable, blockSize, 1) // default entry
	putPtr(pt[32:], lay.ComponentTable, blockSize, 1) // loadparm 1: the same
	writes = append(writes, blockWrite{lay.ProgramTable, pt})
	writes = append(writes, blockWrite{parmBlock, parm})
	if zeros != 0 {
		writes = append(writes, blockWrite{zeros, make([]byte, zeroRun*bs)})
	}

	mbr := make([]byte, bs)
	if _, err := dev.ReadAt(mbr, 0); err != nil && !errors.Is(err, io.EOF) {
		return lay, fmt.Errorf("reading block 0: %w", err)
	}
	clear(mbr[:32])
	copy(mbr, magic)
	binary.BigEndian.PutUint32(mbr[4:], 1) // layout version
	putPtr(mbr[16:], lay.ProgramTable, blockSize, 1)
	writes = append(writes, blockWrite{0, mbr})

	for _, wr := range writes {
		if _, err := w.WriteAt(wr.data, int64(wr.block*bs)); err != nil {
			return lay, fmt.Errorf("writing boot map block %d: %w", wr.block, err)
		}
	}
	lay.Used = next - gapStart
	return lay, nil
}

type blockWrite struct {
	block uint64
	data  []byte
}

// putPtr writes a block pointer for count blocks from block.
func putPtr(b []byte, block uint64, blockSize int, count uint64) {
	binary.BigEndian.PutUint64(b[0:], block)
	binary.BigEndian.PutUint16(b[8:], uint16(blockSize))
	binary.BigEndian.PutUint16(b[10:], uint16(count-1))
	clear(b[12:16])
}

// pointers splits extents into block pointers of at most maxRun blocks;
// holes point at the zeroed blocks.
func pointers(ext []Extent, blockSize int, zeros uint64) [][]byte {
	var out [][]byte
	for _, e := range ext {
		for b, n := e.Block, e.Count; n > 0; {
			c := min(n, maxRun)
			from := b
			if e.Block == 0 {
				c = min(n, zeroRun)
				from = zeros
			} else {
				b += c
			}
			p := make([]byte, ptrSize)
			putPtr(p, from, blockSize, c)
			out = append(out, p)
			n -= c
		}
	}
	return out
}

func hasHole(ext []Extent) bool {
	for _, e := range ext {
		if e.Block == 0 {
			return true
		}
	}
	return false
}

// covers checks that extents (holes included) cover size bytes.
func covers(ext []Extent, size int64, bs uint64, what string) error {
	var n uint64
	for _, e := range ext {
		if e.Count == 0 {
			return invalid("%s: empty extent at block %d", what, e.Block)
		}
		n += e.Count
	}
	if n*bs < uint64(size) {
		return invalid("%s: its extents cover %d bytes, the file has %d", what, n*bs, size)
	}
	return nil
}

// skip drops the first n blocks of a file's extents (the kernel's 64 KiB
// header) and trims the rest to the file's size.
func skip(ext []Extent, n uint64, size int64, bs uint64, what string) ([]Extent, error) {
	if err := covers(ext, size, bs, what); err != nil {
		return nil, err
	}
	if uint64(size) <= n*bs {
		return nil, invalid("%s is %d bytes: too small for a kernel image", what, size)
	}
	var out []Extent
	for _, e := range ext {
		if n >= e.Count {
			n -= e.Count
			continue
		}
		b := e.Block
		if b != 0 {
			b += n
		}
		out = append(out, Extent{b, e.Count - n})
		n = 0
	}
	return trim(out, roundUp(uint64(size), bs)/bs-imageLoadAddr/bs), nil
}

// trim keeps the first n blocks of ext.
func trim(ext []Extent, n uint64) []Extent {
	var out []Extent
	for _, e := range ext {
		if n == 0 {
			break
		}
		c := min(e.Count, n)
		out = append(out, Extent{e.Block, c})
		n -= c
	}
	return out
}

func roundUp(v, to uint64) uint64 { return (v + to - 1) / to * to }
