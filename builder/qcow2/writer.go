package qcow2

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"syscall"
)

// Source is a virtual disk to convert.
type Source interface {
	io.ReaderAt
	Size() int64
	// Data returns the next range [start, end) at or after off that may
	// hold non-zero data, or io.EOF when there is none.
	Data(off int64) (start, end int64, err error)
}

// RawFile is a raw image file used as a Source. Holes are found with
// SEEK_DATA/SEEK_HOLE, so a sparse file is read only where it has data.
type RawFile struct {
	f    *os.File
	size int64
}

// NewRawFile wraps f; its size is taken now.
func NewRawFile(f *os.File) (*RawFile, error) {
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name(), err)
	}
	return &RawFile{f: f, size: size}, nil
}

// ReadAt implements io.ReaderAt.
func (r *RawFile) ReadAt(p []byte, off int64) (int, error) { return r.f.ReadAt(p, off) }

// Size implements Source.
func (r *RawFile) Size() int64 { return r.size }

const (
	seekData = 3 // SEEK_DATA on Linux
	seekHole = 4 // SEEK_HOLE
)

// Data implements Source with lseek(SEEK_DATA) and lseek(SEEK_HOLE).
func (r *RawFile) Data(off int64) (int64, int64, error) {
	if off >= r.size {
		return 0, 0, io.EOF
	}
	start, err := r.f.Seek(off, seekData)
	if err != nil {
		if errors.Is(err, syscall.ENXIO) {
			return 0, 0, io.EOF
		}
		if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.EOPNOTSUPP) {
			return off, r.size, nil // no hole support: everything may be data
		}
		return 0, 0, fmt.Errorf("%s: seek data: %w", r.f.Name(), err)
	}
	end, err := r.f.Seek(start, seekHole)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: seek hole: %w", r.f.Name(), err)
	}
	return start, min(end, r.size), nil
}

// mapChunk maps [off, off+n) of the file read-only, pre-faulted, so the
// pipeline can check and write the data without copying it into a buffer
// first. It is used only for ranges wholly inside the file.
func (r *RawFile) mapChunk(off, n int64) ([]byte, error) {
	if off+n > r.size || off%int64(os.Getpagesize()) != 0 {
		return nil, errors.ErrUnsupported
	}
	return syscall.Mmap(int(r.f.Fd()), off, int(n), syscall.PROT_READ, syscall.MAP_SHARED|syscall.MAP_POPULATE)
}

type mapper interface {
	mapChunk(off, n int64) ([]byte, error)
}

// Options control Write.
type Options struct {
	Version     int    // 3 (compat 1.1, default) or 2 (compat 0.10)
	ClusterBits uint32 // default 16 (64 KiB)
	Compress    bool   // deflate clusters with a 4 KiB window, as qemu-img -c
	Workers     int    // goroutines for zero detection and compression; default GOMAXPROCS
	// Progress, if set, is called with the virtual offset reached and the
	// virtual size.
	Progress func(done, total int64)
}

// Result describes a written image.
type Result struct {
	VirtualSize        int64
	FileSize           int64
	DataClusters       int64
	CompressedClusters int64
}

// chunk is a cluster-aligned piece of the source travelling through the
// pipeline: read, classified (and compressed) by a worker, consumed in order.
type chunk struct {
	off    int64  // virtual offset, cluster aligned
	buf    []byte // whole clusters
	own    []byte // the chunk's own buffer, when buf is a mapping
	mapped bool
	kinds  []uint8
	comp   [][]byte // compressed clusters, into out
	out    []byte
	done   chan struct{}
	err    error
}

const (
	ckZero uint8 = iota
	ckRaw
	ckCompressed
)

const chunkBytes = 4 << 20

// pipeline reads src cluster-aligned, lets workers classify every cluster
// (and compress it when compress is set), and hands chunks to consume in
// virtual-offset order.
func pipeline(src Source, cs int64, workers int, compress bool, consume func(*chunk) error) error {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	size := src.Size()
	per := max(chunkBytes, cs)
	nbuf := workers + 3
	free := make(chan *chunk, nbuf)
	for range nbuf {
		c := &chunk{own: make([]byte, per), kinds: make([]uint8, per/cs), comp: make([][]byte, per/cs)}
		if compress {
			c.out = make([]byte, 0, per)
		}
		free <- c
	}
	work := make(chan *chunk, nbuf)
	ordered := make(chan *chunk, nbuf)
	stop := make(chan struct{})
	readErr := make(chan error, 1)

	go func() { // reader
		defer close(work)
		defer close(ordered)
		off := int64(0)
		for off < size {
			start, end, err := src.Data(off)
			if err == io.EOF {
				break
			}
			if err != nil {
				readErr <- err
				return
			}
			start = max(start/cs*cs, off) // off is cluster aligned
			end = min((end+cs-1)/cs*cs, (size+cs-1)/cs*cs)
			if end <= start {
				readErr <- fmt.Errorf("source reported an empty data range at %d", start)
				return
			}
			for start < end {
				var c *chunk
				select {
				case c = <-free:
				case <-stop:
					return
				}
				n := min(per, end-start)
				c.off, c.err = start, nil
				c.done = make(chan struct{})
				c.mapped = false
				if m, ok := src.(mapper); ok {
					if b, err := m.mapChunk(start, n); err == nil {
						c.buf, c.mapped = b, true
					}
				}
				if !c.mapped {
					c.buf = c.own[:n]
					k, err := src.ReadAt(c.buf, start)
					if err != nil && !(errors.Is(err, io.EOF) && start+int64(k) >= size) {
						readErr <- fmt.Errorf("read at %d: %w", start+int64(k), err)
						return
					}
					clear(c.buf[k:])
				}
				work <- c
				ordered <- c
				start += n
			}
			off = end
		}
		readErr <- nil
	}()

	zero := make([]byte, cs)
	release := func(c *chunk) {
		if c.mapped {
			syscall.Munmap(c.buf)
			c.mapped = false
		}
	}
	for range workers {
		go func() {
			// A source truncated under a mapping faults; make that an
			// error instead of a crash.
			debug.SetPanicOnFault(true)
			var cp *compressor
			if compress {
				cp = newCompressor()
			}
			for c := range work {
				classify(c, cs, zero, cp)
				close(c.done)
			}
		}()
	}

	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	var err error
	for c := range ordered {
		<-c.done
		if err == nil {
			err = c.err
		}
		if err == nil {
			err = safeConsume(consume, c)
		}
		release(c)
		if err != nil {
			close(stop)
			for c := range ordered { // drain so the reader can exit
				<-c.done
				release(c)
			}
			break
		}
		free <- c
	}
	if err != nil {
		return err
	}
	return <-readErr
}

func safeConsume(consume func(*chunk) error, c *chunk) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("source changed while it was read: %v", r)
		}
	}()
	return consume(c)
}

// compressor is one worker's deflate encoder (builder/qcow2/deflate.go,
// a lazy matcher with a 4 KiB window). A cluster whose byte entropy looks
// random (compressed or encrypted content) is stored plain without trying;
// any other is encoded and kept if the encoding is smaller than the
// cluster. Each cluster is encoded on its own, from its own bytes only,
// so the result does not depend on which worker encodes it, in what order,
// or how many workers there are.
type compressor struct {
	df *deflater
}

func newCompressor() *compressor { return &compressor{df: newDeflater()} }

// randomEntropy is the order-0 entropy (bits per byte) above which a
// cluster is taken to be incompressible: a 64 KiB cluster of random bytes
// measures about 7.997, text and code 4 to 6.5, while deflate gains
// nothing on clusters this close to 8.
const randomEntropy = 7.99

// compress appends the encoding of cl to dst and reports whether it is
// smaller than cl.
func (c *compressor) compress(dst, cl []byte) ([]byte, bool) {
	if entropy(cl) > randomEntropy {
		return dst, false
	}
	at := len(dst)
	dst = c.df.compress(dst, cl)
	if len(dst)-at >= len(cl) {
		return dst[:at], false
	}
	return dst, true
}

// entropy returns the order-0 entropy of b in bits per byte.
func entropy(b []byte) float64 {
	var h [256]int
	for _, c := range b {
		h[c]++
	}
	e := 0.0
	for _, n := range h {
		if n > 0 {
			p := float64(n) / float64(len(b))
			e -= p * math.Log2(p)
		}
	}
	return e
}

// classify sets the kind of every cluster of c and, when cp is set,
// compresses it.
func classify(c *chunk, cs int64, zero []byte, cp *compressor) {
	defer func() {
		if r := recover(); r != nil {
			c.err = fmt.Errorf("source changed while it was read: %v", r)
		}
	}()
	n := int64(len(c.buf)) / cs
	c.out = c.out[:0]
	for i := int64(0); i < n; i++ {
		cl := c.buf[i*cs : (i+1)*cs]
		c.comp[i] = nil
		if bytes.Equal(cl, zero) {
			c.kinds[i] = ckZero
			continue
		}
		c.kinds[i] = ckRaw
		if cp == nil {
			continue
		}
		at := len(c.out)
		var ok bool
		if c.out, ok = cp.compress(c.out, cl); ok {
			c.comp[i] = c.out[at:len(c.out):len(c.out)]
			c.kinds[i] = ckCompressed
		}
	}
}

// writer holds the state of one qcow2 output.
type writer struct {
	out *os.File
	cs  int64
	l2n int64
	pos int64 // next free cluster in the output, always cluster aligned
	// Compressed clusters are packed byte by byte into [cEnd, cLimit), the
	// partly used cluster, while whole clusters keep coming from pos; this
	// is how qemu's allocator avoids wasting the tail of that cluster.
	cEnd, cLimit int64
	l1           []uint64
	curL1        int64
	l2           []uint64
	l2use        bool
	refs         []uint16
	res          Result
	shift        uint
}

func (w *writer) ref(from, to int64) error { // bytes [from, to)
	for c := from / w.cs; c <= (to-1)/w.cs; c++ {
		for int64(len(w.refs)) <= c {
			w.refs = append(w.refs, 0)
		}
		if w.refs[c] == 0xFFFF {
			return fmt.Errorf("qcow2: refcount overflow at host cluster %d", c)
		}
		w.refs[c]++
	}
	return nil
}

func (w *writer) roundUp(v int64) int64 { return (v + w.cs - 1) / w.cs * w.cs }

// write appends whole clusters at pos.
func (w *writer) write(b []byte) error {
	if _, err := w.out.WriteAt(b, w.pos); err != nil {
		return err
	}
	if err := w.ref(w.pos, w.pos+int64(len(b))); err != nil {
		return err
	}
	w.pos = w.roundUp(w.pos + int64(len(b)))
	return nil
}

// writeCompressed places compressed data and returns its offset.
func (w *writer) writeCompressed(b []byte) (int64, error) {
	n := int64(len(b))
	if w.cEnd == 0 || (w.cEnd+n > w.cLimit && w.cLimit != w.pos) {
		w.cEnd = w.pos // start in a fresh cluster
	}
	off := w.cEnd
	w.cEnd += n
	w.cLimit = w.roundUp(w.cEnd)
	if w.cLimit > w.pos {
		w.pos = w.cLimit
	}
	if _, err := w.out.WriteAt(b, off); err != nil {
		return 0, err
	}
	return off, w.ref(off, off+n)
}

func (w *writer) flushL2() error {
	if !w.l2use {
		return nil
	}
	b := make([]byte, w.cs)
	for i, e := range w.l2 {
		binary.BigEndian.PutUint64(b[8*i:], e)
	}
	w.l1[w.curL1] = uint64(w.pos) | flagCopied
	if err := w.write(b); err != nil {
		return err
	}
	clear(w.l2)
	w.l2use = false
	return nil
}

func (w *writer) set(cluster int64, e uint64) error {
	if i := cluster / w.l2n; i != w.curL1 {
		if err := w.flushL2(); err != nil {
			return err
		}
		w.curL1 = i
	}
	w.l2[cluster%w.l2n] = e
	w.l2use = true
	return nil
}

func (w *writer) consume(c *chunk) error {
	n := int64(len(c.buf)) / w.cs
	first := c.off / w.cs
	for i := int64(0); i < n; {
		switch c.kinds[i] {
		case ckZero:
			i++
		case ckCompressed:
			d := c.comp[i]
			off, err := w.writeCompressed(d)
			if err != nil {
				return err
			}
			sectors := uint64((off+int64(len(d))-1)>>9 - off>>9)
			if err := w.set(first+i, flagCompressed|sectors<<w.shift|uint64(off)); err != nil {
				return err
			}
			w.res.CompressedClusters++
			i++
		case ckRaw:
			j := i + 1
			for j < n && c.kinds[j] == ckRaw {
				j++
			}
			host := w.pos
			if err := w.write(c.buf[i*w.cs : j*w.cs]); err != nil {
				return err
			}
			for k := i; k < j; k++ {
				if err := w.set(first+k, uint64(host+(k-i)*w.cs)|flagCopied); err != nil {
					return err
				}
			}
			w.res.DataClusters += j - i
			i = j
		}
	}
	return nil
}

// Write converts src to a qcow2 image in out, which must be empty. The
// virtual size is src's size rounded up to 512 bytes, as qemu-img does.
func Write(out *os.File, src Source, opt Options) (Result, error) {
	if opt.Version == 0 {
		opt.Version = 3
	}
	if opt.Version != 2 && opt.Version != 3 {
		return Result{}, fmt.Errorf("qcow2: version %d: want 2 (compat 0.10) or 3 (compat 1.1)", opt.Version)
	}
	if opt.ClusterBits == 0 {
		opt.ClusterBits = DefaultClusterBits
	}
	if opt.ClusterBits < MinClusterBits || opt.ClusterBits > MaxClusterBits {
		return Result{}, fmt.Errorf("qcow2: cluster bits %d outside %d..%d", opt.ClusterBits, MinClusterBits, MaxClusterBits)
	}
	cs := int64(1) << opt.ClusterBits
	vsize := (src.Size() + 511) &^ 511
	l2n := cs / 8
	l1Size := ((vsize+cs-1)/cs + l2n - 1) / l2n
	if l1Size*8 > maxL1Bytes {
		return Result{}, fmt.Errorf("qcow2: virtual size %d needs an L1 table beyond qemu's 32 MiB limit; use larger clusters", vsize)
	}
	w := &writer{
		out: out, cs: cs, l2n: l2n, pos: cs, curL1: -1,
		l1: make([]uint64, l1Size), l2: make([]uint64, l2n),
		shift: uint(62 - (opt.ClusterBits - 8)),
	}
	w.res.VirtualSize = vsize
	w.refs = append(w.refs, 1) // header cluster
	err := pipeline(src, cs, opt.Workers, opt.Compress, func(c *chunk) error {
		if err := w.consume(c); err != nil {
			return err
		}
		if opt.Progress != nil {
			opt.Progress(c.off+int64(len(c.buf)), vsize)
		}
		return nil
	})
	if err != nil {
		return Result{}, err
	}
	if err := w.flushL2(); err != nil {
		return Result{}, err
	}
	if err := w.finish(opt, vsize); err != nil {
		return Result{}, err
	}
	if opt.Progress != nil {
		opt.Progress(vsize, vsize)
	}
	w.res.FileSize = w.pos
	return w.res, nil
}

// finish appends the L1 table and the refcount structures and writes the
// header.
func (w *writer) finish(opt Options, vsize int64) error {
	cs := w.cs
	clustersOf := func(bytes int64) int64 { return (bytes + cs - 1) / cs }
	used := w.pos / cs
	l1C := clustersOf(int64(len(w.l1)) * 8)
	perBlock := cs / 2 // 16-bit refcounts
	var rtC, rbC int64 = 1, 1
	for {
		total := used + l1C + rtC + rbC
		nb := (total + perBlock - 1) / perBlock
		nt := max(clustersOf(nb*8), 1)
		if nb == rbC && nt == rtC {
			break
		}
		rbC, rtC = nb, nt
	}
	if rtC*cs > maxRefcountTableBytes {
		return fmt.Errorf("qcow2: refcount table of %d clusters exceeds qemu's limit", rtC)
	}
	l1Off := used * cs
	if l1C == 0 {
		l1Off = 0 // an empty image has no L1 table
	}
	rtOff := (used + l1C) * cs
	rbOff := rtOff + rtC*cs

	if l1C > 0 {
		l1 := make([]byte, l1C*cs)
		for i, e := range w.l1 {
			binary.BigEndian.PutUint64(l1[8*i:], e)
		}
		if err := w.write(l1); err != nil {
			return err
		}
	}
	rt := make([]byte, rtC*cs)
	for i := int64(0); i < rbC; i++ {
		binary.BigEndian.PutUint64(rt[8*i:], uint64(rbOff+i*cs))
	}
	if err := w.write(rt); err != nil {
		return err
	}
	// The refcount blocks count themselves.
	if err := w.ref(rbOff, rbOff+rbC*cs); err != nil {
		return err
	}
	rb := make([]byte, rbC*cs)
	for i, r := range w.refs {
		binary.BigEndian.PutUint16(rb[2*i:], r)
	}
	if _, err := w.out.WriteAt(rb, rbOff); err != nil {
		return err
	}
	w.pos = rbOff + rbC*cs

	h := &Header{
		Version:               uint32(opt.Version),
		ClusterBits:           opt.ClusterBits,
		Size:                  uint64(vsize),
		L1Size:                uint32(len(w.l1)),
		L1TableOffset:         uint64(l1Off),
		RefcountTableOffset:   uint64(rtOff),
		RefcountTableClusters: uint32(rtC),
		RefcountOrder:         4,
		HeaderLength:          ourV3HeaderLen,
	}
	_, err := w.out.WriteAt(h.marshal(), 0)
	return err
}

// WriteRaw copies src to out as a raw image, leaving holes where src has
// unallocated or all-zero clusters, and sets out's size to src's size.
func WriteRaw(out *os.File, src Source, progress func(done, total int64)) (written int64, err error) {
	const cs = 64 << 10
	size := src.Size()
	err = pipeline(src, cs, 0, false, func(c *chunk) error {
		n := int64(len(c.buf)) / cs
		for i := int64(0); i < n; {
			if c.kinds[i] == ckZero {
				i++
				continue
			}
			j := i + 1
			for j < n && c.kinds[j] != ckZero {
				j++
			}
			end := min(j*cs, size-c.off)
			if _, err := out.WriteAt(c.buf[i*cs:end], c.off+i*cs); err != nil {
				return err
			}
			written += end - i*cs
			i = j
		}
		if progress != nil {
			progress(c.off+int64(len(c.buf)), size)
		}
		return nil
	})
	if err != nil {
		return written, err
	}
	return written, out.Truncate(size)
}
