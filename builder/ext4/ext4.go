// Package ext4 reads and patches the ext4 file systems that
// `mke2fs -t ext4 -d <staging dir>` (e2fsprogs 1.47) writes, so that the image
// builder can make reproducible root file systems and find the blocks of
// files it has to point a boot loader at.
//
// Why: mke2fs -d sorts directory entries, honours -U and -E hash_seed= for
// the UUID and the htree hash seed, and takes the superblock times and the
// times of the inodes it creates itself (root, lost+found, journal, resize
// inode) from E2FSPROGS_FAKE_TIME. But every inode it copies from the
// staging directory gets its atime, ctime and mtime from stat(2) of the
// staging file, and ctime there is "when the builder created the file",
// i.e. now. e2fsprogs 1.47.0 has no SOURCE_DATE_EPOCH support, so two builds
// of the same inputs differ in those inode times and hence in the inode
// checksums. [Normalize] fixes that after the fact: it clamps every in-use
// inode's times to a given instant (SOURCE_DATE_EPOCH), sets the superblock
// times to it and recomputes the metadata_csum checksums it touches. The
// jbd2 journal superblock carries no timestamp, so the journal is left
// alone.
//
// [Lookup] resolves a path to its inode and extent list without following
// symlinks; the builder uses it to find where /boot's kernel and initrd lie
// on the disk for the s390x boot map. [Info] reports the superblock.
//
// All three take the byte offset of the file system inside the file (a
// partition inside a raw disk image). Images may come from users, so the
// parsers bounds-check every field, cap every loop and return errors naming
// the offending offset or field; they never panic. Only the feature set
// mke2fs 1.47 uses for ext4 (plus a few that do not change the on-disk
// structures read here) is accepted; anything else is refused with an error
// naming the feature rather than guessed at.
package ext4

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"strings"
)

// ReadWriterAt is what Normalize patches: a file, or anything like it.
type ReadWriterAt interface {
	io.ReaderAt
	io.WriterAt
}

// ErrCorrupt is wrapped by every error about malformed on-disk data.
var ErrCorrupt = errors.New("ext4: corrupt or unsupported file system")

// ErrUnsupported is wrapped by errors refusing a feature this package does
// not handle.
var ErrUnsupported = errors.New("ext4: unsupported feature")

const (
	superOffset    = 1024
	superSize      = 1024
	superMagic     = 0xEF53
	goodOldInode   = 128
	rootIno        = 2
	maxBlockLog    = 6 // 64 KiB blocks
	maxExtentDepth = 5
)

// Feature bits (s_feature_compat, s_feature_incompat, s_feature_ro_compat).
const (
	compatHasJournal    = 0x4
	compatExtAttr       = 0x8
	compatResizeInode   = 0x10
	compatDirIndex      = 0x20
	compatSparseSuper2  = 0x200
	compatFastCommit    = 0x400
	compatStableInodes  = 0x800
	compatOrphanFile    = 0x1000
	incompatFiletype    = 0x2
	incompatRecover     = 0x4
	incompatExtents     = 0x40
	incompat64bit       = 0x80
	incompatFlexBG      = 0x200
	incompatCsumSeed    = 0x2000
	incompatLargeDir    = 0x4000
	incompatInlineData  = 0x8000
	roSparseSuper       = 0x1
	roLargeFile         = 0x2
	roHugeFile          = 0x8
	roGdtCsum           = 0x10
	roDirNlink          = 0x20
	roExtraIsize        = 0x40
	roQuota             = 0x100
	roMetadataCsum      = 0x400
	roReadonly          = 0x1000
	roProject           = 0x2000
	roVerity            = 0x8000
	roOrphanPresent     = 0x10000
	supportedCompat     = compatHasJournal | compatExtAttr | compatResizeInode | compatDirIndex | compatSparseSuper2 | compatFastCommit | compatStableInodes | compatOrphanFile
	supportedIncompat   = incompatFiletype | incompatExtents | incompat64bit | incompatFlexBG | incompatCsumSeed | incompatLargeDir
	supportedROCompat   = roSparseSuper | roLargeFile | roHugeFile | roGdtCsum | roDirNlink | roExtraIsize | roQuota | roMetadataCsum | roReadonly | roProject | roVerity | roOrphanPresent
	bgInodeUninit       = 0x1
	inodeFlagExtents    = 0x80000
	inodeFlagInlineData = 0x10000000
)

var compatNames = map[uint32]string{
	0x1: "dir_prealloc", 0x2: "imagic_inodes", 0x4: "has_journal", 0x8: "ext_attr",
	0x10: "resize_inode", 0x20: "dir_index", 0x40: "lazy_bg", 0x80: "snapshot_bitmap",
	0x100: "exclude_bitmap", 0x200: "sparse_super2", 0x400: "fast_commit",
	0x800: "stable_inodes", 0x1000: "orphan_file",
}

var incompatNames = map[uint32]string{
	0x1: "compression", 0x2: "filetype", 0x4: "needs_recovery", 0x8: "journal_dev",
	0x10: "meta_bg", 0x40: "extent", 0x80: "64bit", 0x100: "mmp", 0x200: "flex_bg",
	0x400: "ea_inode", 0x1000: "dirdata", 0x2000: "metadata_csum_seed",
	0x4000: "large_dir", 0x8000: "inline_data", 0x10000: "encrypt", 0x20000: "casefold",
}

var roCompatNames = map[uint32]string{
	0x1: "sparse_super", 0x2: "large_file", 0x4: "btree_dir", 0x8: "huge_file",
	0x10: "uninit_bg", 0x20: "dir_nlink", 0x40: "extra_isize", 0x80: "has_snapshot",
	0x100: "quota", 0x200: "bigalloc", 0x400: "metadata_csum", 0x800: "replica",
	0x1000: "read-only", 0x2000: "project", 0x4000: "shared_blocks", 0x8000: "verity",
	0x10000: "orphan_present",
}

// Super is what this package reads from the primary superblock.
type Super struct {
	BlockSize       int
	BlocksCount     uint64
	InodesCount     uint32
	BlocksPerGroup  uint32
	InodesPerGroup  uint32
	FirstDataBlock  uint32
	FirstIno        uint32
	Groups          uint32
	InodeSize       int
	DescSize        int // group descriptor size: 32, or s_desc_size with 64bit
	UUID            [16]byte
	Label           string
	State           uint16
	FeatureCompat   uint32
	FeatureIncompat uint32
	FeatureROCompat uint32
	// Features names every set feature bit as mke2fs/dumpe2fs spell them
	// (unknown bits as e.g. "incompat_0x800").
	Features []string
	// CsumSeed is the seed of every metadata_csum checksum: crc32c of the
	// UUID, or s_checksum_seed with metadata_csum_seed.
	CsumSeed uint32

	raw []byte // the 1024 superblock bytes
}

// UUIDString formats the file system UUID the usual way.
func (s *Super) UUIDString() string {
	u := s.UUID
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// HasFeature reports whether the named feature (dumpe2fs spelling) is set.
func (s *Super) HasFeature(name string) bool {
	for _, f := range s.Features {
		if f == name {
			return true
		}
	}
	return false
}

func (s *Super) metadataCsum() bool { return s.FeatureROCompat&roMetadataCsum != 0 }
func (s *Super) groupCsum() bool {
	return s.FeatureROCompat&(roMetadataCsum|roGdtCsum) != 0
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// crc32c is ext4's ext4_chksum / e2fsprogs' ext2fs_crc32c_le: the raw
// Castagnoli CRC register update, with neither the initial nor the final
// inversion that hash/crc32 applies. Hence the two complements.
func crc32c(seed uint32, p []byte) uint32 {
	return ^crc32.Update(^seed, castagnoli, p)
}

func le16(b []byte, o int) uint16 { return binary.LittleEndian.Uint16(b[o:]) }
func le32(b []byte, o int) uint32 { return binary.LittleEndian.Uint32(b[o:]) }

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

// readFull reads exactly len(p) bytes at off, naming what it reads.
func readFull(r io.ReaderAt, p []byte, off int64, what string) error {
	if off < 0 {
		return corrupt("%s at negative offset %d", what, off)
	}
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: %s at byte %d: short read (%d of %d bytes): image truncated", ErrCorrupt, what, off, n, len(p))
	}
	return fmt.Errorf("ext4: reading %s at byte %d: %w", what, off, err)
}

// sizeOf returns the size of r when it can tell, else -1.
func sizeOf(r io.ReaderAt) int64 {
	switch v := r.(type) {
	case interface{ Size() int64 }:
		return v.Size()
	case *os.File:
		if fi, err := v.Stat(); err == nil && fi.Mode().IsRegular() {
			return fi.Size()
		}
	}
	return -1
}

// Info reads and validates the primary superblock of the ext4 file system
// starting at byte off of r. It verifies the superblock checksum when
// metadata_csum is set but does not refuse any feature.
func Info(r io.ReaderAt, off int64) (Super, error) {
	var s Super
	if off < 0 {
		return s, fmt.Errorf("ext4: negative offset %d", off)
	}
	raw := make([]byte, superSize)
	if err := readFull(r, raw, off+superOffset, "superblock"); err != nil {
		return s, err
	}
	if m := le16(raw, 0x38); m != superMagic {
		return s, corrupt("superblock at byte %d: magic 0x%04x, want 0x%04x (not ext2/3/4)", off+superOffset, m, superMagic)
	}
	if rev := le32(raw, 0x4C); rev != 1 {
		return s, corrupt("superblock s_rev_level %d: only dynamic (1) supported", rev)
	}
	s.raw = raw
	s.FeatureCompat = le32(raw, 0x5C)
	s.FeatureIncompat = le32(raw, 0x60)
	s.FeatureROCompat = le32(raw, 0x64)
	s.Features = featureNames(s.FeatureCompat, s.FeatureIncompat, s.FeatureROCompat)
	if s.metadataCsum() {
		if t := raw[0x175]; t != 1 {
			return s, corrupt("superblock s_checksum_type %d, want 1 (crc32c)", t)
		}
		if got, want := le32(raw, 0x3FC), crc32c(^uint32(0), raw[:0x3FC]); got != want {
			return s, corrupt("superblock checksum 0x%08x, computed 0x%08x", got, want)
		}
	}
	logBS := le32(raw, 0x18)
	if logBS > maxBlockLog {
		return s, corrupt("superblock s_log_block_size %d (block size over 64 KiB)", logBS)
	}
	s.BlockSize = 1024 << logBS
	s.InodesCount = le32(raw, 0x0)
	s.BlocksCount = uint64(le32(raw, 0x4))
	if s.FeatureIncompat&incompat64bit != 0 {
		s.BlocksCount |= uint64(le32(raw, 0x150)) << 32
	}
	s.FirstDataBlock = le32(raw, 0x14)
	s.BlocksPerGroup = le32(raw, 0x20)
	s.InodesPerGroup = le32(raw, 0x28)
	s.State = le16(raw, 0x3A)
	s.FirstIno = le32(raw, 0x54)
	s.InodeSize = int(le16(raw, 0x58))
	copy(s.UUID[:], raw[0x68:0x78])
	label := raw[0x78:0x88]
	if i := strings.IndexByte(string(label), 0); i >= 0 {
		label = label[:i]
	}
	s.Label = string(label)

	bs := uint64(s.BlockSize)
	wantFirst := uint32(0)
	if s.BlockSize == 1024 {
		wantFirst = 1
	}
	switch {
	case s.FirstDataBlock != wantFirst:
		return s, corrupt("superblock s_first_data_block %d, want %d for %d-byte blocks", s.FirstDataBlock, wantFirst, s.BlockSize)
	case s.BlocksPerGroup == 0 || s.BlocksPerGroup%8 != 0 || uint64(s.BlocksPerGroup) > 8*bs:
		return s, corrupt("superblock s_blocks_per_group %d", s.BlocksPerGroup)
	case s.InodesPerGroup == 0 || s.InodesPerGroup%8 != 0 || uint64(s.InodesPerGroup) > 8*bs:
		return s, corrupt("superblock s_inodes_per_group %d", s.InodesPerGroup)
	case s.InodeSize < goodOldInode || s.InodeSize > s.BlockSize || s.InodeSize&(s.InodeSize-1) != 0:
		return s, corrupt("superblock s_inode_size %d", s.InodeSize)
	case s.BlocksCount <= uint64(s.FirstDataBlock):
		return s, corrupt("superblock blocks count %d", s.BlocksCount)
	case s.BlocksCount > (1<<62)/bs:
		return s, corrupt("superblock blocks count %d too large", s.BlocksCount)
	case s.FirstIno <= rootIno:
		return s, corrupt("superblock s_first_ino %d", s.FirstIno)
	}
	groups := (s.BlocksCount - uint64(s.FirstDataBlock) + uint64(s.BlocksPerGroup) - 1) / uint64(s.BlocksPerGroup)
	if groups > 1<<32-1 || groups*uint64(s.InodesPerGroup) != uint64(s.InodesCount) {
		return s, corrupt("superblock: %d groups of %d inodes do not make s_inodes_count %d", groups, s.InodesPerGroup, s.InodesCount)
	}
	s.Groups = uint32(groups)
	if s.FirstIno > s.InodesCount {
		return s, corrupt("superblock s_first_ino %d beyond s_inodes_count %d", s.FirstIno, s.InodesCount)
	}
	s.DescSize = 32
	if s.FeatureIncompat&incompat64bit != 0 {
		ds := int(le16(raw, 0xFE))
		if ds < 64 || ds > s.BlockSize || ds&(ds-1) != 0 {
			return s, corrupt("superblock s_desc_size %d", ds)
		}
		s.DescSize = ds
	}
	// The group descriptor table follows the superblock's block; it must fit
	// in the first group.
	gdtBlocks := (groups*uint64(s.DescSize) + bs - 1) / bs
	if gdtBlocks >= uint64(s.BlocksPerGroup) {
		return s, corrupt("group descriptor table of %d blocks does not fit in a group of %d blocks", gdtBlocks, s.BlocksPerGroup)
	}
	if size := sizeOf(r); size >= 0 && (off > size || s.BlocksCount > uint64(size-off)/bs) {
		return s, corrupt("file system of %d %d-byte blocks at byte %d extends past the end of the %d-byte image", s.BlocksCount, s.BlockSize, off, size)
	}
	if s.FeatureIncompat&incompatCsumSeed != 0 {
		s.CsumSeed = le32(raw, 0x270)
	} else {
		s.CsumSeed = crc32c(^uint32(0), s.UUID[:])
	}
	return s, nil
}

func featureNames(compat, incompat, ro uint32) []string {
	var out []string
	add := func(set uint32, names map[uint32]string, kind string) {
		for bit := uint32(1); bit != 0; bit <<= 1 {
			if set&bit == 0 {
				continue
			}
			if n, ok := names[bit]; ok {
				out = append(out, n)
			} else {
				out = append(out, fmt.Sprintf("%s_0x%x", kind, bit))
			}
		}
	}
	add(compat, compatNames, "compat")
	add(incompat, incompatNames, "incompat")
	add(ro, roCompatNames, "ro_compat")
	return out
}

// checkFeatures refuses file systems with features this package does not
// handle, naming them.
func (s *Super) checkFeatures(op string) error {
	if s.FeatureIncompat&incompatRecover != 0 {
		return fmt.Errorf("%w: %s: needs_recovery is set (the journal holds unreplayed transactions; run e2fsck first)", ErrUnsupported, op)
	}
	bad := featureNames(s.FeatureCompat&^supportedCompat, s.FeatureIncompat&^supportedIncompat, s.FeatureROCompat&^supportedROCompat)
	if len(bad) > 0 {
		return fmt.Errorf("%w: %s: file system has %s, which this package does not handle", ErrUnsupported, op, strings.Join(bad, ", "))
	}
	return nil
}

// groupDesc is the part of a group descriptor this package uses.
type groupDesc struct {
	inodeBitmap uint64
	inodeTable  uint64
	flags       uint16
	itableUnuse uint32
}

// readGroupDesc reads and (with metadata_csum) verifies descriptor g.
func (s *Super) readGroupDesc(r io.ReaderAt, off int64, g uint32) (groupDesc, error) {
	var gd groupDesc
	if g >= s.Groups {
		return gd, corrupt("group %d out of range (%d groups)", g, s.Groups)
	}
	b := make([]byte, s.DescSize)
	pos := off + int64(s.FirstDataBlock+1)*int64(s.BlockSize) + int64(g)*int64(s.DescSize)
	if err := readFull(r, b, pos, fmt.Sprintf("group descriptor %d", g)); err != nil {
		return gd, err
	}
	gd.inodeBitmap = uint64(le32(b, 0x4))
	gd.inodeTable = uint64(le32(b, 0x8))
	gd.flags = le16(b, 0x12)
	gd.itableUnuse = uint32(le16(b, 0x1C))
	if s.DescSize >= 64 {
		gd.inodeBitmap |= uint64(le32(b, 0x24)) << 32
		gd.inodeTable |= uint64(le32(b, 0x28)) << 32
		gd.itableUnuse |= uint32(le16(b, 0x32)) << 16
	}
	if s.metadataCsum() {
		var gb [4]byte
		binary.LittleEndian.PutUint32(gb[:], g)
		stored := le16(b, 0x1E)
		b[0x1E], b[0x1F] = 0, 0
		c := crc32c(crc32c(s.CsumSeed, gb[:]), b)
		if uint16(c) != stored {
			return gd, corrupt("group descriptor %d at byte %d: checksum 0x%04x, computed 0x%04x", g, pos, stored, uint16(c))
		}
	}
	itBlocks := (uint64(s.InodesPerGroup)*uint64(s.InodeSize) + uint64(s.BlockSize) - 1) / uint64(s.BlockSize)
	switch {
	case gd.inodeBitmap < uint64(s.FirstDataBlock) || gd.inodeBitmap >= s.BlocksCount:
		return gd, corrupt("group descriptor %d: inode bitmap block %d outside the file system", g, gd.inodeBitmap)
	case gd.inodeTable < uint64(s.FirstDataBlock) || gd.inodeTable > s.BlocksCount || s.BlocksCount-gd.inodeTable < itBlocks:
		return gd, corrupt("group descriptor %d: inode table at block %d (%d blocks) outside the file system", g, gd.inodeTable, itBlocks)
	case s.groupCsum() && gd.itableUnuse > s.InodesPerGroup:
		return gd, corrupt("group descriptor %d: bg_itable_unused %d exceeds %d inodes per group", g, gd.itableUnuse, s.InodesPerGroup)
	}
	return gd, nil
}

// inodeChecksum computes the metadata_csum checksum of inode ino (raw is
// the whole on-disk inode, s.InodeSize bytes), treating the checksum
// fields as zero. hiPresent says whether i_checksum_hi is inside the
// inode's extra space.
func (s *Super) inodeChecksum(ino uint32, raw []byte) (sum uint32, hiPresent bool) {
	var nb [4]byte
	binary.LittleEndian.PutUint32(nb[:], ino)
	c := crc32c(s.CsumSeed, nb[:])
	c = crc32c(c, raw[0x64:0x68]) // i_generation
	var zero [2]byte
	c = crc32c(c, raw[:0x7C])
	c = crc32c(c, zero[:])
	c = crc32c(c, raw[0x7E:goodOldInode])
	if len(raw) > goodOldInode {
		hiPresent = inodeFits(raw, 0x82, 2)
		c = crc32c(c, raw[goodOldInode:0x82])
		if hiPresent {
			c = crc32c(c, zero[:])
		} else {
			c = crc32c(c, raw[0x82:0x84])
		}
		c = crc32c(c, raw[0x84:])
	}
	return c, hiPresent
}

// storedInodeChecksum returns the checksum stored in raw, and the mask of
// the bits it holds (16 or 32).
func storedInodeChecksum(raw []byte) (sum, mask uint32) {
	sum, mask = uint32(le16(raw, 0x7C)), 0xFFFF
	if len(raw) > goodOldInode && inodeFits(raw, 0x82, 2) {
		sum |= uint32(le16(raw, 0x82)) << 16
		mask = 0xFFFFFFFF
	}
	return sum, mask
}

// inodeFits reports whether the field at offset o of n bytes lies inside
// the inode's used extra space (i_extra_isize). Callers have validated
// i_extra_isize against the inode size.
func inodeFits(raw []byte, o, n int) bool {
	if len(raw) <= goodOldInode {
		return false
	}
	return o+n <= goodOldInode+int(le16(raw, 0x80)) && o+n <= len(raw)
}

// checkExtraIsize validates i_extra_isize of an in-use inode.
func (s *Super) checkExtraIsize(ino uint32, raw []byte) error {
	if len(raw) <= goodOldInode {
		return nil
	}
	if x := int(le16(raw, 0x80)); x > len(raw)-goodOldInode || x%4 != 0 {
		return corrupt("inode %d: i_extra_isize %d invalid for %d-byte inodes", ino, x, len(raw))
	}
	return nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// verifyInode checks an inode's metadata_csum checksum (all-zero inodes,
// which mke2fs leaves for unused reserved inodes, are accepted like
// e2fsprogs does).
func (s *Super) verifyInode(ino uint32, raw []byte) error {
	if err := s.checkExtraIsize(ino, raw); err != nil {
		return err
	}
	if !s.metadataCsum() || allZero(raw) {
		return nil
	}
	want, _ := s.inodeChecksum(ino, raw)
	got, mask := storedInodeChecksum(raw)
	if got != want&mask {
		return corrupt("inode %d: checksum 0x%08x, computed 0x%08x", ino, got, want&mask)
	}
	return nil
}

// readInode reads inode ino and verifies its checksum.
func (s *Super) readInode(r io.ReaderAt, off int64, ino uint32) ([]byte, error) {
	if ino == 0 || ino > s.InodesCount {
		return nil, corrupt("inode number %d out of range (1..%d)", ino, s.InodesCount)
	}
	g := (ino - 1) / s.InodesPerGroup
	idx := (ino - 1) % s.InodesPerGroup
	gd, err := s.readGroupDesc(r, off, g)
	if err != nil {
		return nil, err
	}
	raw := make([]byte, s.InodeSize)
	pos := off + int64(gd.inodeTable)*int64(s.BlockSize) + int64(idx)*int64(s.InodeSize)
	if err := readFull(r, raw, pos, fmt.Sprintf("inode %d", ino)); err != nil {
		return nil, err
	}
	if err := s.verifyInode(ino, raw); err != nil {
		return nil, err
	}
	return raw, nil
}
