package ext4

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"
)

// Stats counts what Normalize looked at and changed.
type Stats struct {
	Groups         int // block groups whose inode tables were scanned
	InodesInUse    int // inodes marked in use in the inode bitmaps
	InodesChanged  int // inodes rewritten (a time clamped, checksum redone)
	TimesClamped   int // individual inode time fields clamped
	SuperblocksSet int // superblocks (primary and backups) rewritten
}

// normalizeChunk is how many bytes of inode table Normalize reads at once.
const normalizeChunk = 1 << 20

// Inode time fields: the 32-bit seconds and, when inside i_extra_isize, the
// *_extra word holding the epoch bits (bits 0-1, seconds bits 32-33) and
// nanoseconds (bits 2-31).
var inodeTimes = [...]struct {
	name       string
	sec, extra int
}{
	{"atime", 0x08, 0x8C},
	{"ctime", 0x0C, 0x84},
	{"mtime", 0x10, 0x88},
	{"crtime", 0x90, 0x94},
}

// Superblock times: 32-bit low part and the 8-bit _hi byte. always says
// whether the field is set even when it is zero.
var superTimes = [...]struct {
	name   string
	lo, hi int
	always bool
}{
	{"s_mtime", 0x2C, 0x275, false},
	{"s_wtime", 0x30, 0x274, true},
	{"s_lastcheck", 0x40, 0x277, true},
	{"s_mkfs_time", 0x108, 0x276, true},
	{"s_first_error_time", 0x198, 0x278, false},
	{"s_last_error_time", 0x1CC, 0x279, false},
}

// Normalize makes the ext4 file system at byte off of f independent of when
// its staging files were created: every time of every in-use inode (atime,
// ctime, mtime, crtime, with their nanosecond and epoch bits) later than
// clamp becomes clamp with zero nanoseconds, earlier times stay; the
// superblock times (s_wtime, s_lastcheck, s_mkfs_time, and s_mtime and the
// error times when they are set) of the primary superblock and its backups
// become clamp. The inode and superblock checksums are recomputed
// (metadata_csum). Existing checksums are verified first, so a corrupt
// image is refused rather than blessed. Sub-second parts of clamp are
// dropped.
//
// Only inodes are touched: group descriptors, bitmaps and their checksums
// do not depend on inode contents. The file system must be clean (as
// mke2fs leaves it) and use only the features listed in the package doc.
func Normalize(f ReadWriterAt, off int64, clamp time.Time) (Stats, error) {
	var st Stats
	s, err := Info(f, off)
	if err != nil {
		return st, err
	}
	if err := s.checkFeatures("normalize"); err != nil {
		return st, err
	}
	if s.State&0x3 != 0x1 {
		return st, fmt.Errorf("%w: normalize: superblock s_state 0x%x is not clean (run e2fsck first)", ErrUnsupported, s.State)
	}
	c := clamp.Unix()
	// Inode times (34-bit, signed base) reach 1901..2446; superblock times
	// (40-bit unsigned) start at 1970.
	if c < 0 || c > math.MaxInt32+3<<32 {
		return st, fmt.Errorf("ext4: normalize: clamp time %v outside the range ext4 can store", clamp)
	}
	bs := int64(s.BlockSize)
	isz := s.InodeSize
	bitmap := make([]byte, bs)
	chunk := max(1, normalizeChunk/isz) // inodes read at a time
	table := make([]byte, chunk*isz)
	for g := uint32(0); g < s.Groups; g++ {
		gd, err := s.readGroupDesc(f, off, g)
		if err != nil {
			return st, err
		}
		if s.groupCsum() && gd.flags&bgInodeUninit != 0 {
			continue // no inode of this group was ever used
		}
		used := s.InodesPerGroup
		if s.groupCsum() {
			used -= gd.itableUnuse
		}
		if err := readFull(f, bitmap, off+int64(gd.inodeBitmap)*bs, fmt.Sprintf("group %d inode bitmap", g)); err != nil {
			return st, err
		}
		st.Groups++
		last := -1
		for i := 0; i < int(s.InodesPerGroup); i++ {
			if bitmap[i/8]&(1<<(i%8)) == 0 {
				continue
			}
			if i >= int(used) {
				return st, corrupt("group %d: inode bitmap marks inode %d in use beyond bg_itable_unused (%d used)", g, g*s.InodesPerGroup+uint32(i)+1, used)
			}
			last = i
		}
		if last < 0 {
			continue
		}
		tpos := off + int64(gd.inodeTable)*bs
		for first := 0; first <= last; first += chunk {
			end := min(first+chunk, last+1)
			table = table[:(end-first)*isz]
			if err := readFull(f, table, tpos+int64(first*isz), fmt.Sprintf("group %d inode table", g)); err != nil {
				return st, err
			}
			lo, hi := -1, -1
			for i := first; i < end; i++ {
				if bitmap[i/8]&(1<<(i%8)) == 0 {
					continue
				}
				st.InodesInUse++
				ino := g*s.InodesPerGroup + uint32(i) + 1
				raw := table[(i-first)*isz : (i-first+1)*isz]
				changed, err := s.normalizeInode(ino, raw, c)
				if err != nil {
					return st, err
				}
				if changed == 0 {
					continue
				}
				st.TimesClamped += changed
				st.InodesChanged++
				if lo < 0 {
					lo = i - first
				}
				hi = i - first
			}
			if lo >= 0 {
				if _, err := f.WriteAt(table[lo*isz:(hi+1)*isz], tpos+int64((first+lo)*isz)); err != nil {
					return st, fmt.Errorf("ext4: writing group %d inode table: %w", g, err)
				}
			}
		}
	}
	n, err := s.setSuperTimes(f, off, c)
	st.SuperblocksSet = n
	return st, err
}

// normalizeInode verifies one in-use inode, clamps its times and redoes
// its checksum; it returns how many times it changed.
func (s *Super) normalizeInode(ino uint32, raw []byte, c int64) (int, error) {
	if allZero(raw) {
		return 0, nil // unused reserved inode as mke2fs leaves it
	}
	if err := s.verifyInode(ino, raw); err != nil {
		return 0, err
	}
	n, err := clampInode(ino, raw, c)
	if err != nil || n == 0 {
		return 0, err
	}
	if s.metadataCsum() {
		sum, hiPresent := s.inodeChecksum(ino, raw)
		binary.LittleEndian.PutUint16(raw[0x7C:], uint16(sum))
		if hiPresent {
			binary.LittleEndian.PutUint16(raw[0x82:], uint16(sum>>16))
		}
	}
	return n, nil
}

// clampInode clamps the times of one inode in place and returns how many
// it changed.
func clampInode(ino uint32, raw []byte, c int64) (int, error) {
	changed := 0
	for _, t := range inodeTimes {
		if t.sec+4 > len(raw) || (t.sec >= goodOldInode && !inodeFits(raw, t.sec, 4)) {
			continue
		}
		hasExtra := inodeFits(raw, t.extra, 4)
		sec := int64(int32(le32(raw, t.sec)))
		var nsec uint32
		if hasExtra {
			x := le32(raw, t.extra)
			sec += int64(x&3) << 32
			nsec = x >> 2
		}
		if sec < c || (sec == c && nsec == 0) {
			continue
		}
		if hasExtra {
			binary.LittleEndian.PutUint32(raw[t.extra:], uint32((c-int64(int32(c)))>>32)&3)
		} else if c > math.MaxInt32 {
			return 0, fmt.Errorf("ext4: normalize: inode %d has no room for %s after 2038 (clamp %d)", ino, t.name, c)
		}
		binary.LittleEndian.PutUint32(raw[t.sec:], uint32(c))
		changed++
	}
	return changed, nil
}

// backupGroups lists the groups holding a superblock backup.
func (s *Super) backupGroups() []uint32 {
	var out []uint32
	switch {
	case s.FeatureCompat&compatSparseSuper2 != 0:
		for _, o := range []int{0x24C, 0x250} {
			if g := le32(s.raw, o); g != 0 && g < s.Groups {
				out = append(out, g)
			}
		}
	case s.FeatureROCompat&roSparseSuper != 0:
		out = append(out, 1)
		for _, base := range []uint64{3, 5, 7} {
			for p := base; p < uint64(s.Groups); p *= base {
				out = append(out, uint32(p))
			}
		}
	default:
		for g := uint32(1); g < s.Groups; g++ {
			out = append(out, g)
		}
	}
	return out
}

// setSuperTimes sets the times of the primary superblock and of every
// backup that is recognisably one, and returns how many it wrote.
func (s *Super) setSuperTimes(f ReadWriterAt, off int64, c int64) (int, error) {
	written := 0
	patch := func(b []byte, pos int64, what string) error {
		for _, t := range superTimes {
			if !t.always && le32(b, t.lo) == 0 && b[t.hi] == 0 {
				continue
			}
			binary.LittleEndian.PutUint32(b[t.lo:], uint32(c))
			b[t.hi] = byte(c >> 32) // the _hi bytes extend the times unsigned
		}
		if s.metadataCsum() {
			binary.LittleEndian.PutUint32(b[0x3FC:], crc32c(^uint32(0), b[:0x3FC]))
		}
		if _, err := f.WriteAt(b, pos); err != nil {
			return fmt.Errorf("ext4: writing %s: %w", what, err)
		}
		written++
		return nil
	}
	primary := append([]byte(nil), s.raw...)
	if err := patch(primary, off+superOffset, "primary superblock"); err != nil {
		return written, err
	}
	bs := int64(s.BlockSize)
	b := make([]byte, superSize)
	for _, g := range s.backupGroups() {
		pos := off + (int64(g)*int64(s.BlocksPerGroup)+int64(s.FirstDataBlock))*bs
		what := fmt.Sprintf("group %d backup superblock", g)
		if err := readFull(f, b, pos, what); err != nil {
			return written, err
		}
		if le16(b, 0x38) != superMagic || le16(b, 0x5A) != uint16(g) {
			continue // not a backup (e.g. meta data moved); leave it
		}
		if s.metadataCsum() {
			if got, want := le32(b, 0x3FC), crc32c(^uint32(0), b[:0x3FC]); got != want {
				return written, corrupt("%s at byte %d: checksum 0x%08x, computed 0x%08x", what, pos, got, want)
			}
		}
		if err := patch(b, pos, what); err != nil {
			return written, err
		}
	}
	return written, nil
}
