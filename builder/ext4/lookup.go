package ext4

import (
	"encoding/binary"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Extent maps Len file blocks starting at file block Logical to file-system
// blocks starting at Physical (block numbers relative to the start of the
// file system, in units of File.BlockSize).
type Extent struct {
	Logical  uint64
	Physical uint64
	Len      uint32
	// Uninit marks an uninitialized (preallocated) extent: its blocks are
	// allocated but read as zeros.
	Uninit bool
}

// File is what Lookup reports about a path.
type File struct {
	Inode     uint32
	Size      int64
	Mode      uint16 // i_mode: type bits (S_IFMT) and permissions
	BlockSize int
	// Extents are sorted by Logical and do not overlap; file blocks they do
	// not cover are holes. Empty for fast symlinks and empty files.
	Extents []Extent
}

// File type bits of i_mode.
const (
	modeTypeMask = 0xF000
	modeDir      = 0x4000
	modeRegular  = 0x8000
	modeSymlink  = 0xA000
)

// IsDir and IsRegular test File.Mode.
func (f File) IsDir() bool     { return f.Mode&modeTypeMask == modeDir }
func (f File) IsRegular() bool { return f.Mode&modeTypeMask == modeRegular }

const (
	maxDirSize     = 1 << 31 // bytes a directory may span
	maxExtents     = 1 << 22 // extents collected for one inode
	maxExtentNodes = 1 << 16 // extent tree blocks read for one inode
	maxPathLength  = 4096
	maxComponents  = 256
)

// Lookup resolves the absolute path p in the ext4 file system at byte off of
// r, starting at the root inode and scanning every directory block (which
// covers both linear and htree directories: htree index blocks read as a
// single empty directory entry). It does not follow symlinks: a symlink
// anywhere in the path, including its last component, is an error naming
// that component. "." components are skipped; ".." is looked up like any
// name (it is an entry in every directory).
func Lookup(r io.ReaderAt, off int64, p string) (File, error) {
	s, err := Info(r, off)
	if err != nil {
		return File{}, err
	}
	if err := s.checkFeatures("lookup"); err != nil {
		return File{}, err
	}
	if !strings.HasPrefix(p, "/") {
		return File{}, fmt.Errorf("ext4: lookup %q: path is not absolute", p)
	}
	if len(p) > maxPathLength {
		return File{}, fmt.Errorf("ext4: lookup: path of %d bytes too long", len(p))
	}
	var comps []string
	for _, c := range strings.Split(p, "/") {
		if c != "" && c != "." {
			comps = append(comps, c)
		}
	}
	if len(comps) > maxComponents {
		return File{}, fmt.Errorf("ext4: lookup %q: more than %d components", p, maxComponents)
	}
	ino := uint32(rootIno)
	walked := "/"
	for i := 0; ; i++ {
		raw, err := s.readInode(r, off, ino)
		if err != nil {
			return File{}, fmt.Errorf("ext4: lookup %q at %q: %w", p, walked, err)
		}
		mode := le16(raw, 0)
		if mode&modeTypeMask == modeSymlink {
			return File{}, fmt.Errorf("ext4: lookup %q: %q is a symlink (inode %d); symlinks are not followed", p, walked, ino)
		}
		if i == len(comps) {
			f, err := s.fileOf(r, off, ino, raw)
			if err != nil {
				return File{}, fmt.Errorf("ext4: lookup %q: %w", p, err)
			}
			return f, nil
		}
		if mode&modeTypeMask != modeDir {
			return File{}, fmt.Errorf("ext4: lookup %q: %q (inode %d, mode 0%o) is not a directory", p, walked, ino, mode)
		}
		dir, err := s.fileOf(r, off, ino, raw)
		if err != nil {
			return File{}, fmt.Errorf("ext4: lookup %q at %q: %w", p, walked, err)
		}
		next, err := s.findEntry(r, off, dir, comps[i])
		if err != nil {
			return File{}, fmt.Errorf("ext4: lookup %q at %q: %w", p, walked, err)
		}
		if next == 0 {
			return File{}, fmt.Errorf("ext4: lookup %q: %q not found in %q", p, comps[i], walked)
		}
		ino = next
		walked = strings.TrimSuffix(walked, "/") + "/" + comps[i]
	}
}

// fileOf builds the File of an inode read by readInode.
func (s *Super) fileOf(r io.ReaderAt, off int64, ino uint32, raw []byte) (File, error) {
	f := File{
		Inode:     ino,
		Mode:      le16(raw, 0),
		BlockSize: s.BlockSize,
	}
	size := uint64(le32(raw, 0x4)) | uint64(le32(raw, 0x6C))<<32
	if size > 1<<62 {
		return f, corrupt("inode %d: size %d", ino, size)
	}
	f.Size = int64(size)
	flags := le32(raw, 0x20)
	if flags&inodeFlagInlineData != 0 {
		return f, fmt.Errorf("%w: inode %d stores its data inline (inline_data)", ErrUnsupported, ino)
	}
	if f.Mode&modeTypeMask == modeSymlink && flags&inodeFlagExtents == 0 && size < 60 {
		return f, nil // fast symlink: target in i_block
	}
	if flags&inodeFlagExtents == 0 {
		if allZero(raw[0x28:0x64]) {
			return f, nil // no blocks at all
		}
		return f, fmt.Errorf("%w: inode %d uses indirect block maps, not extents", ErrUnsupported, ino)
	}
	ext, err := s.extents(r, off, ino, raw[0x28:0x64])
	if err != nil {
		return f, err
	}
	f.Extents = ext
	return f, nil
}

// extents collects the leaf extents of the tree rooted in i_block.
func (s *Super) extents(r io.ReaderAt, off int64, ino uint32, root []byte) ([]Extent, error) {
	var out []Extent
	seen := map[uint64]bool{}
	var walk func(node []byte, where string, wantDepth int) error
	walk = func(node []byte, where string, wantDepth int) error {
		if len(node) < 12 {
			return corrupt("inode %d: extent node %s shorter than its header", ino, where)
		}
		if m := le16(node, 0); m != 0xF30A {
			return corrupt("inode %d: extent node %s: magic 0x%04x, want 0xf30a", ino, where, m)
		}
		entries, max, depth := int(le16(node, 2)), int(le16(node, 4)), int(le16(node, 6))
		if depth > maxExtentDepth || (wantDepth >= 0 && depth != wantDepth) {
			return corrupt("inode %d: extent node %s: depth %d (expected %d, at most %d)", ino, where, depth, wantDepth, maxExtentDepth)
		}
		if entries > max || 12+12*max > len(node) {
			return corrupt("inode %d: extent node %s: %d entries, room for %d in %d bytes", ino, where, entries, max, len(node))
		}
		for i := 0; i < entries; i++ {
			e := node[12+12*i : 24+12*i]
			if depth == 0 {
				l := uint32(le16(e, 4))
				uninit := false
				if l > 32768 {
					l -= 32768
					uninit = true
				}
				phys := uint64(le16(e, 6))<<32 | uint64(le32(e, 8))
				if l == 0 || phys < uint64(s.FirstDataBlock) || phys >= s.BlocksCount || uint64(l) > s.BlocksCount-phys {
					return corrupt("inode %d: extent node %s entry %d: blocks %d+%d outside the file system", ino, where, i, phys, l)
				}
				if len(out) >= maxExtents {
					return corrupt("inode %d: more than %d extents", ino, maxExtents)
				}
				out = append(out, Extent{Logical: uint64(le32(e, 0)), Physical: phys, Len: l, Uninit: uninit})
				continue
			}
			child := uint64(le16(e, 8))<<32 | uint64(le32(e, 4))
			if child < uint64(s.FirstDataBlock) || child >= s.BlocksCount {
				return corrupt("inode %d: extent node %s entry %d: child block %d outside the file system", ino, where, i, child)
			}
			if seen[child] || len(seen) >= maxExtentNodes {
				return corrupt("inode %d: extent node %s entry %d: block %d seen twice, or more than %d extent blocks", ino, where, i, child, maxExtentNodes)
			}
			seen[child] = true
			buf := make([]byte, s.BlockSize)
			if err := readFull(r, buf, off+int64(child)*int64(s.BlockSize), fmt.Sprintf("inode %d extent block %d", ino, child)); err != nil {
				return err
			}
			if err := walk(buf, fmt.Sprintf("in block %d", child), depth-1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(root, "in i_block", -1); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Logical < out[j].Logical })
	// Extents cannot share blocks (shared_blocks is refused), so a file
	// maps at most the file system's blocks; this also bounds directory
	// scans of hostile images.
	var total uint64
	for _, e := range out {
		total += uint64(e.Len)
	}
	if total > s.BlocksCount {
		return nil, corrupt("inode %d: extents map %d blocks, more than the file system's %d", ino, total, s.BlocksCount)
	}
	for i := 1; i < len(out); i++ {
		if p := out[i-1]; p.Logical+uint64(p.Len) > out[i].Logical {
			return nil, corrupt("inode %d: extents at file blocks %d+%d and %d overlap", ino, p.Logical, p.Len, out[i].Logical)
		}
	}
	return out, nil
}

// findEntry scans every block of directory dir for name and returns its
// inode number, or 0 when absent.
func (s *Super) findEntry(r io.ReaderAt, off int64, dir File, name string) (uint32, error) {
	if dir.Size > maxDirSize {
		return 0, corrupt("directory inode %d: size %d over %d", dir.Inode, dir.Size, maxDirSize)
	}
	bs := int64(s.BlockSize)
	nblocks := uint64((dir.Size + bs - 1) / bs)
	buf := make([]byte, bs)
	hasType := s.FeatureIncompat&incompatFiletype != 0
	for _, e := range dir.Extents {
		if e.Uninit {
			continue // reads as zeros: no entries
		}
		for i := uint64(0); i < uint64(e.Len) && e.Logical+i < nblocks; i++ {
			blk := e.Physical + i
			if err := readFull(r, buf, off+int64(blk)*bs, fmt.Sprintf("directory inode %d block %d", dir.Inode, blk)); err != nil {
				return 0, err
			}
			ino, err := scanDirBlock(buf, name, hasType)
			if err != nil {
				return 0, fmt.Errorf("directory inode %d, file block %d (fs block %d): %w", dir.Inode, e.Logical+i, blk, err)
			}
			if ino != 0 {
				return ino, nil
			}
		}
	}
	return 0, nil
}

// scanDirBlock looks for name among the linear directory entries of one
// block. htree index blocks and the metadata_csum tail are entries with
// inode 0 and are skipped.
func scanDirBlock(b []byte, name string, hasType bool) (uint32, error) {
	for pos := 0; pos < len(b); {
		if len(b)-pos < 8 {
			return 0, corrupt("entry at byte %d: %d bytes left, fewer than a header", pos, len(b)-pos)
		}
		ino := binary.LittleEndian.Uint32(b[pos:])
		recLen := int(binary.LittleEndian.Uint16(b[pos+4:]))
		if len(b) >= 65536 && (recLen == 0 || recLen == 65535) {
			recLen = 65536
		}
		nameLen := int(b[pos+6])
		if !hasType {
			nameLen |= int(b[pos+7]) << 8
		}
		if recLen < 8 || recLen%4 != 0 || recLen > len(b)-pos {
			return 0, corrupt("entry at byte %d: rec_len %d", pos, recLen)
		}
		if ino != 0 {
			if 8+nameLen > recLen {
				return 0, corrupt("entry at byte %d: name_len %d exceeds rec_len %d", pos, nameLen, recLen)
			}
			if nameLen == len(name) && string(b[pos+8:pos+8+nameLen]) == name {
				return ino, nil
			}
		}
		pos += recLen
	}
	return 0, nil
}
