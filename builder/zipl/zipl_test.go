package zipl

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

// memDisk is a disk in memory.
type memDisk struct{ b []byte }

func (d *memDisk) ReadAt(p []byte, off int64) (int, error) { return copy(p, d.b[off:]), nil }
func (d *memDisk) WriteAt(p []byte, off int64) (int, error) {
	if int(off)+len(p) > len(d.b) {
		return 0, errors.New("write past the end of the disk")
	}
	return copy(d.b[off:], p), nil
}

// fakeKernel returns a kernel image of n bytes with the S390EP mark and a
// maximum command line of maxCmd in its parameter area.
func fakeKernel(n int, maxCmd uint64, r *rand.Rand) []byte {
	k := make([]byte, n)
	for i := range k {
		k[i] = byte(r.Uint32())
	}
	clear(k[0x20000:0x30000]) // zero runs become holes, as mke2fs -d makes them
	copy(k[epOffset:], epMagic)
	binary.BigEndian.PutUint64(k[parmArea+offMaxCmdline:], maxCmd)
	clear(k[parmArea+offCmdline : parmArea+offCmdline+int(maxCmd)])
	return k
}

// place writes data to the disk in scattered runs and returns its extents.
func place(d *memDisk, data []byte, first uint64, r *rand.Rand) []Extent {
	var ext []Extent
	blk := first
	for off := 0; off < len(data); {
		n := 1 + r.IntN(300)
		end := min(off+n*512, len(data))
		copy(d.b[blk*512:], data[off:end])
		cnt := uint64((end - off + 511) / 512)
		if bytes.Count(data[off:end], []byte{0}) == end-off {
			ext = append(ext, Extent{0, cnt}) // a hole
			off = end
			continue
		}
		ext = append(ext, Extent{blk, cnt})
		blk += cnt + uint64(r.IntN(3)) // holes between runs
		off = end
	}
	return ext
}

// firmware reads the boot record the way QEMU's s390-ccw firmware does
// (pc-bios/s390-ccw/bootmap.c: ipl_scsi, zipl_run, zipl_load_segment) and
// returns the memory it loads and the PSW it starts.
func firmware(t *testing.T, disk []byte, loadparm int) (*memory, uint64) {
	t.Helper()
	const bs = 512
	read := func(blk uint64) []byte {
		// The firmware pre-fills its buffer with 0xAA and reads one block.
		buf := bytes.Repeat([]byte{0xaa}, 4096*4)
		copy(buf, disk[blk*bs:blk*bs+bs])
		return buf
	}
	mbr := read(0)
	if string(mbr[:4]) != "zIPL" || binary.BigEndian.Uint32(mbr[4:]) != 1 {
		t.Fatalf("block 0: no zIPL MBR version 1: % x", mbr[:8])
	}
	pt := read(binary.BigEndian.Uint64(mbr[16:]))
	if string(pt[:4]) != "zIPL" {
		t.Fatal("program table: no zIPL magic")
	}
	var entry []byte
	n := 0
	for ns := 16; ns+16 < bs; ns += 16 {
		if binary.BigEndian.Uint64(pt[ns:]) == 0 {
			break
		}
		entry = pt[ns : ns+16]
		n++
		if n == loadparm+1 {
			break
		}
	}
	if n == 0 {
		t.Fatal("empty program table")
	}
	comp := read(binary.BigEndian.Uint64(entry))
	if string(comp[:4]) != "zIPL" || comp[4] != 0 {
		t.Fatal("component table: bad header")
	}
	mem := &memory{b: make([]byte, 128<<20), loaded: make([]bool, 128<<20)}
	for e := 32; ; e += 32 {
		if e+32 > 4096 {
			t.Fatal("component entries run past the block")
		}
		typ := comp[e+23]
		addr := binary.BigEndian.Uint64(comp[e+24:])
		if typ == compExec {
			return mem, addr
		}
		if typ != compLoad {
			t.Fatalf("component entry type %d", typ)
		}
		blockno := binary.BigEndian.Uint64(comp[e:])
		for blockno != 0 {
			bprs := read(blockno)
			for i := 0; ; i++ {
				p := bprs[i*16:]
				blockno = binary.BigEndian.Uint64(p)
				if blockno == 0 {
					break
				}
				if i == 4096/16-1 {
					break
				}
				size, ct := binary.BigEndian.Uint16(p[8:]), binary.BigEndian.Uint16(p[10:])
				if ct == 0 && bytes.Equal(bprs[(i+1)*16:(i+2)*16], bytes.Repeat([]byte{0xaa}, 16)) {
					break // continuation
				}
				if size != bs {
					t.Fatalf("pointer with block size %d", size)
				}
				n := (uint64(ct) + 1) * bs
				copy(mem.b[addr:addr+n], disk[blockno*bs:blockno*bs+n])
				for j := addr; j < addr+n; j++ {
					mem.loaded[j] = true
				}
				addr += n
			}
		}
	}
}

// memory is guest memory: bytes and whether the firmware loaded them.
type memory struct {
	b      []byte
	loaded []bool
}

func TestWriteBootsLikeStage3(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name               string
		kernelLen, initLen int
		maxCmd             uint64
		cmdline            string
	}{
		{"debian-sized", 9<<20 + 123, 31<<20 + 77, 4096, "root=UUID=0d9b4e5a-7c1e-4f0e-9a51-3c8d2e6f1a20 console=ttysclp0 0001,0,0a0000000011;"},
		{"legacy 896-byte command line", 3<<20 + 1, 1 << 20, 0, "root=/dev/vda1"},
		{"no initrd", 2 << 20, 0, 4096, strings.Repeat("x", 4095)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &memDisk{make([]byte, 200<<20)}
			d.b[510], d.b[511] = 0x55, 0xaa
			copy(d.b[0x1be:], []byte{0x80, 1, 2, 3, 0x83}) // a partition entry to keep
			kernel := fakeKernel(tc.kernelLen, tc.maxCmd, r)
			initrd := make([]byte, tc.initLen)
			for i := range initrd {
				initrd[i] = byte(r.Uint32())
			}
			p := Program{Kernel: place(d, kernel, 4096, r), KernelSize: int64(len(kernel)), KernelHead: kernel[:0x12000],
				Cmdline: tc.cmdline}
			if len(initrd) > 0 {
				p.Initrd, p.InitrdSize = place(d, initrd, 150000, r), int64(len(initrd))
			}
			lay, err := Write(d, d, 512, 1, 2048, p)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(d.b[0x1be:0x1c3], []byte{0x80, 1, 2, 3, 0x83}) || d.b[510] != 0x55 {
				t.Fatal("the partition table was not kept")
			}
			for _, lp := range []int{0, 1} {
				mem, psw := firmware(t, d.b, lp)
				if psw != DefaultPSW {
					t.Fatalf("PSW %#x", psw)
				}
				// What stage3 would leave: the kernel from 0x10000 on...
				want := append([]byte(nil), kernel[imageLoadAddr:]...)
				parm := want[parmArea-imageLoadAddr:]
				// ...with the initrd and command line in its parameter area.
				if tc.initLen > 0 {
					binary.BigEndian.PutUint64(parm[offInitrdStart:], lay.InitrdAddr)
					binary.BigEndian.PutUint64(parm[offInitrdSize:], uint64(tc.initLen))
				} else {
					clear(parm[offInitrdStart : offInitrdSize+8])
				}
				max := int(tc.maxCmd)
				if max == 0 {
					max = legacyCmdlineSz
				}
				clear(parm[offCmdline : offCmdline+max])
				copy(parm[offCmdline:], tc.cmdline)
				for i, b := range want {
					if got, ok := mem.b[imageLoadAddr+i], mem.loaded[imageLoadAddr+i]; !ok || got != b {
						t.Fatalf("loadparm %d: kernel byte at %#x: got %#x (loaded %v), want %#x", lp, imageLoadAddr+i, got, ok, b)
					}
				}
				for i, b := range initrd {
					if mem.b[lay.InitrdAddr+uint64(i)] != b || !mem.loaded[lay.InitrdAddr+uint64(i)] {
						t.Fatalf("initrd byte %d differs", i)
					}
				}
				if lay.InitrdAddr < uint64(imageLoadAddr+tc.kernelLen) || lay.InitrdAddr%(1<<20) != 0 {
					t.Fatalf("initrd at %#x overlaps the kernel or is unaligned", lay.InitrdAddr)
				}
				for a := range imageLoadAddr {
					if mem.loaded[a] {
						t.Fatalf("loads below the kernel entry at %#x: would overwrite the firmware's low core", a)
					}
				}
			}
		})
	}
}

func TestWriteRefuses(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	kernel := fakeKernel(1<<20, 4096, r)
	good := func() Program {
		return Program{Kernel: []Extent{{100, 2048}}, KernelSize: 1 << 20, KernelHead: kernel[:0x12000], Cmdline: "root=/dev/vda1"}
	}
	for _, tc := range []struct {
		name string
		mod  func(*Program)
		gap  uint64
		want string
	}{
		{"not a kernel", func(p *Program) { p.KernelHead = make([]byte, 0x12000) }, 2048, "not an s390x Linux kernel"},
		{"command line too long", func(p *Program) { p.Cmdline = strings.Repeat("a", 4096) }, 2048, "takes at most 4095"},
		{"NUL in command line", func(p *Program) { p.Cmdline = "a\x00b" }, 2048, "NUL"},
		{"short kernel", func(p *Program) { p.Kernel = []Extent{{100, 8}} }, 2048, "cover"},
		{"empty extent", func(p *Program) { p.Kernel = []Extent{{100, 0}, {100, 2048}} }, 2048, "empty extent"},
		{"no room", func(p *Program) {}, 8, "more than the"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := good()
			tc.mod(&p)
			d := &memDisk{make([]byte, 4<<20)}
			_, err := Write(d, d, 512, 1, tc.gap, p)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrInvalid containing %q", err, tc.want)
			}
		})
	}
}
