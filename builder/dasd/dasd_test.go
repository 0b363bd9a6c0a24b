package dasd

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGeometry(t *testing.T) {
	if CylinderBytes != 737280 {
		t.Fatalf("CylinderBytes = %d", CylinderBytes)
	}
	for _, tc := range []struct{ size, cyls int64 }{{1, 1}, {737280, 1}, {737281, 2}, {2 << 30, 2913}} {
		if got := Cylinders(tc.size); got != tc.cyls {
			t.Errorf("Cylinders(%d) = %d, want %d", tc.size, got, tc.cyls)
		}
	}
	d, err := New(1113, CDL, "lnx001")
	if err != nil {
		t.Fatal(err)
	}
	if d.PartitionStart() != 24 || d.Blocks() != 1113*180 || d.Geometry() != "1113,15,12" || d.Volser != "LNX001" ||
		d.PartitionBytes() != (1113*180-24)*4096 {
		t.Errorf("CDL disk %+v: start %d blocks %d geometry %s", d, d.PartitionStart(), d.Blocks(), d.Geometry())
	}
	d.Layout = LDL
	if d.PartitionStart() != 3 {
		t.Errorf("LDL partition starts at %d", d.PartitionStart())
	}
	for _, bad := range []struct {
		cyls          int64
		layout, volse string
	}{{2, CDL, "A"}, {70000, CDL, "A"}, {10, "fba", "A"}, {10, CDL, ""}, {10, CDL, "TOOLONG"}, {10, CDL, "A-B"}} {
		if _, err := New(bad.cyls, bad.layout, bad.volse); err == nil {
			t.Errorf("New(%d, %q, %q) accepted", bad.cyls, bad.layout, bad.volse)
		}
	}
}

// The LNX1 label's layout as QEMU's firmware (LDL_VTOC: magic 4, volser
// 6, 69 reserved, LDL_version, formatted_blocks) and the kernel read it.
func TestLNX1Offsets(t *testing.T) {
	d, _ := New(2913, LDL, "LNX001")
	l := d.LNX1()
	if len(l) != 88 || l[4+6+69] != 0xF2 || binary.BigEndian.Uint64(l[80:]) != 524340 {
		t.Errorf("LNX1 label of %d bytes: version %#x blocks %d", len(l), l[79], binary.BigEndian.Uint64(l[80:]))
	}
}

// The bootstrap records as dasdfmt.h prints them in its comments.
func TestBootstrapBytes(t *testing.T) {
	want1 := "C9D7D3F1000A00000000000F03000000" + "000000010000000000000000"
	if got := strings.ToUpper(hex.EncodeToString(IPL1())); got != want1 {
		t.Errorf("IPL1 %s, want %s", got, want1)
	}
	want2 := "C9D7D3F207003AB84000000631003ABE" + "4000000508003AA00000000006000000" +
		"20000000000000000000000000000400" + strings.Repeat("0", 2*(148-48))
	if got := strings.ToUpper(hex.EncodeToString(IPL2())); got != want2 {
		t.Errorf("IPL2 %s, want %s", got, want2)
	}
}

func TestWriteBootstrap(t *testing.T) {
	for _, layout := range []string{CDL, LDL} {
		d, _ := New(10, layout, "ZG01")
		p := filepath.Join(t.TempDir(), "disk")
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		f.Truncate(d.Size())
		f.Write(bytes.Repeat([]byte{0xee}, 3*BlockSize)) // stale bytes to be cleared
		if err := d.WriteBootstrap(f); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 3*BlockSize)
		f.ReadAt(b, 0)
		f.Close()
		switch layout {
		case CDL:
			if !bytes.Equal(b[:28], IPL1()) || !bytes.Equal(b[BlockSize:BlockSize+148], IPL2()) || b[28] != 0 ||
				!bytes.Equal(b[2*BlockSize:3*BlockSize], make([]byte, BlockSize)) {
				t.Errorf("CDL blocks 0-2 wrong")
			}
			// fdasd writes VOL1; nothing there yet.
			f, _ := os.Open(p)
			if l, _, err := Detect(f); err != nil || l != "" {
				t.Errorf("Detect before fdasd = %q %v", l, err)
			}
			f.Close()
		case LDL:
			lab := b[2*BlockSize:]
			if !bytes.Equal(b[:24], IPL1()[4:]) || !bytes.Equal(lab[:4], EBCDIC("LNX1")) ||
				!bytes.Equal(lab[4:10], EBCDIC("ZG01  ")) || lab[79] != 0xF2 || lab[78] != 0x40 ||
				binary.BigEndian.Uint64(lab[80:]) != uint64(10*180) || lab[10] != 0x40 || lab[88] != 0 {
				t.Errorf("LNX1 label % x", lab[:96])
			}
			f, _ := os.Open(p)
			if l, v, err := Detect(f); err != nil || l != LDL || v != "ZG01" {
				t.Errorf("Detect = %q %q %v", l, v, err)
			}
			f.Close()
		}
	}
}

func TestDetectCDL(t *testing.T) {
	b := make(memBlocks, 3*BlockSize)
	copy(b[2*BlockSize:], append(EBCDIC("VOL1VOL1"), EBCDIC("LNX001")...))
	if l, v, err := Detect(b); err != nil || l != CDL || v != "LNX001" {
		t.Errorf("Detect = %q %q %v", l, v, err)
	}
}

type memBlocks []byte

func (m memBlocks) ReadAt(p []byte, off int64) (int, error) { return copy(p, m[off:]), nil }
