// Package vfat writes FAT16 file systems with VFAT long names in one
// sequential pass, the way nova's `mkfs -t vfat -n config-2` plus a copy of
// the tree would leave them.
//
// Why our own writer instead of github.com/diskfs/go-diskfs: go-diskfs
// formats FAT32 through random-access writes into an existing file, and at
// exactly 64 MiB (nova's config drive size) its FAT is two entries short
// (sectors per FAT 1008 where 1009 are needed), which fsck.fat rejects and
// mtools refuses to open. nova's mkfs.fat picks FAT16 at 64 MiB anyway. A
// FAT16 image of a small tree is simple to lay out in memory and stream:
// boot sector, two FATs, the fixed root directory, then directory and file
// clusters in order; the zero tail is either written or left as a hole.
//
// Geometry follows mkfs.fat 4.2 (dosfstools) for the same size: 512-byte
// sectors, 4 sectors per cluster up to 128 MiB (doubling above), 512 root
// entries, the FAT length rounded up to whole clusters, and the reserved
// area grown so the data region starts on a cluster boundary. The FAT length
// counts the two reserved FAT entries; leaving them out is exactly the
// go-diskfs bug, and TestFATCoversEveryCluster fails if that term goes.
package vfat

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/zguest/zguest/builder/fstree"
)

const (
	sectorSize  = 512
	rootEntries = 512
	dirEntSize  = 32
	// MinSize and MaxSize bound the volume sizes this FAT16 writer makes.
	MinSize = 16 << 20
	MaxSize = 2047 << 20
	// DefaultSize is nova's CONFIGDRIVESIZE_BYTES.
	DefaultSize = 64 << 20
	maxClusters = 65524 // FAT16 limit (mkfs.fat: MAX_CLUST_16)
	minClusters = 4085  // below this it would be FAT12
)

// ErrName is wrapped by errors about names a FAT directory cannot hold.
var ErrName = errors.New("name not representable on vfat")

// ErrNoSpace is wrapped when the tree does not fit the volume.
var ErrNoSpace = errors.New("tree does not fit the volume")

// Options control the file system.
type Options struct {
	Label      string // at most 11 bytes of printable ASCII, e.g. "config-2"
	Size       int64  // volume size in bytes, a multiple of 512; 0 means DefaultSize
	SourceDate time.Time
}

// Geometry is the computed layout of a FAT16 volume.
type Geometry struct {
	TotalSectors      uint32
	SectorsPerCluster uint32
	ReservedSectors   uint32
	FATSectors        uint32
	RootSectors       uint32
	Clusters          uint32 // data clusters, numbered 2..Clusters+1
}

// DataStart is the first sector of the data region.
func (g Geometry) DataStart() uint32 {
	return g.ReservedSectors + 2*g.FATSectors + g.RootSectors
}

// ComputeGeometry lays out a FAT16 volume of size bytes.
func ComputeGeometry(size int64) (Geometry, error) {
	if size < MinSize || size > MaxSize || size%sectorSize != 0 {
		return Geometry{}, fmt.Errorf("vfat: size %d must be a multiple of 512 between %d and %d", size, MinSize, MaxSize)
	}
	g := Geometry{TotalSectors: uint32(size / sectorSize), SectorsPerCluster: 4, RootSectors: rootEntries * dirEntSize / sectorSize}
	for int64(g.SectorsPerCluster)*(128<<20)/4 < size {
		g.SectorsPerCluster *= 2
	}
	align := func(v, a uint32) uint32 { return (v + a - 1) / a * a }
	g.FATSectors = 1
	for range 64 {
		g.ReservedSectors = align(1+2*g.FATSectors+g.RootSectors, g.SectorsPerCluster) - 2*g.FATSectors - g.RootSectors
		g.Clusters = (g.TotalSectors - g.DataStart()) / g.SectorsPerCluster
		// Two reserved entries precede cluster 2.
		need := align((2*(g.Clusters+2)+sectorSize-1)/sectorSize, g.SectorsPerCluster)
		if need == g.FATSectors {
			break
		}
		g.FATSectors = need
	}
	if g.Clusters > maxClusters || g.Clusters < minClusters {
		return Geometry{}, fmt.Errorf("vfat: %d clusters is outside FAT16's range", g.Clusters)
	}
	return g, nil
}

type item struct {
	node    *fstree.Node
	parent  *item
	cluster uint32 // first cluster, 0 if none
	nclust  uint32
	entries []byte // directories: encoded entries
}

type layout struct {
	opt   Options
	g     Geometry
	root  *item
	order []*item // data clusters in order
	fat   []byte
	date  uint16
	time  uint16
}

// Write streams the whole volume, zero tail included, to w.
func Write(w io.Writer, t *fstree.Tree, opt Options) (int64, error) {
	l, err := plan(t, opt)
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	n, err := l.write(bw, true)
	if err == nil {
		err = bw.Flush()
	}
	return n, err
}

// WriteFile writes the volume to f, which must be empty, leaving the zero
// tail as a hole (the file is truncated to the full size).
func WriteFile(f *os.File, t *fstree.Tree, opt Options) (int64, error) {
	l, err := plan(t, opt)
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriterSize(f, 256<<10)
	if _, err := l.write(bw, false); err != nil {
		return 0, err
	}
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	size := int64(l.g.TotalSectors) * sectorSize
	return size, f.Truncate(size)
}

func dosDateTime(t time.Time) (date, tim uint16) {
	t = t.UTC()
	if t.Year() < 1980 {
		t = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if t.Year() > 2107 {
		t = time.Date(2107, 12, 31, 23, 59, 58, 0, time.UTC)
	}
	date = uint16(t.Year()-1980)<<9 | uint16(t.Month())<<5 | uint16(t.Day())
	tim = uint16(t.Hour())<<11 | uint16(t.Minute())<<5 | uint16(t.Second()/2)
	return date, tim
}

func checkLabel(label string) error {
	if len(label) > 11 {
		return fmt.Errorf("vfat: label %q is longer than 11 bytes", label)
	}
	for _, r := range label {
		if r < 0x20 || r > 0x7e || strings.ContainsRune(`"*+,./:;<=>?[\]|`, r) {
			return fmt.Errorf("vfat: label %q: character %q not allowed", label, r)
		}
	}
	return nil
}

func plan(t *fstree.Tree, opt Options) (*layout, error) {
	if opt.Size == 0 {
		opt.Size = DefaultSize
	}
	if err := checkLabel(opt.Label); err != nil {
		return nil, err
	}
	g, err := ComputeGeometry(opt.Size)
	if err != nil {
		return nil, err
	}
	t.Sort()
	l := &layout{opt: opt, g: g}
	l.date, l.time = dosDateTime(opt.SourceDate)
	clusterBytes := int64(g.SectorsPerCluster) * sectorSize
	next := uint32(2)
	alloc := func(it *item, bytes int64) error {
		if bytes == 0 {
			return nil
		}
		n := uint64((bytes + clusterBytes - 1) / clusterBytes)
		if uint64(next)+n > uint64(g.Clusters)+2 {
			return fmt.Errorf("vfat: %w: %s needs %d more clusters, %d of %d are left", ErrNoSpace,
				it.node.Name, n, g.Clusters+2-next, g.Clusters)
		}
		it.cluster, it.nclust = next, uint32(n)
		next += uint32(n)
		l.order = append(l.order, it)
		return nil
	}
	// First pass: directory sizes are known from names alone, so clusters
	// can be handed out in a depth-first walk.
	l.root = &item{node: &t.Root}
	l.root.parent = l.root
	var rec func(d *item) error
	children := map[*item][]*item{}
	rec = func(d *item) error {
		isRoot := d == l.root
		n := 0
		if isRoot {
			n = 1 // volume label
		} else {
			n = 2 // "." and ".."
		}
		used := map[string]bool{}
		var kids []*item
		for _, c := range d.node.Children {
			lfn, err := lfnEntries(c.Name)
			if err != nil {
				return err
			}
			upper := strings.ToUpper(c.Name)
			if used["L"+upper] {
				return fmt.Errorf("vfat: %w: %q differs from a sibling only in case", ErrName, c.Name)
			}
			used["L"+upper] = true
			n += lfn + 1
			kids = append(kids, &item{node: c, parent: d})
		}
		children[d] = kids
		size := int64(n) * dirEntSize
		if isRoot {
			if n > rootEntries {
				return fmt.Errorf("vfat: %w: the root directory holds %d entries, at most %d", ErrNoSpace, n, rootEntries)
			}
		} else if err := alloc(d, size); err != nil {
			return err
		}
		for _, k := range kids {
			if k.node.Dir {
				if err := rec(k); err != nil {
					return err
				}
			} else if err := alloc(k, k.node.Size); err != nil {
				return err
			}
		}
		return nil
	}
	if err := rec(l.root); err != nil {
		return nil, err
	}
	// Second pass: encode directories now that every cluster is known.
	var enc func(d *item) error
	enc = func(d *item) error {
		var b []byte
		if d == l.root {
			var label [11]byte
			copy(label[:], fmt.Sprintf("%-11s", opt.Label))
			b = append(b, l.dirent(label, 0x08, 0, 0)...)
		} else {
			b = append(b, l.dirent(dotName("."), 0x10, d.cluster, 0)...)
			pc := d.parent.cluster // 0 for the root, as FAT requires
			b = append(b, l.dirent(dotName(".."), 0x10, pc, 0)...)
		}
		shorts := map[string]bool{}
		for _, k := range children[d] {
			short, exact := shortName(k.node.Name, shorts)
			if !exact {
				lfn := encodeLFN(k.node.Name, checksum(short))
				b = append(b, lfn...)
			}
			attr, size := byte(0x20), uint32(k.node.Size)
			if k.node.Dir {
				attr, size = 0x10, 0
			} else if k.node.Size > 0xFFFFFFFF {
				return fmt.Errorf("vfat: %s is larger than 4 GiB - 1", k.node.Source)
			}
			b = append(b, l.dirent(short, attr, k.cluster, size)...)
			if k.node.Dir {
				if err := enc(k); err != nil {
					return err
				}
			}
		}
		d.entries = b
		return nil
	}
	if err := enc(l.root); err != nil {
		return nil, err
	}
	// FAT: each item is one contiguous chain.
	l.fat = make([]byte, g.FATSectors*sectorSize)
	binary.LittleEndian.PutUint16(l.fat[0:], 0xFFF8)
	binary.LittleEndian.PutUint16(l.fat[2:], 0xFFFF)
	for _, it := range l.order {
		for i := uint32(0); i < it.nclust; i++ {
			v := uint16(it.cluster + i + 1)
			if i == it.nclust-1 {
				v = 0xFFFF
			}
			binary.LittleEndian.PutUint16(l.fat[2*(it.cluster+i):], v)
		}
	}
	return l, nil
}

func dotName(s string) [11]byte {
	var b [11]byte
	copy(b[:], fmt.Sprintf("%-11s", s))
	return b
}

func (l *layout) dirent(name [11]byte, attr byte, cluster, size uint32) []byte {
	b := make([]byte, dirEntSize)
	copy(b, name[:])
	b[11] = attr
	binary.LittleEndian.PutUint16(b[14:], l.time) // created
	binary.LittleEndian.PutUint16(b[16:], l.date)
	binary.LittleEndian.PutUint16(b[18:], l.date) // accessed
	binary.LittleEndian.PutUint16(b[22:], l.time) // written
	binary.LittleEndian.PutUint16(b[24:], l.date)
	binary.LittleEndian.PutUint16(b[26:], uint16(cluster))
	binary.LittleEndian.PutUint32(b[28:], size)
	return b
}

const shortChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'()-@^_`{}~"

// shortName returns the 8.3 name for name, unique among used (which it
// updates), and whether it is exactly name (then no long entries are needed).
func shortName(name string, used map[string]bool) ([11]byte, bool) {
	valid := func(s string) bool {
		for _, r := range s {
			if !strings.ContainsRune(shortChars, r) {
				return false
			}
		}
		return true
	}
	base, ext := name, ""
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		base, ext = name[:i], name[i+1:]
	}
	if len(base) >= 1 && len(base) <= 8 && len(ext) <= 3 && valid(base) && valid(ext) &&
		!(strings.Contains(name, ".") && ext == "") {
		var b [11]byte
		copy(b[:], fmt.Sprintf("%-8s%-3s", base, ext))
		if !used[string(b[:])] {
			used[string(b[:])] = true
			return b, true
		}
	}
	conv := func(s string) string {
		var sb strings.Builder
		for _, r := range strings.ToUpper(s) {
			switch {
			case r == ' ' || r == '.':
			case strings.ContainsRune(shortChars, r):
				sb.WriteRune(r)
			default:
				sb.WriteByte('_')
			}
		}
		return sb.String()
	}
	cb, ce := conv(strings.TrimLeft(base, ".")), conv(ext)
	if len(ce) > 3 {
		ce = ce[:3]
	}
	if cb == "" {
		cb = "_"
	}
	for n := 1; ; n++ {
		tail := fmt.Sprintf("~%d", n)
		b := cb
		if len(b)+len(tail) > 8 {
			b = b[:8-len(tail)]
		}
		var out [11]byte
		copy(out[:], fmt.Sprintf("%-8s%-3s", b+tail, ce))
		if !used[string(out[:])] {
			used[string(out[:])] = true
			return out, false
		}
	}
}

func checksum(short [11]byte) byte {
	var sum byte
	for _, c := range short {
		sum = (sum>>1 | sum<<7) + c
	}
	return sum
}

// lfnEntries checks name and returns how many long-name entries it needs.
func lfnEntries(name string) (int, error) {
	for _, r := range name {
		if r < 0x20 || strings.ContainsRune(`"*/:<>?\|`, r) {
			return 0, fmt.Errorf("vfat: %w: %q contains %q", ErrName, name, r)
		}
	}
	if strings.HasSuffix(name, ".") || strings.HasSuffix(name, " ") {
		return 0, fmt.Errorf("vfat: %w: %q ends in a dot or space, which FAT drops", ErrName, name)
	}
	n := len(utf16.Encode([]rune(name)))
	if n > 255 {
		return 0, fmt.Errorf("vfat: %w: %q is %d UTF-16 units, at most 255", ErrName, name, n)
	}
	return (n + 12) / 13, nil
}

func encodeLFN(name string, sum byte) []byte {
	u := utf16.Encode([]rune(name))
	count := (len(u) + 12) / 13
	padded := make([]uint16, count*13)
	for i := range padded {
		switch {
		case i < len(u):
			padded[i] = u[i]
		case i == len(u):
			padded[i] = 0
		default:
			padded[i] = 0xFFFF
		}
	}
	out := make([]byte, 0, count*dirEntSize)
	for seq := count; seq >= 1; seq-- {
		e := make([]byte, dirEntSize)
		e[0] = byte(seq)
		if seq == count {
			e[0] |= 0x40
		}
		e[11] = 0x0F
		e[13] = sum
		part := padded[(seq-1)*13 : seq*13]
		offs := []int{1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30}
		for i, o := range offs {
			binary.LittleEndian.PutUint16(e[o:], part[i])
		}
		out = append(out, e...)
	}
	return out
}

func (l *layout) bootSector() []byte {
	g := l.g
	b := make([]byte, sectorSize)
	copy(b, []byte{0xEB, 0x3C, 0x90})
	copy(b[3:], "ZGUEST  ")
	binary.LittleEndian.PutUint16(b[11:], sectorSize)
	b[13] = byte(g.SectorsPerCluster)
	binary.LittleEndian.PutUint16(b[14:], uint16(g.ReservedSectors))
	b[16] = 2
	binary.LittleEndian.PutUint16(b[17:], rootEntries)
	if g.TotalSectors < 0x10000 {
		binary.LittleEndian.PutUint16(b[19:], uint16(g.TotalSectors))
	} else {
		binary.LittleEndian.PutUint32(b[32:], g.TotalSectors)
	}
	b[21] = 0xF8
	binary.LittleEndian.PutUint16(b[22:], uint16(g.FATSectors))
	binary.LittleEndian.PutUint16(b[24:], 32) // sectors per track
	binary.LittleEndian.PutUint16(b[26:], 64) // heads
	b[36] = 0x80
	b[38] = 0x29
	binary.LittleEndian.PutUint32(b[39:], l.serial())
	copy(b[43:], fmt.Sprintf("%-11s", l.opt.Label))
	copy(b[54:], "FAT16   ")
	// Boot code: print nothing, halt forever (this is not a boot disk).
	copy(b[62:], []byte{0xFA, 0xF4, 0xEB, 0xFD})
	b[510], b[511] = 0x55, 0xAA
	return b
}

// serial derives the volume serial number from the source date (mkfs.fat
// uses the current time), so a fixed date gives a fixed serial.
func (l *layout) serial() uint32 {
	t := l.opt.SourceDate.UTC()
	return uint32(t.Unix()) ^ uint32(t.Unix()>>32)
}

func (l *layout) write(w io.Writer, tail bool) (int64, error) {
	g := l.g
	var n int64
	put := func(b []byte) error {
		k, err := w.Write(b)
		n += int64(k)
		return err
	}
	zeros := make([]byte, 64<<10)
	putZeros := func(c int64) error {
		for c > 0 {
			k := min(c, int64(len(zeros)))
			if err := put(zeros[:k]); err != nil {
				return err
			}
			c -= k
		}
		return nil
	}
	if err := put(l.bootSector()); err != nil {
		return n, err
	}
	if err := putZeros(int64(g.ReservedSectors-1) * sectorSize); err != nil {
		return n, err
	}
	for range 2 {
		if err := put(l.fat); err != nil {
			return n, err
		}
	}
	root := make([]byte, g.RootSectors*sectorSize)
	copy(root, l.root.entries)
	if err := put(root); err != nil {
		return n, err
	}
	clusterBytes := int64(g.SectorsPerCluster) * sectorSize
	buf := make([]byte, 128<<10)
	for _, it := range l.order {
		start := int64(it.nclust) * clusterBytes
		var used int64
		if it.node.Dir {
			if err := put(it.entries); err != nil {
				return n, err
			}
			used = int64(len(it.entries))
		} else {
			cw := &counter{w: w}
			err := fstree.CopyFile(cw, it.node, buf)
			n += cw.n
			if err != nil {
				return n, err
			}
			used = it.node.Size
		}
		if err := putZeros(start - used); err != nil {
			return n, err
		}
	}
	if tail {
		if err := putZeros(int64(g.TotalSectors)*sectorSize - n); err != nil {
			return n, err
		}
	}
	return n, nil
}

type counter struct {
	w io.Writer
	n int64
}

func (c *counter) Write(p []byte) (int, error) {
	k, err := c.w.Write(p)
	c.n += int64(k)
	return k, err
}
