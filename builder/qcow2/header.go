// Package qcow2 converts raw disk images to qcow2 (version 3 "compat 1.1",
// or version 2 "compat 0.10") and back, and inspects and checks qcow2 images.
//
// The writer is a one-shot converter, not a general qcow2 driver: it reads
// its source once, front to back, skipping holes (SEEK_DATA/SEEK_HOLE) and
// all-zero clusters, and appends data clusters to the output as it goes.
// Each L2 table is appended as soon as the source has moved past the 512 MiB
// (at 64 KiB clusters) it maps; the L1 table and the refcount structures go
// at the end, sized by a small fixed-point computation, and the header in
// cluster 0 is the last thing written. Nothing already written is rewritten,
// and memory stays at a few megabytes of buffers plus two bytes per host
// cluster of refcounts, whatever the image size. With compression each
// cluster is raw deflate with a 4 KiB window, qemu's zlib format
// (deflateInit2 with windowBits -12): klauspost/compress's window-limited
// encoder screens out incompressible clusters quickly, and our own lazy
// matcher (deflate.go) produces the final encoding, about as small as zlib's
// level 6. Clusters are compressed on all cores while the output stays
// byte-for-byte deterministic.
//
// The reader validates everything it follows: header fields, table offsets
// against the file size, every L2 entry before it is used, compressed
// cluster sizes. Hostile input yields an error wrapping ErrCorrupt or
// ErrUnsupported, never a panic or an allocation beyond the image's own
// tables (at most 32 MiB of L1, like qemu).
//
// Layout facts follow qemu's docs/interop/qcow2.txt.
package qcow2

import (
	"encoding/binary"
	"fmt"
)

const (
	magic = 0x514649fb // "QFI\xfb"

	// MinClusterBits and MaxClusterBits bound the cluster size: 512 bytes to
	// 2 MiB, as qemu.
	MinClusterBits = 9
	MaxClusterBits = 21
	// DefaultClusterBits gives qemu's default 64 KiB clusters.
	DefaultClusterBits = 16

	// maxL1Bytes is qemu's QCOW_MAX_L1_SIZE.
	maxL1Bytes = 32 << 20
	// maxRefcountTableBytes is qemu's QCOW_MAX_REFTABLE_SIZE.
	maxRefcountTableBytes = 8 << 20

	v2HeaderLen = 72
	v3HeaderLen = 104
	// ourV3HeaderLen includes the compression type byte and padding, as
	// qemu writes it.
	ourV3HeaderLen = 112

	l1OffsetMask    = 0x00fffffffffffe00
	l2OffsetMask    = 0x00fffffffffffe00
	flagCopied      = uint64(1) << 63
	flagCompressed  = uint64(1) << 62
	flagZero        = uint64(1)
	refTableOffMask = 0xfffffffffffffe00

	incompatDirty        = 1 << 0
	incompatCorrupt      = 1 << 1
	incompatExternalData = 1 << 2
	incompatCompression  = 1 << 3
	incompatExtendedL2   = 1 << 4
)

// Header is the qcow2 file header. Field names follow qcow2.txt.
type Header struct {
	Version               uint32
	BackingFileOffset     uint64
	BackingFileSize       uint32
	ClusterBits           uint32
	Size                  uint64 // virtual size in bytes
	CryptMethod           uint32
	L1Size                uint32 // entries
	L1TableOffset         uint64
	RefcountTableOffset   uint64
	RefcountTableClusters uint32
	NbSnapshots           uint32
	SnapshotsOffset       uint64
	IncompatibleFeatures  uint64
	CompatibleFeatures    uint64
	AutoclearFeatures     uint64
	RefcountOrder         uint32
	HeaderLength          uint32
	CompressionType       uint8
}

// ClusterSize returns 1 << ClusterBits.
func (h *Header) ClusterSize() int64 { return 1 << h.ClusterBits }

// Compat returns the qemu-img compat level name of the version.
func (h *Header) Compat() string {
	if h.Version == 2 {
		return "0.10"
	}
	return "1.1"
}

func (h *Header) marshal() []byte {
	n := v2HeaderLen
	if h.Version >= 3 {
		n = int(h.HeaderLength)
	}
	b := make([]byte, n+8) // + end-of-extensions marker
	be := binary.BigEndian
	be.PutUint32(b[0:], magic)
	be.PutUint32(b[4:], h.Version)
	be.PutUint64(b[8:], h.BackingFileOffset)
	be.PutUint32(b[16:], h.BackingFileSize)
	be.PutUint32(b[20:], h.ClusterBits)
	be.PutUint64(b[24:], h.Size)
	be.PutUint32(b[32:], h.CryptMethod)
	be.PutUint32(b[36:], h.L1Size)
	be.PutUint64(b[40:], h.L1TableOffset)
	be.PutUint64(b[48:], h.RefcountTableOffset)
	be.PutUint32(b[56:], h.RefcountTableClusters)
	be.PutUint32(b[60:], h.NbSnapshots)
	be.PutUint64(b[64:], h.SnapshotsOffset)
	if h.Version >= 3 {
		be.PutUint64(b[72:], h.IncompatibleFeatures)
		be.PutUint64(b[80:], h.CompatibleFeatures)
		be.PutUint64(b[88:], h.AutoclearFeatures)
		be.PutUint32(b[96:], h.RefcountOrder)
		be.PutUint32(b[100:], h.HeaderLength)
		if h.HeaderLength > 104 {
			b[104] = h.CompressionType
		}
	}
	return b
}

func corrupt(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, a...))
}

func unsupported(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrUnsupported, fmt.Sprintf(format, a...))
}

// parseHeaderPrefix checks magic, version and cluster size from the first
// bytes, before the rest of the first cluster is read.
func parseHeaderPrefix(b []byte) (uint32, error) {
	if len(b) < v2HeaderLen {
		return 0, corrupt("truncated header: %d bytes, need at least %d", len(b), v2HeaderLen)
	}
	be := binary.BigEndian
	if be.Uint32(b) != magic {
		return 0, corrupt("bad magic %#x, not a qcow2 image", be.Uint32(b))
	}
	if v := be.Uint32(b[4:]); v != 2 && v != 3 {
		return 0, unsupported("version %d (only 2 and 3 exist)", v)
	}
	bits := be.Uint32(b[20:])
	if bits < MinClusterBits || bits > MaxClusterBits {
		return 0, corrupt("cluster size 2^%d outside 512 bytes .. 2 MiB", bits)
	}
	return bits, nil
}

// parseHeader decodes and validates a header read from the first bytes of
// a file of fileSize bytes. b holds at most one cluster's worth.
func parseHeader(b []byte, fileSize int64) (*Header, error) {
	if len(b) < v2HeaderLen {
		return nil, corrupt("truncated header: %d bytes, need at least %d", len(b), v2HeaderLen)
	}
	be := binary.BigEndian
	if be.Uint32(b) != magic {
		return nil, corrupt("bad magic %#x, not a qcow2 image", be.Uint32(b))
	}
	h := &Header{
		Version:               be.Uint32(b[4:]),
		BackingFileOffset:     be.Uint64(b[8:]),
		BackingFileSize:       be.Uint32(b[16:]),
		ClusterBits:           be.Uint32(b[20:]),
		Size:                  be.Uint64(b[24:]),
		CryptMethod:           be.Uint32(b[32:]),
		L1Size:                be.Uint32(b[36:]),
		L1TableOffset:         be.Uint64(b[40:]),
		RefcountTableOffset:   be.Uint64(b[48:]),
		RefcountTableClusters: be.Uint32(b[56:]),
		NbSnapshots:           be.Uint32(b[60:]),
		SnapshotsOffset:       be.Uint64(b[64:]),
		RefcountOrder:         4,
		HeaderLength:          v2HeaderLen,
	}
	switch h.Version {
	case 2:
	case 3:
		if len(b) < v3HeaderLen {
			return nil, corrupt("truncated version 3 header: %d bytes, need %d", len(b), v3HeaderLen)
		}
		h.IncompatibleFeatures = be.Uint64(b[72:])
		h.CompatibleFeatures = be.Uint64(b[80:])
		h.AutoclearFeatures = be.Uint64(b[88:])
		h.RefcountOrder = be.Uint32(b[96:])
		h.HeaderLength = be.Uint32(b[100:])
		if h.HeaderLength < v3HeaderLen || h.HeaderLength%8 != 0 {
			return nil, corrupt("header length %d (want a multiple of 8, at least %d)", h.HeaderLength, v3HeaderLen)
		}
		if h.HeaderLength > 104 {
			if int(h.HeaderLength) > len(b) {
				return nil, corrupt("truncated header: length %d, only %d bytes available", h.HeaderLength, len(b))
			}
			h.CompressionType = b[104]
		}
	default:
		return nil, unsupported("version %d (only 2 and 3 exist)", h.Version)
	}
	if h.ClusterBits < MinClusterBits || h.ClusterBits > MaxClusterBits {
		return nil, corrupt("cluster size 2^%d outside 512 bytes .. 2 MiB", h.ClusterBits)
	}
	cs := h.ClusterSize()
	if int64(h.HeaderLength) > cs {
		return nil, corrupt("header length %d larger than a cluster", h.HeaderLength)
	}
	if h.CryptMethod != 0 {
		return nil, unsupported("encrypted image (crypt method %d)", h.CryptMethod)
	}
	if h.BackingFileOffset != 0 {
		return nil, unsupported("image has a backing file; convert it with qemu-img first")
	}
	if h.RefcountOrder > 6 {
		return nil, corrupt("refcount order %d: refcounts wider than 64 bits", h.RefcountOrder)
	}
	if h.Version == 2 && h.RefcountOrder != 4 {
		return nil, corrupt("version 2 image with refcount order %d", h.RefcountOrder)
	}
	if f := h.IncompatibleFeatures; f != 0 {
		switch {
		case f&incompatCorrupt != 0:
			return nil, corrupt("image is marked corrupt by qemu; repair it with qemu-img check -r all")
		case f&incompatExternalData != 0:
			return nil, unsupported("external data file")
		case f&incompatExtendedL2 != 0:
			return nil, unsupported("extended L2 entries (subclusters)")
		case f&incompatCompression != 0 && h.CompressionType != 0:
			return nil, unsupported("compression type %d (only zlib)", h.CompressionType)
		case f&^(incompatDirty|incompatCompression) != 0:
			return nil, unsupported("incompatible feature bits %#x", f)
		}
	}
	if h.Size > 1<<62 {
		return nil, corrupt("virtual size %d bytes is beyond any valid image", h.Size)
	}
	l2Entries := uint64(cs / 8)
	clusters := (h.Size + uint64(cs) - 1) / uint64(cs)
	needL1 := (clusters + l2Entries - 1) / l2Entries
	if needL1*8 > maxL1Bytes {
		return nil, corrupt("virtual size %d bytes needs an L1 table of %d entries, more than qemu's limit of %d", h.Size, needL1, maxL1Bytes/8)
	}
	if uint64(h.L1Size) < needL1 {
		return nil, corrupt("L1 table of %d entries is too small for virtual size %d (needs %d)", h.L1Size, h.Size, needL1)
	}
	if uint64(h.L1Size)*8 > maxL1Bytes {
		return nil, corrupt("L1 table of %d entries is larger than qemu's limit", h.L1Size)
	}
	if h.L1TableOffset%uint64(cs) != 0 {
		return nil, corrupt("L1 table offset %#x is not cluster aligned", h.L1TableOffset)
	}
	if h.L1Size > 0 && (h.L1TableOffset == 0 || h.L1TableOffset > uint64(fileSize) || uint64(h.L1Size)*8 > uint64(fileSize)-h.L1TableOffset) {
		return nil, corrupt("L1 table at %#x (%d entries) lies past the end of the %d-byte file", h.L1TableOffset, h.L1Size, fileSize)
	}
	if h.RefcountTableOffset%uint64(cs) != 0 || h.RefcountTableOffset == 0 {
		return nil, corrupt("refcount table offset %#x is zero or not cluster aligned", h.RefcountTableOffset)
	}
	rtBytes := uint64(h.RefcountTableClusters) * uint64(cs)
	if rtBytes == 0 || rtBytes > maxRefcountTableBytes {
		return nil, corrupt("refcount table of %d clusters (want 1 .. %d bytes)", h.RefcountTableClusters, maxRefcountTableBytes)
	}
	if h.RefcountTableOffset > uint64(fileSize) || rtBytes > uint64(fileSize)-h.RefcountTableOffset {
		return nil, corrupt("refcount table at %#x (%d clusters) lies past the end of the %d-byte file", h.RefcountTableOffset, h.RefcountTableClusters, fileSize)
	}
	// Header extensions: walk them to make sure they stay inside cluster 0.
	if h.Version >= 3 {
		off := uint64(h.HeaderLength)
		for {
			if off+8 > uint64(len(b)) {
				return nil, corrupt("header extensions run past the first cluster")
			}
			typ, n := be.Uint32(b[off:]), uint64(be.Uint32(b[off+4:]))
			if typ == 0 {
				break
			}
			if typ == 0x44415441 { // external data file name
				return nil, unsupported("external data file")
			}
			off += 8 + (n+7)&^7
			if off > uint64(len(b)) {
				return nil, corrupt("header extension %#x of %d bytes runs past the first cluster", typ, n)
			}
		}
	}
	return h, nil
}
