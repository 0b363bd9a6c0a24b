package qcow2

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"

	"github.com/klauspost/compress/flate"
)

// Image is an open qcow2 image. It implements io.ReaderAt over the virtual
// disk and Source for conversion. It is safe for concurrent use.
type Image struct {
	r        io.ReaderAt
	fileSize int64
	h        *Header
	cs       int64
	l2n      int64 // entries per L2 table
	l1       []uint64
	csShift  uint
	csMask   uint64
	offMask  uint64

	file *os.File // set when r is a file, for mapping data runs

	mu    sync.Mutex
	cache map[int64][]uint64 // L2 tables by L1 index
	order []int64
}

const l2CacheTables = 32

// Open reads and validates the header and L1 table of a qcow2 image of
// fileSize bytes.
func Open(r io.ReaderAt, fileSize int64) (*Image, error) {
	if fileSize < v2HeaderLen {
		return nil, corrupt("truncated header: file is %d bytes", fileSize)
	}
	probe := make([]byte, min(fileSize, 512))
	if n, err := r.ReadAt(probe, 0); n < len(probe) {
		return nil, corrupt("truncated header: read %d of %d bytes: %v", n, len(probe), err)
	}
	if _, err := parseHeaderPrefix(probe); err != nil {
		return nil, err
	}
	cs := int64(1) << binary.BigEndian.Uint32(probe[20:])
	first := make([]byte, min(fileSize, cs))
	if n, err := r.ReadAt(first, 0); n < len(first) {
		return nil, corrupt("truncated header: read %d of %d bytes: %v", n, len(first), err)
	}
	h, err := parseHeader(first, fileSize)
	if err != nil {
		return nil, err
	}
	im := &Image{
		r: r, fileSize: fileSize, h: h, cs: cs, l2n: cs / 8,
		csShift: uint(62 - (h.ClusterBits - 8)),
		cache:   map[int64][]uint64{},
	}
	im.file, _ = r.(*os.File)
	im.csMask = (uint64(1) << (h.ClusterBits - 8)) - 1
	im.offMask = (uint64(1) << im.csShift) - 1
	raw := make([]byte, int64(h.L1Size)*8)
	if _, err := r.ReadAt(raw, int64(h.L1TableOffset)); err != nil {
		return nil, corrupt("reading L1 table at %#x: %v", h.L1TableOffset, err)
	}
	im.l1 = make([]uint64, h.L1Size)
	// Every L2 table must be its own cluster: tables shared between L1
	// entries would let a small file stand for an enormous mapping and make
	// every walk over it quadratic.
	seen := make(map[uint64]int)
	for i := range im.l1 {
		e := binary.BigEndian.Uint64(raw[8*i:])
		off := e & l1OffsetMask
		if e&^(l1OffsetMask|flagCopied) != 0 {
			return nil, corrupt("L1 entry %d (%#x) has reserved bits set", i, e)
		}
		if off%uint64(cs) != 0 {
			return nil, corrupt("L1 entry %d: L2 table offset %#x is not cluster aligned", i, off)
		}
		if off != 0 && (off > uint64(fileSize) || uint64(cs) > uint64(fileSize)-off) {
			return nil, corrupt("L1 entry %d: L2 table at %#x lies past the end of the %d-byte file", i, off, fileSize)
		}
		if off != 0 {
			if j, dup := seen[off]; dup {
				return nil, corrupt("L1 entries %d and %d share the L2 table at %#x", j, i, off)
			}
			seen[off] = i
		}
		im.l1[i] = off
	}
	return im, nil
}

// Header returns a copy of the header.
func (im *Image) Header() Header { return *im.h }

// Size returns the virtual disk size.
func (im *Image) Size() int64 { return int64(im.h.Size) }

// FileSize returns the size of the image file.
func (im *Image) FileSize() int64 { return im.fileSize }

// l2 returns the L2 table of L1 index i, or nil if unallocated.
func (im *Image) l2(i int64) ([]uint64, error) {
	if i < 0 || i >= int64(len(im.l1)) {
		return nil, corrupt("L1 index %d out of range", i)
	}
	off := im.l1[i]
	if off == 0 {
		return nil, nil
	}
	im.mu.Lock()
	t, ok := im.cache[i]
	im.mu.Unlock()
	if ok {
		return t, nil
	}
	raw := make([]byte, im.cs)
	if _, err := im.r.ReadAt(raw, int64(off)); err != nil {
		return nil, corrupt("reading L2 table at %#x: %v", off, err)
	}
	t = make([]uint64, im.l2n)
	for j := range t {
		e := binary.BigEndian.Uint64(raw[8*j:])
		if err := im.checkL2(e, i*im.l2n+int64(j)); err != nil {
			return nil, err
		}
		t[j] = e
	}
	im.mu.Lock()
	if len(im.order) >= l2CacheTables {
		delete(im.cache, im.order[0])
		im.order = im.order[1:]
	}
	im.cache[i] = t
	im.order = append(im.order, i)
	im.mu.Unlock()
	return t, nil
}

func (im *Image) checkL2(e uint64, cluster int64) error {
	if e&flagCompressed != 0 {
		off := e & im.offMask
		if off == 0 || off >= uint64(im.fileSize) {
			return corrupt("compressed cluster %d at %#x lies outside the %d-byte file", cluster, off, im.fileSize)
		}
		return nil
	}
	off := e & l2OffsetMask
	if e&^(l2OffsetMask|flagCopied|flagZero) != 0 {
		return corrupt("L2 entry for cluster %d (%#x) has reserved bits set", cluster, e)
	}
	if e&flagZero != 0 && im.h.Version < 3 {
		return corrupt("L2 entry for cluster %d has the zero flag in a version 2 image", cluster)
	}
	if off%uint64(im.cs) != 0 {
		return corrupt("data cluster %d at %#x is not cluster aligned", cluster, off)
	}
	if off != 0 && (off > uint64(im.fileSize) || uint64(im.cs) > uint64(im.fileSize)-off) {
		return corrupt("data cluster %d at %#x lies past the end of the %d-byte file", cluster, off, im.fileSize)
	}
	return nil
}

// clusterKind classifies an L2 entry.
type clusterKind int

const (
	kindZero       clusterKind = iota // unallocated or zero flag
	kindData                          // standard cluster at host offset
	kindCompressed                    // compressed cluster
)

func (im *Image) entry(cluster int64) (uint64, clusterKind, error) {
	t, err := im.l2(cluster / im.l2n)
	if err != nil || t == nil {
		return 0, kindZero, err
	}
	e := t[cluster%im.l2n]
	switch {
	case e&flagCompressed != 0:
		return e, kindCompressed, nil
	case e&flagZero != 0, e&l2OffsetMask == 0:
		return 0, kindZero, nil
	}
	return e & l2OffsetMask, kindData, nil
}

// compressedSpan returns the host offset and the maximum stored length of a
// compressed cluster descriptor.
func (im *Image) compressedSpan(e uint64) (off, n int64) {
	off = int64(e & im.offMask)
	sectors := int64((e>>im.csShift)&im.csMask) + 1
	return off, sectors*512 - off&511
}

var inflaters sync.Pool // of io.ReadCloser implementing flate.Resetter

func (im *Image) readCompressed(e uint64, dst []byte) error {
	off, n := im.compressedSpan(e)
	if off+n > im.fileSize {
		n = im.fileSize - off // the last sector may be short at EOF
	}
	buf := make([]byte, n)
	if _, err := im.r.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading compressed cluster at %#x: %w", off, err)
	}
	src := bytes.NewReader(buf)
	fr, _ := inflaters.Get().(io.ReadCloser)
	if fr == nil {
		fr = flate.NewReader(src)
	} else if err := fr.(flate.Resetter).Reset(src, nil); err != nil {
		return err
	}
	defer inflaters.Put(fr)
	got, err := io.ReadFull(fr, dst)
	if err != nil {
		return corrupt("compressed cluster at %#x inflates to %d bytes, want %d: %v", off, got, len(dst), err)
	}
	return nil
}

// ReadAt reads virtual disk content.
func (im *Image) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("qcow2: negative offset")
	}
	size := im.Size()
	if off >= size {
		return 0, io.EOF
	}
	var eof error
	if int64(len(p)) > size-off {
		p = p[:size-off]
		eof = io.EOF
	}
	done := 0
	var cbuf []byte
	for done < len(p) {
		pos := off + int64(done)
		cl := pos / im.cs
		in := pos % im.cs
		n := int(min(im.cs-in, int64(len(p)-done)))
		e, kind, err := im.entry(cl)
		if err != nil {
			return done, err
		}
		switch kind {
		case kindZero:
			clear(p[done : done+n])
		case kindData:
			// Extend over following clusters stored contiguously.
			for done+n < len(p) {
				e2, k2, err := im.entry(cl + 1)
				if err != nil || k2 != kindData || e2 != e+uint64(in)+uint64(n) {
					break
				}
				cl++
				n += int(min(im.cs, int64(len(p)-done-n)))
			}
			if _, err := im.r.ReadAt(p[done:done+n], int64(e)+in); err != nil {
				return done, corrupt("reading data cluster at %#x: %v", e, err)
			}
		case kindCompressed:
			if cbuf == nil {
				cbuf = make([]byte, im.cs)
			}
			if err := im.readCompressed(e, cbuf); err != nil {
				return done, err
			}
			copy(p[done:done+n], cbuf[in:])
		}
		done += n
	}
	return done, eof
}

// Data implements Source: it returns the next run of allocated clusters at
// or after off.
func (im *Image) Data(off int64) (start, end int64, err error) {
	size := im.Size()
	if off >= size {
		return 0, 0, io.EOF
	}
	cl := off / im.cs
	nclusters := (size + im.cs - 1) / im.cs
	for cl < nclusters {
		t, err := im.l2(cl / im.l2n)
		if err != nil {
			return 0, 0, err
		}
		if t == nil {
			cl = (cl/im.l2n + 1) * im.l2n
			continue
		}
		_, kind, _ := im.entry(cl)
		if kind == kindZero {
			cl++
			continue
		}
		first := cl
		for cl < nclusters {
			_, k, err := im.entry(cl)
			if err != nil {
				return 0, 0, err
			}
			if k == kindZero {
				break
			}
			cl++
		}
		return max(first*im.cs, off), min(cl*im.cs, size), nil
	}
	return 0, 0, io.EOF
}

// Stats counts clusters by kind.
type Stats struct {
	VirtualClusters    int64
	DataClusters       int64 // standard allocated clusters
	CompressedClusters int64
	ZeroFlagClusters   int64
	L2Tables           int64
}

// Stats walks the mapping tables.
func (im *Image) Stats() (Stats, error) {
	s := Stats{VirtualClusters: (im.Size() + im.cs - 1) / im.cs}
	for i := range im.l1 {
		t, err := im.l2(int64(i))
		if err != nil {
			return s, err
		}
		if t == nil {
			continue
		}
		s.L2Tables++
		for j, e := range t {
			if int64(i)*im.l2n+int64(j) >= s.VirtualClusters {
				break
			}
			switch {
			case e&flagCompressed != 0:
				s.CompressedClusters++
			case e&flagZero != 0:
				s.ZeroFlagClusters++
			case e&l2OffsetMask != 0:
				s.DataClusters++
			}
		}
	}
	return s, nil
}

// mapChunk maps the host clusters behind [off, off+n) when they are all
// standard clusters stored back to back, so conversion to raw copies the
// data once instead of twice.
func (im *Image) mapChunk(off, n int64) ([]byte, error) {
	if im.file == nil || off%im.cs != 0 || n%im.cs != 0 || im.cs < int64(os.Getpagesize()) {
		return nil, errors.ErrUnsupported
	}
	var host int64
	for k := int64(0); k < n/im.cs; k++ {
		e, kind, err := im.entry(off/im.cs + k)
		if err != nil || kind != kindData {
			return nil, errors.ErrUnsupported
		}
		if k == 0 {
			host = int64(e)
		} else if int64(e) != host+k*im.cs {
			return nil, errors.ErrUnsupported
		}
	}
	return syscall.Mmap(int(im.file.Fd()), host, int(n), syscall.PROT_READ, syscall.MAP_SHARED|syscall.MAP_POPULATE)
}
