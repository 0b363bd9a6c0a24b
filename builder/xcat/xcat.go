// Package xcat writes and reads the z/VM cloud connector's disk image
// format for ECKD minidisks ("xCAT CKD Disk Image"), the file that
// `POST /images` imports and `deploy` writes onto a guest's root minidisk.
//
// The format, from the connector's zthin tools (feilong
// zthin-parts/zthin/bin/creatediskimage and unpackdiskimage, src/ckdencode.c,
// ckddecode.c, include/cikada.h):
//
//   - a header: the 20-byte magic "xCAT CKD Disk Image:", the disk size as
//     "<n> CYL" right-aligned in 16 characters (columns 6 and 7 of CP's
//     QUERY VIRTUAL for the minidisk), " HLen: 0055", " GZIP: <level>",
//     padded with blanks to 512 bytes (version 2; version 1 had just the
//     first 36 bytes and always gzip level 6);
//   - the payload: the minidisk's tracks in "CiKaDa" encoding, gzip
//     compressed at that level, or stored as it is for level 0. Per track:
//     one byte, the number of records; run-length pairs (count, key length)
//     until the counts add up to the records; run-length triples (count,
//     data length as a 16-bit big-endian number, the connector's s390x byte
//     order) likewise; then each record's key and data bytes.
//
// Linux sees an ECKD minidisk formatted with 4 KiB blocks as 12 blocks per
// track; a record's key and data make the start of its block, the rest is
// zero. On the compatible disk layout (CDL) the records of tracks 0 and 1
// are not 4 KiB: dasdfmt writes the IPL1, IPL2 and VOL1 records with
// 4-byte keys (28, 148 and 84 bytes with the key) and formats track 1, the
// VTOC, as records of a 44-byte key and 96 data bytes (the kernel's
// dasd_eckd.c sizes_trk0[] and LABEL_SIZE). The encoder writes those
// records with those lengths, so that ckddecode recreates the formatting
// dasdfmt -d cdl -b 4096 would have made.
package xcat

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/zguest/zguest/builder/dasd"
)

// HeaderLen is the version 2 header's size.
const HeaderLen = 512

// Magic is the CKD image's first 20 bytes.
const Magic = "xCAT CKD Disk Image:"

// Header returns the 512-byte version 2 header for a CKD image of cyls
// cylinders compressed at gzip level (0-9).
func Header(cyls int64, level int) ([]byte, error) {
	if level < 0 || level > 9 {
		return nil, fmt.Errorf("gzip level %d: want 0 to 9", level)
	}
	size := fmt.Sprintf("%d CYL", cyls)
	if len(size) > 16 {
		return nil, fmt.Errorf("%d cylinders do not fit the header's 16-character size field", cyls)
	}
	h := fmt.Sprintf("%s%16s HLen: 0055 GZIP: %d", Magic, size, level)
	return []byte(fmt.Sprintf("%-512s", h)), nil
}

// record is one CKD record: key length and data length.
type record struct{ key, data int }

// trackRecords returns the records of track t (0-based) of a disk with the
// layout: 12 records of 4 KiB, except tracks 0 and 1 of a CDL disk.
func trackRecords(layout string, t int64) []record {
	recs := make([]record, dasd.BlocksPerTrack)
	for i := range recs {
		recs[i] = record{0, dasd.BlockSize}
	}
	if layout != dasd.CDL {
		return recs
	}
	switch t {
	case 0:
		recs[0] = record{dasd.KeyLen, dasd.IPL1Len - dasd.KeyLen}
		recs[1] = record{dasd.KeyLen, dasd.IPL2Len - dasd.KeyLen}
		recs[2] = record{dasd.KeyLen, dasd.VOL1Len - dasd.KeyLen}
	case 1:
		for i := range recs {
			recs[i] = record{dasd.DSCBKeyLen, dasd.DSCBLen - dasd.DSCBKeyLen}
		}
	}
	return recs
}

// EncodeTracks writes the disk's tracks (read as 4 KiB blocks from r) in
// CiKaDa encoding to w.
func EncodeTracks(w io.Writer, r io.ReaderAt, d dasd.Disk) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	track := make([]byte, dasd.TrackBytes)
	tracks := d.Cylinders * dasd.Heads
	for t := range tracks {
		if _, err := r.ReadAt(track, t*dasd.TrackBytes); err != nil {
			return fmt.Errorf("reading track %d: %w", t, err)
		}
		recs := trackRecords(d.Layout, t)
		bw.WriteByte(byte(len(recs)))
		writeRuns(bw, recs, func(r record) int { return r.key }, false)
		writeRuns(bw, recs, func(r record) int { return r.data }, true)
		for i, rec := range recs {
			blk := track[i*dasd.BlockSize:]
			bw.Write(blk[:rec.key+rec.data])
		}
	}
	return bw.Flush()
}

func writeRuns(w *bufio.Writer, recs []record, val func(record) int, wide bool) {
	for i := 0; i < len(recs); {
		j := i
		for j < len(recs) && val(recs[j]) == val(recs[i]) && j-i < 255 {
			j++
		}
		w.WriteByte(byte(j - i))
		if wide {
			w.Write(binary.BigEndian.AppendUint16(nil, uint16(val(recs[i]))))
		} else {
			w.WriteByte(byte(val(recs[i])))
		}
		i = j
	}
}

// Write writes the whole image: the header and the encoded tracks,
// gzip-compressed at level (stored for 0).
func Write(w io.Writer, r io.ReaderAt, d dasd.Disk, level int) error {
	h, err := Header(d.Cylinders, level)
	if err != nil {
		return err
	}
	if _, err := w.Write(h); err != nil {
		return err
	}
	if level == 0 {
		return EncodeTracks(w, r, d)
	}
	zw, err := gzip.NewWriterLevel(w, level)
	if err != nil {
		return err
	}
	if err := EncodeTracks(zw, r, d); err != nil {
		return err
	}
	return zw.Close()
}

// ErrCorrupt marks CiKaDa data that cannot be decoded.
var ErrCorrupt = errors.New("corrupt CiKaDa track data")

// DecodeTracks reads CiKaDa-encoded tracks from r and writes them to w as
// Linux sees the minidisk: track t at byte t*TrackBytes, each record's key
// and data at the start of its 4 KiB block, the rest zero. Like the
// connector's ckddecode it stops at the end of the input; it refuses more
// than maxTracks tracks (the target minidisk's size) and records that do
// not fit a 4 KiB block. It returns the number of tracks written.
func DecodeTracks(r io.Reader, w io.WriterAt, maxTracks int64) (int64, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	track := make([]byte, dasd.TrackBytes)
	var t int64
	for ; ; t++ {
		n, err := br.ReadByte()
		if err == io.EOF {
			return t, nil
		}
		if err != nil {
			return t, err
		}
		if t >= maxTracks {
			return t, fmt.Errorf("the image has more than the %d tracks of the target minidisk", maxTracks)
		}
		if n == 0 || int(n) > dasd.BlocksPerTrack {
			return t, fmt.Errorf("%w: track %d has %d records; a 3390 at 4 KiB blocks has 1 to %d", ErrCorrupt, t, n, dasd.BlocksPerTrack)
		}
		keys, err := readRuns(br, int(n), false)
		if err != nil {
			return t, fmt.Errorf("%w: track %d key lengths: %w", ErrCorrupt, t, err)
		}
		datas, err := readRuns(br, int(n), true)
		if err != nil {
			return t, fmt.Errorf("%w: track %d data lengths: %w", ErrCorrupt, t, err)
		}
		clear(track)
		for i := range int(n) {
			l := keys[i] + datas[i]
			if l > dasd.BlockSize {
				return t, fmt.Errorf("%w: track %d record %d has %d key and %d data bytes, more than a 4 KiB block", ErrCorrupt, t, i+1, keys[i], datas[i])
			}
			if _, err := io.ReadFull(br, track[i*dasd.BlockSize:i*dasd.BlockSize+l]); err != nil {
				return t, fmt.Errorf("%w: track %d record %d: %w", ErrCorrupt, t, i+1, err)
			}
		}
		if _, err := w.WriteAt(track, t*dasd.TrackBytes); err != nil {
			return t, fmt.Errorf("writing track %d: %w", t, err)
		}
	}
}

func readRuns(r *bufio.Reader, n int, wide bool) ([]int, error) {
	out := make([]int, 0, n)
	for len(out) < n {
		cnt, err := r.ReadByte()
		if err != nil {
			return nil, noEOF(err)
		}
		var v int
		if wide {
			var b [2]byte
			if _, err := io.ReadFull(r, b[:]); err != nil {
				return nil, noEOF(err)
			}
			v = int(binary.BigEndian.Uint16(b[:]))
		} else {
			c, err := r.ReadByte()
			if err != nil {
				return nil, noEOF(err)
			}
			v = int(c)
		}
		if cnt == 0 || len(out)+int(cnt) > n {
			return nil, fmt.Errorf("run of %d records where %d remain", cnt, n-len(out))
		}
		for range int(cnt) {
			out = append(out, v)
		}
	}
	return out, nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// ParseSize reads the cylinder count from a CKD header (for tests and
// tools; the daemon has its own parser).
func ParseSize(h []byte) (int64, int, error) {
	if len(h) < 55 || string(h[:20]) != Magic {
		return 0, 0, errors.New("not an xCAT CKD image header")
	}
	f := strings.Fields(string(h[20:36]))
	if len(f) != 2 || f[1] != "CYL" {
		return 0, 0, fmt.Errorf("size field %q", h[20:36])
	}
	n, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil || n <= 0 {
		return 0, 0, fmt.Errorf("size field %q: want a positive cylinder count", h[20:36])
	}
	lvl := int(h[54] - '0')
	if lvl < 0 || lvl > 9 {
		return 0, 0, fmt.Errorf("gzip level %q", h[54])
	}
	return n, lvl, nil
}
