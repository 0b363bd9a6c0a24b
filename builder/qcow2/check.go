package qcow2

import (
	"encoding/binary"
	"fmt"
)

// maxCheckClusters bounds the memory Check uses (4 bytes per host cluster).
const maxCheckClusters = 1 << 23

// CheckResult is what Check found, in qemu-img check's terms.
type CheckResult struct {
	HostClusters int64
	Corruptions  int64    // clusters whose stored refcount is below their use
	Leaks        int64    // clusters with a refcount but no use
	Messages     []string // the first few problems, for people
	// SnapshotsSkipped is set when internal snapshots exist; their tables
	// are not followed, so leaks are not counted.
	SnapshotsSkipped bool
}

// OK reports whether no corruption and no leak was found.
func (r CheckResult) OK() bool { return r.Corruptions == 0 && r.Leaks == 0 }

func (r *CheckResult) note(format string, a ...any) {
	if len(r.Messages) < 20 {
		r.Messages = append(r.Messages, fmt.Sprintf(format, a...))
	}
}

// Check recomputes every host cluster's reference count from the header,
// L1, L2 and refcount tables and compares it with the stored refcounts.
func (im *Image) Check() (CheckResult, error) {
	cs := im.cs
	var res CheckResult
	n := (im.fileSize + cs - 1) / cs
	if n > maxCheckClusters {
		return res, unsupported("file of %d clusters is too large to check (limit %d)", n, maxCheckClusters)
	}
	res.HostClusters = n
	want := make([]uint32, n)
	use := func(from, length int64, what string) {
		if length <= 0 {
			return
		}
		if from < 0 || from >= im.fileSize {
			res.Corruptions++
			res.note("%s at %#x lies outside the file", what, from)
			return
		}
		for c := from / cs; c <= (from+length-1)/cs && c < n; c++ {
			if want[c] < ^uint32(0) {
				want[c]++
			}
		}
	}
	use(0, cs, "header")
	use(int64(im.h.L1TableOffset), int64(im.h.L1Size)*8, "L1 table")
	use(int64(im.h.RefcountTableOffset), int64(im.h.RefcountTableClusters)*cs, "refcount table")
	if im.h.NbSnapshots > 0 {
		res.SnapshotsSkipped = true
	}

	// Refcount table and blocks.
	rt := make([]byte, int64(im.h.RefcountTableClusters)*cs)
	if _, err := im.r.ReadAt(rt, int64(im.h.RefcountTableOffset)); err != nil {
		return res, corrupt("reading refcount table: %v", err)
	}
	bits := int64(1) << im.h.RefcountOrder
	perBlock := cs * 8 / bits
	maxRef := uint64(1)<<bits - 1
	if bits == 64 {
		maxRef = ^uint64(0)
	}
	stored := make([]uint64, n)
	block := make([]byte, cs)
	for i := int64(0); i < int64(len(rt))/8; i++ {
		off := binary.BigEndian.Uint64(rt[8*i:]) & refTableOffMask
		if off == 0 {
			continue
		}
		if off%uint64(cs) != 0 || off > uint64(im.fileSize) || uint64(cs) > uint64(im.fileSize)-off {
			res.Corruptions++
			res.note("refcount block %d at %#x is unaligned or outside the file", i, off)
			continue
		}
		use(int64(off), cs, "refcount block")
		if i*perBlock >= n {
			continue
		}
		if _, err := im.r.ReadAt(block, int64(off)); err != nil {
			return res, corrupt("reading refcount block at %#x: %v", off, err)
		}
		for j := int64(0); j < perBlock && i*perBlock+j < n; j++ {
			stored[i*perBlock+j] = readBits(block, j, bits)
		}
	}

	// Mapping tables.
	for i, off := range im.l1 {
		if off == 0 {
			continue
		}
		use(int64(off), cs, "L2 table")
		t, err := im.l2(int64(i))
		if err != nil {
			return res, err
		}
		for _, e := range t {
			switch {
			case e&flagCompressed != 0:
				o, l := im.compressedSpan(e)
				use(o&^511, l+o&511, "compressed cluster")
			case e&l2OffsetMask != 0:
				use(int64(e&l2OffsetMask), cs, "data cluster")
			}
		}
	}

	for c := int64(0); c < n; c++ {
		w, s := uint64(want[c]), stored[c]
		switch {
		case w > maxRef:
			res.Corruptions++
			res.note("refcount overflow: cluster %d is used %d times, %d-bit refcounts hold at most %d", c, w, bits, maxRef)
		case s < w:
			res.Corruptions++
			res.note("cluster %d: refcount %d, used %d times", c, s, w)
		case s > w && !res.SnapshotsSkipped:
			res.Leaks++
			res.note("cluster %d: refcount %d, used %d times (leak)", c, s, w)
		}
	}
	return res, nil
}

func readBits(b []byte, j, bits int64) uint64 {
	switch bits {
	case 64:
		return binary.BigEndian.Uint64(b[8*j:])
	case 32:
		return uint64(binary.BigEndian.Uint32(b[4*j:]))
	case 16:
		return uint64(binary.BigEndian.Uint16(b[2*j:]))
	case 8:
		return uint64(b[j])
	}
	// 1, 2 or 4 bits per entry; qemu packs them from the low bits.
	per := 8 / bits
	return uint64(b[j/per]>>(uint(j%per)*uint(bits))) & (1<<bits - 1)
}
