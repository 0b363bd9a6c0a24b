package xcat

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/zguest/zguest/builder/dasd"
)

// memDisk is an in-memory image (io.ReaderAt and io.WriterAt).
type memDisk []byte

func (m memDisk) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(m)) {
		return 0, io.EOF
	}
	n := copy(p, m[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (m memDisk) WriteAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > int64(len(m)) {
		return 0, errors.New("write past the end")
	}
	return copy(m[off:], p), nil
}

// cdlImage is a small CDL disk as dasdfmt, fdasd and mke2fs would leave
// it: bootstrap records, a VOL1 label and DSCBs no longer than their
// records, data blocks with random bytes.
func cdlImage(t *testing.T, d dasd.Disk) memDisk {
	t.Helper()
	m := make(memDisk, d.Size())
	if err := d.WriteBootstrap(m); err != nil {
		t.Fatal(err)
	}
	vol := append(dasd.EBCDIC("VOL1VOL1"), dasd.EBCDIC(d.Volser)...)
	copy(m[2*dasd.BlockSize:], vol)
	r := rand.New(rand.NewPCG(1, 2))
	for b := int64(12); b < 24; b++ {
		for i := range dasd.DSCBLen {
			m[b*dasd.BlockSize+int64(i)] = byte(r.UintN(256))
		}
	}
	for off := int64(24 * dasd.BlockSize); off < int64(len(m)); off += 997 {
		m[off] = byte(r.UintN(256))
	}
	return m
}

func TestHeader(t *testing.T) {
	h, err := Header(3338, 6)
	if err != nil {
		t.Fatal(err)
	}
	// The offsets unpackdiskimage reads: magic 0-19, size 20-35, "HLen:"
	// at 37, its value at 43-46, the gzip level at 54; blanks to 512.
	if len(h) != 512 || string(h[:20]) != "xCAT CKD Disk Image:" || string(h[20:36]) != "        3338 CYL" ||
		string(h[37:47]) != "HLen: 0055" || h[54] != '6' || !bytes.Equal(h[55:], bytes.Repeat([]byte(" "), 512-55)) {
		t.Fatalf("header %q", h[:64])
	}
	if n, lvl, err := ParseSize(h); err != nil || n != 3338 || lvl != 6 {
		t.Errorf("ParseSize = %d %d %v", n, lvl, err)
	}
	if _, err := Header(1, 10); err == nil {
		t.Error("level 10 accepted")
	}
}

// TestRoundTrip encodes CDL and LDL disks and decodes them back: the
// blocks match wherever a record holds bytes, the rest of each block is
// zero (what Linux reads from a dasdfmt-formatted minidisk).
func TestRoundTrip(t *testing.T) {
	for _, layout := range []string{dasd.CDL, dasd.LDL} {
		for _, level := range []int{0, 1, 9} {
			d, err := dasd.New(3, layout, "LNX001")
			if err != nil {
				t.Fatal(err)
			}
			img := cdlImage(t, d)
			if layout == dasd.LDL {
				img = make(memDisk, d.Size())
				if err := d.WriteBootstrap(img); err != nil {
					t.Fatal(err)
				}
				for i := int64(3 * dasd.BlockSize); i < int64(len(img)); i += 331 {
					img[i] = byte(i)
				}
			}
			var buf bytes.Buffer
			if err := Write(&buf, img, d, level); err != nil {
				t.Fatal(err)
			}
			cyls, lvl, err := ParseSize(buf.Bytes()[:HeaderLen])
			if err != nil || cyls != 3 || lvl != level {
				t.Fatalf("%s/%d: header %d %d %v", layout, level, cyls, lvl, err)
			}
			var payload io.Reader = bytes.NewReader(buf.Bytes()[HeaderLen:])
			if level > 0 {
				if payload, err = gzip.NewReader(payload); err != nil {
					t.Fatal(err)
				}
			}
			out := make(memDisk, d.Size())
			n, err := DecodeTracks(payload, out, d.Cylinders*dasd.Heads)
			if err != nil || n != d.Cylinders*dasd.Heads {
				t.Fatalf("%s/%d: decoded %d tracks: %v", layout, level, n, err)
			}
			if !bytes.Equal(out, img) {
				for i := range out {
					if out[i] != img[i] {
						t.Fatalf("%s/%d: first difference at byte %d (block %d): %#x, want %#x", layout, level, i, i/dasd.BlockSize, out[i], img[i])
					}
				}
			}
		}
	}
}

// TestCDLRecords checks the record layout of tracks 0 and 1 in the
// encoded stream: 3 records with 4-byte keys of 24, 144 and 80 data bytes
// then 9 of 4 KiB; 12 DSCB records of key 44 and data 96.
func TestCDLRecords(t *testing.T) {
	d, _ := dasd.New(3, dasd.CDL, "LNX001")
	var buf bytes.Buffer
	if err := EncodeTracks(&buf, cdlImage(t, d), d); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	want0 := []byte{12, 3, 4, 9, 0, 1, 0, 24, 1, 0, 144, 1, 0, 80, 9, 0x10, 0}
	if !bytes.Equal(b[:len(want0)], want0) {
		t.Fatalf("track 0 counts % x, want % x", b[:len(want0)], want0)
	}
	if string(b[len(want0):len(want0)+4]) != string(dasd.EBCDIC("IPL1")) {
		t.Errorf("track 0 record 1 key % x", b[len(want0):len(want0)+4])
	}
	t1 := len(want0) + 28 + 148 + 84 + 9*4096
	want1 := []byte{12, 12, 44, 12, 0, 96}
	if !bytes.Equal(b[t1:t1+len(want1)], want1) {
		t.Fatalf("track 1 counts % x, want % x", b[t1:t1+len(want1)], want1)
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"zero records", []byte{0}},
		{"13 records", []byte{13}},
		{"short runs", []byte{12, 3, 0}},
		{"run too long", []byte{2, 3, 0}},
		{"record too big", []byte{1, 1, 4, 1, 0x10, 0}},
		{"short data", []byte{1, 1, 0, 1, 0, 8, 1, 2}},
	} {
		_, err := DecodeTracks(bytes.NewReader(tc.in), make(memDisk, dasd.TrackBytes), 1)
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err = %v, want ErrCorrupt", tc.name, err)
		}
	}
	// More tracks than the minidisk holds.
	one := append([]byte{1, 1, 0, 1, 0, 1}, 'x')
	if _, err := DecodeTracks(bytes.NewReader(append(one, one...)), make(memDisk, 2*dasd.TrackBytes), 1); err == nil {
		t.Error("no error for an image larger than the minidisk")
	}
}

func FuzzDecodeTracks(f *testing.F) {
	d, _ := dasd.New(3, dasd.LDL, "LNX001")
	img := make(memDisk, d.Size())
	var buf bytes.Buffer
	if err := EncodeTracks(&buf, img, d); err == nil {
		f.Add(buf.Bytes()[:4096])
	}
	f.Add([]byte{12, 3, 4, 9, 0, 1, 0, 24, 1, 0, 144, 1, 0, 80, 9, 0x10, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		out := make(memDisk, 2*dasd.TrackBytes)
		n, err := DecodeTracks(bytes.NewReader(b), out, 2)
		if n > 2 {
			t.Fatalf("%d tracks written to a 2-track disk", n)
		}
		_ = err
	})
}

// TestWriteFile writes through a real file, as the build does.
func TestWriteFile(t *testing.T) {
	d, _ := dasd.New(3, dasd.CDL, "ZG0001")
	p := filepath.Join(t.TempDir(), "img.xcat")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := Write(f, cdlImage(t, d), d, 6); err != nil {
		t.Fatal(err)
	}
	f.Close()
	b, _ := os.ReadFile(p)
	if string(b[:20]) != Magic || b[HeaderLen] != 0x1f || b[HeaderLen+1] != 0x8b {
		t.Errorf("file starts %q, payload % x", b[:36], b[HeaderLen:HeaderLen+2])
	}
}

func FuzzParseSize(f *testing.F) {
	h, _ := Header(3338, 6)
	f.Add(h)
	f.Add([]byte("xCAT CKD Disk Image:    3338 CYL HLen: 0055 GZIP: x"))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, lvl, err := ParseSize(b)
		if err == nil && (lvl < 0 || lvl > 9 || n <= 0) {
			t.Fatalf("accepted level %d size %d", lvl, n)
		}
	})
}
