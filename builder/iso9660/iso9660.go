// Package iso9660 writes ISO 9660 (ECMA-119) images with Rock Ridge
// (SUSP 1.10 / RRIP 1.09) and optional Joliet, in one sequential pass.
//
// Why our own writer: github.com/kdomanski/iso9660 writes no Rock Ridge and
// cuts names at 30 characters, and github.com/diskfs/go-diskfs stages every
// file in a work directory before it can finalize the image and writes a
// Joliet tree Linux cannot read. A config drive needs long lower-case names
// (cloud-init opens openstack/latest/meta_data.json by that exact name), the
// image must come out of a memory-bounded stream with no temporary
// directory, and the same input must give the same bytes. Laying out a small
// tree up front and then streaming it is a few hundred lines, so we do that.
//
// Layout, in 2048-byte sectors: 16 zero sectors, the primary volume
// descriptor, the Joliet supplementary descriptor (optional), the
// terminator, the path tables (little- and big-endian, per tree), the
// primary directories, the SUSP continuation areas, the Joliet directories,
// the file data, and 150 sectors of padding like genisoimage's -pad. Every
// location is computed before the first byte is written; file contents are
// read only when their turn comes.
//
// The primary tree carries ECMA-119 names in upper case d-characters (at
// most 30 characters, level 2); the real names live in Rock Ridge NM entries
// and, when enabled, in the Joliet tree as UCS-2. Ownership and permissions
// are rationalized the way `genisoimage -r` does it: uid and gid 0, files
// 0444 (0555 when executable in the source), directories 0555. All times are
// Options.SourceDate.
package iso9660

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/zguest/zguest/builder/fstree"
)

// SectorSize is the logical block size of every image we write.
const SectorSize = 2048

// padSectors is the tail padding genisoimage adds by default (-pad).
const padSectors = 150

// MaxJolietName is the longest Joliet name, in UCS-2 units, the Joliet
// specification allows.
const MaxJolietName = 64

// ErrJoliet is wrapped by errors about names the Joliet tree cannot carry.
var ErrJoliet = errors.New("name not representable in Joliet")

// Options control the volume.
type Options struct {
	VolumeID    string // at most 32 bytes; config drives use "config-2"
	Publisher   string // at most 128 bytes
	Application string // at most 128 bytes
	Joliet      bool
	SourceDate  time.Time
}

// entry is one directory record in one of the two trees.
type entry struct {
	node  *fstree.Node
	id    []byte // file identifier as recorded
	sortK string
	dir   *dirInfo // set for directories
}

type dirInfo struct {
	node    *fstree.Node
	parent  *dirInfo
	number  int // 1-based path table number
	entries []*entry
	records [][]byte // encoded records; "." and ".." first
	size    int64    // extent size, a multiple of SectorSize
	loc     uint32
	id      []byte // identifier in the path table
}

// ceArea is a SUSP continuation area.
type ceArea struct {
	data   []byte
	block  uint32
	offset uint32
}

type volume struct {
	opt      Options
	joliet   bool
	dirs     []*dirInfo // path table order
	pathL    []byte
	pathM    []byte
	pathLLoc uint32
	pathMLoc uint32
}

type layout struct {
	opt      Options
	primary  *volume
	joliet   *volume
	files    []*fstree.Node // data order
	fileLoc  map[*fstree.Node]uint32
	ces      []*ceArea
	ceNext   int
	ceStart  uint32
	ceBlocks uint32
	total    uint32 // sectors including padding
	dataEnd  uint32
	date7    [7]byte
	date17   [17]byte
}

// Size returns the image size in bytes Write would produce for t.
func Size(t *fstree.Tree, opt Options) (int64, error) {
	l, err := plan(t, opt)
	if err != nil {
		return 0, err
	}
	return int64(l.total) * SectorSize, nil
}

// Write lays out t and streams the image to w. It returns the number of
// bytes written.
func Write(w io.Writer, t *fstree.Tree, opt Options) (int64, error) {
	l, err := plan(t, opt)
	if err != nil {
		return 0, err
	}
	cw := &countWriter{w: bufio.NewWriterSize(w, 256<<10)}
	err = l.write(cw, true)
	if err == nil {
		err = cw.w.(*bufio.Writer).Flush()
	}
	return cw.n, err
}

// WriteFile writes the image to f, which must be empty, leaving the zero
// padding at the end as a hole. It returns the image size.
func WriteFile(f *os.File, t *fstree.Tree, opt Options) (int64, error) {
	l, err := plan(t, opt)
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriterSize(f, 256<<10)
	if err := l.write(&countWriter{w: bw}, false); err != nil {
		return 0, err
	}
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	size := int64(l.total) * SectorSize
	return size, f.Truncate(size)
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func checkOptions(opt Options) error {
	check := func(what, s string, max int) error {
		if len(s) > max {
			return fmt.Errorf("iso9660: %s %q is longer than %d bytes", what, s, max)
		}
		for _, r := range s {
			if r < 0x20 || r > 0x7e {
				return fmt.Errorf("iso9660: %s %q must be printable ASCII", what, s)
			}
		}
		return nil
	}
	if err := check("volume id", opt.VolumeID, 32); err != nil {
		return err
	}
	if err := check("publisher", opt.Publisher, 128); err != nil {
		return err
	}
	if opt.Joliet && len(opt.VolumeID) > 16 {
		return fmt.Errorf("iso9660: volume id %q is longer than the 16 characters Joliet can hold", opt.VolumeID)
	}
	return check("application id", opt.Application, 128)
}

func plan(t *fstree.Tree, opt Options) (*layout, error) {
	if err := checkOptions(opt); err != nil {
		return nil, err
	}
	t.Sort()
	l := &layout{opt: opt, fileLoc: map[*fstree.Node]uint32{}}
	l.date7 = recordDate(opt.SourceDate)
	l.date17 = volumeDate(opt.SourceDate)

	var err error
	if l.primary, err = buildVolume(t, opt, false); err != nil {
		return nil, err
	}
	if opt.Joliet {
		if l.joliet, err = buildVolume(t, opt, true); err != nil {
			return nil, err
		}
	}

	// Record sizes (and so directory extent sizes) do not depend on
	// locations, so size everything first, then place, then encode.
	for _, d := range l.primary.dirs {
		d.size = l.sizeDir(d, false)
	}
	if l.joliet != nil {
		for _, d := range l.joliet.dirs {
			d.size = l.sizeDir(d, true)
		}
	}

	next := uint32(16 + 1) // system area + PVD
	if l.joliet != nil {
		next++
	}
	next++ // terminator
	place := func(n int64) uint32 {
		at := next
		next += uint32((n + SectorSize - 1) / SectorSize)
		return at
	}
	vols := []*volume{l.primary}
	if l.joliet != nil {
		vols = append(vols, l.joliet)
	}
	for _, v := range vols {
		v.pathTables() // sizes only; locations filled in below
		v.pathLLoc = place(int64(len(v.pathL)))
		v.pathMLoc = place(int64(len(v.pathM)))
	}
	for _, d := range l.primary.dirs {
		d.loc = place(d.size)
	}
	// Continuation areas are only known once the primary records are
	// encoded, but their count and size are: encode with a dry run.
	for _, d := range l.primary.dirs {
		if err := l.encodeDir(d, false, true); err != nil {
			return nil, err
		}
	}
	l.ceStart = next
	off, block := uint32(0), next
	for _, ce := range l.ces {
		if off+uint32(len(ce.data)) > SectorSize {
			block++
			off = 0
		}
		ce.block, ce.offset = block, off
		off += uint32(len(ce.data))
	}
	if len(l.ces) > 0 {
		l.ceBlocks = block - next + 1
		next = block + 1
	}
	if l.joliet != nil {
		for _, d := range l.joliet.dirs {
			d.loc = place(d.size)
		}
	}
	// File data in primary-tree order.
	for _, d := range l.primary.dirs {
		for _, e := range d.entries {
			if e.dir == nil {
				if e.node.Size > 0xFFFFFFFF {
					return nil, fmt.Errorf("iso9660: %s is %d bytes; one extent holds at most 4 GiB - 1", e.node.Source, e.node.Size)
				}
				l.files = append(l.files, e.node)
				l.fileLoc[e.node] = place(e.node.Size)
			}
		}
	}
	l.dataEnd = next
	l.total = next + padSectors

	// Final encoding with real locations.
	l.ceNext = 0
	for _, d := range l.primary.dirs {
		if err := l.encodeDir(d, false, false); err != nil {
			return nil, err
		}
	}
	if l.joliet != nil {
		for _, d := range l.joliet.dirs {
			if err := l.encodeDir(d, true, false); err != nil {
				return nil, err
			}
		}
	}
	for _, v := range vols {
		v.pathTables()
	}
	return l, nil
}

// buildVolume assigns identifiers and the path table order for one tree.
func buildVolume(t *fstree.Tree, opt Options, joliet bool) (*volume, error) {
	v := &volume{opt: opt, joliet: joliet}
	root := &dirInfo{node: &t.Root, id: []byte{0}}
	root.parent = root
	queue := []*dirInfo{root}
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		d.number = len(v.dirs) + 1
		if d.number > 0xFFFF {
			return nil, errors.New("iso9660: more than 65535 directories")
		}
		v.dirs = append(v.dirs, d)
		used := map[string]bool{}
		for _, c := range d.node.Children {
			e := &entry{node: c}
			if joliet {
				id, err := jolietID(c.Name)
				if err != nil {
					return nil, err
				}
				e.id = id
				e.sortK = string(id)
			} else {
				e.id, e.sortK = primaryID(c.Name, c.Dir, used)
			}
			d.entries = append(d.entries, e)
		}
		sort.SliceStable(d.entries, func(i, j int) bool { return d.entries[i].sortK < d.entries[j].sortK })
		for _, e := range d.entries {
			if e.node.Dir {
				e.dir = &dirInfo{node: e.node, parent: d, id: e.id}
				queue = append(queue, e.dir)
			}
		}
	}
	return v, nil
}

// primaryID maps name to an ECMA-119 level 2 identifier: upper case
// d-characters, at most 30 characters with the dot, ";1" for files, unique
// within its directory.
func primaryID(name string, dir bool, used map[string]bool) (id []byte, sortKey string) {
	clean := func(s string) string {
		var b strings.Builder
		for _, r := range strings.ToUpper(s) {
			if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') || r == '_' {
				b.WriteRune(r)
			} else {
				b.WriteByte('_')
			}
		}
		return b.String()
	}
	var base, ext string
	if dir {
		base = clean(name)
	} else if i := strings.LastIndexByte(name, '.'); i > 0 {
		base, ext = clean(name[:i]), clean(name[i+1:])
	} else {
		base = clean(name)
	}
	if len(ext) > 8 {
		ext = ext[:8]
	}
	maxBase := 31
	if !dir {
		maxBase = 30 - 1 - len(ext)
	}
	if base == "" {
		base = "_"
	}
	for n := 0; ; n++ {
		b := base
		if n > 0 {
			suffix := "~" + strconv.Itoa(n)
			if len(b)+len(suffix) > maxBase {
				b = b[:maxBase-len(suffix)]
			}
			b += suffix
		} else if len(b) > maxBase {
			b = b[:maxBase]
		}
		key := b
		if !dir {
			key = b + "." + ext
		}
		if used[key] {
			continue
		}
		used[key] = true
		// ECMA-119 9.3: compare names padded with spaces, then extensions.
		sortKey = fmt.Sprintf("%-31s%-8s", b, ext)
		if dir {
			return []byte(key), sortKey
		}
		return []byte(key + ";1"), sortKey
	}
}

func jolietID(name string) ([]byte, error) {
	var units []uint16
	for _, r := range name {
		if r > 0xFFFF {
			return nil, fmt.Errorf("iso9660: %w: %q has a character outside UCS-2 (%U); disable Joliet", ErrJoliet, name, r)
		}
		if strings.ContainsRune(`*/:;?\`, r) {
			return nil, fmt.Errorf("iso9660: %w: %q contains %q, which Joliet forbids; disable Joliet", ErrJoliet, name, r)
		}
		units = append(units, uint16(r))
	}
	if len(units) > MaxJolietName {
		return nil, fmt.Errorf("iso9660: %w: %q has %d characters, Joliet allows %d; disable Joliet to keep it (Rock Ridge has no such limit)", ErrJoliet, name, len(units), MaxJolietName)
	}
	b := make([]byte, 2*len(units))
	for i, u := range units {
		binary.BigEndian.PutUint16(b[2*i:], u)
	}
	return b, nil
}

func (v *volume) pathTables() {
	var l, m bytes.Buffer
	for _, d := range v.dirs {
		var rec [8]byte
		rec[0] = byte(len(d.id))
		binary.LittleEndian.PutUint32(rec[2:], d.loc)
		binary.LittleEndian.PutUint16(rec[6:], uint16(d.parent.number))
		l.Write(rec[:])
		l.Write(d.id)
		binary.BigEndian.PutUint32(rec[2:], d.loc)
		binary.BigEndian.PutUint16(rec[6:], uint16(d.parent.number))
		m.Write(rec[:])
		m.Write(d.id)
		if len(d.id)%2 == 1 {
			l.WriteByte(0)
			m.WriteByte(0)
		}
	}
	v.pathL, v.pathM = l.Bytes(), m.Bytes()
}

// Rock Ridge / SUSP entries.

const (
	erID   = "RRIP_1991A"
	erDesc = "THE ROCK RIDGE INTERCHANGE PROTOCOL PROVIDES SUPPORT FOR POSIX FILE SYSTEM SEMANTICS"
	erSrc  = "PLEASE CONTACT DISC PUBLISHER FOR SPECIFICATION SOURCE.  SEE PUBLISHER IDENTIFIER IN PRIMARY VOLUME DESCRIPTOR FOR CONTACT INFORMATION."
)

func suEntry(sig string, data ...[]byte) []byte {
	n := 4
	for _, d := range data {
		n += len(d)
	}
	b := make([]byte, 0, n)
	b = append(b, sig[0], sig[1], byte(n), 1)
	for _, d := range data {
		b = append(b, d...)
	}
	return b
}

func both32(v uint32) []byte {
	b := make([]byte, 8)
	binary.LittleEndian.PutUint32(b, v)
	binary.BigEndian.PutUint32(b[4:], v)
	return b
}

func both16(v uint16) []byte {
	b := make([]byte, 4)
	binary.LittleEndian.PutUint16(b, v)
	binary.BigEndian.PutUint16(b[2:], v)
	return b
}

func (l *layout) px(n *fstree.Node) []byte {
	var mode, nlink uint32 = 0o100444, 1
	if n.Dir {
		mode, nlink = 0o40555, 2
		for _, c := range n.Children {
			if c.Dir {
				nlink++
			}
		}
	} else if n.Exec {
		mode = 0o100555
	}
	return suEntry("PX", both32(mode), both32(nlink), both32(0), both32(0))
}

func (l *layout) tf() []byte {
	return suEntry("TF", []byte{0x0E}, l.date7[:], l.date7[:], l.date7[:])
}

func nmEntries(name string) [][]byte {
	var out [][]byte
	for len(name) > 200 {
		out = append(out, suEntry("NM", []byte{1}, []byte(name[:200])))
		name = name[200:]
	}
	return append(out, suEntry("NM", []byte{0}, []byte(name)))
}

// suFor returns the ordered SUSP entries of a primary directory record.
func (l *layout) suFor(n *fstree.Node, dot int, isRoot bool) [][]byte {
	var es [][]byte
	if isRoot && dot == 1 {
		es = append(es, suEntry("SP", []byte{0xBE, 0xEF, 0}))
	}
	flags := byte(0x01 | 0x80) // PX, TF
	if dot == 0 {
		flags |= 0x08 // NM
	}
	es = append(es, suEntry("RR", []byte{flags}))
	if dot == 0 {
		es = append(es, nmEntries(n.Name)...)
	}
	es = append(es, l.px(n), l.tf())
	if isRoot && dot == 1 {
		es = append(es, suEntry("ER", []byte{byte(len(erID)), byte(len(erDesc)), byte(len(erSrc)), 1}, []byte(erID), []byte(erDesc), []byte(erSrc)))
	}
	return es
}

const ceLen = 28

// splitSU decides which entries stay in the record (room bytes) and which
// go to a continuation area.
func splitSU(es [][]byte, room int) (inline [][]byte, rest []byte) {
	total := 0
	for _, e := range es {
		total += len(e)
	}
	if total <= room {
		return es, nil
	}
	used := 0
	i := 0
	for ; i < len(es) && used+len(es[i])+ceLen <= room; i++ {
		used += len(es[i])
	}
	// SP must stay first in the record; everything it cannot hold moves.
	for _, e := range es[i:] {
		rest = append(rest, e...)
	}
	return es[:i], rest
}

func baseRecordLen(idLen int) int {
	n := 33 + idLen
	if idLen%2 == 0 {
		n++
	}
	return n
}

type rec struct {
	id      []byte
	node    *fstree.Node
	dot     int // 1 ".", 2 "..", 0 named
	target  *dirInfo
	isRoot  bool
	su      []byte
	ceRest  []byte
	recSize int
}

func (l *layout) recordsOf(d *dirInfo, joliet bool) []*rec {
	isRoot := d.parent == d
	rs := []*rec{
		{id: []byte{0}, node: d.node, dot: 1, target: d, isRoot: isRoot},
		{id: []byte{1}, node: d.parent.node, dot: 2, target: d.parent, isRoot: isRoot},
	}
	for _, e := range d.entries {
		rs = append(rs, &rec{id: e.id, node: e.node, target: e.dir})
	}
	for _, r := range rs {
		base := baseRecordLen(len(r.id))
		if !joliet {
			inline, rest := splitSU(l.suFor(r.node, r.dot, r.isRoot && r.dot == 1), 255-base)
			for _, e := range inline {
				r.su = append(r.su, e...)
			}
			r.ceRest = rest
		}
		r.recSize = base + len(r.su)
		if r.ceRest != nil {
			r.recSize += ceLen
		}
		if r.recSize%2 == 1 {
			r.recSize++
		}
	}
	return rs
}

func (l *layout) sizeDir(d *dirInfo, joliet bool) int64 {
	var sectors, used int64 = 1, 0
	for _, r := range l.recordsOf(d, joliet) {
		if used+int64(r.recSize) > SectorSize {
			sectors++
			used = 0
		}
		used += int64(r.recSize)
	}
	return sectors * SectorSize
}

// encodeDir encodes the records of d. dry=true only registers continuation
// areas (to size them).
func (l *layout) encodeDir(d *dirInfo, joliet, dry bool) error {
	d.records = d.records[:0]
	for _, r := range l.recordsOf(d, joliet) {
		su := r.su
		if r.ceRest != nil {
			if len(r.ceRest) > SectorSize {
				return fmt.Errorf("iso9660: Rock Ridge data for %q does not fit one continuation block", r.node.Name)
			}
			var ce *ceArea
			if dry {
				ce = &ceArea{data: r.ceRest}
				l.ces = append(l.ces, ce)
			} else {
				// Areas come in the same order as in the dry run.
				if l.ceNext >= len(l.ces) {
					return errors.New("iso9660: internal error: continuation areas changed between passes")
				}
				ce = l.ces[l.ceNext]
				l.ceNext++
			}
			su = append(append([]byte(nil), su...), suEntry("CE", both32(ce.block), both32(ce.offset), both32(uint32(len(ce.data))))...)
		}
		var loc uint32
		var size uint32
		var flags byte
		switch {
		case r.target != nil:
			loc, size, flags = r.target.loc, uint32(r.target.size), 2
		default:
			size = uint32(r.node.Size)
			loc = l.fileLoc[r.node]
			if size == 0 {
				loc = l.dataEnd // a valid block holding nothing
			}
		}
		b := make([]byte, r.recSize)
		b[0] = byte(r.recSize)
		copy(b[2:], both32(loc))
		copy(b[10:], both32(size))
		copy(b[18:], l.date7[:])
		b[25] = flags
		copy(b[28:], both16(1))
		b[32] = byte(len(r.id))
		copy(b[33:], r.id)
		copy(b[baseRecordLen(len(r.id)):], su)
		d.records = append(d.records, b)
	}
	return nil
}

func recordDate(t time.Time) [7]byte {
	t = t.UTC()
	y := t.Year() - 1900
	if y < 0 {
		y = 0
	}
	if y > 255 {
		y = 255
	}
	return [7]byte{byte(y), byte(t.Month()), byte(t.Day()), byte(t.Hour()), byte(t.Minute()), byte(t.Second()), 0}
}

func volumeDate(t time.Time) [17]byte {
	var b [17]byte
	t = t.UTC()
	copy(b[:], fmt.Sprintf("%04d%02d%02d%02d%02d%02d%02d", t.Year(), int(t.Month()), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond()/1e7))
	return b
}

func (l *layout) write(w io.Writer, tail bool) error {
	var sector [SectorSize]byte
	zero := func(n uint32) error {
		clear(sector[:])
		for i := uint32(0); i < n; i++ {
			if _, err := w.Write(sector[:]); err != nil {
				return err
			}
		}
		return nil
	}
	pos := uint32(0)
	if err := zero(16); err != nil {
		return err
	}
	pos = 16
	if _, err := w.Write(l.descriptor(l.primary)); err != nil {
		return err
	}
	pos++
	if l.joliet != nil {
		if _, err := w.Write(l.descriptor(l.joliet)); err != nil {
			return err
		}
		pos++
	}
	clear(sector[:])
	sector[0] = 255
	copy(sector[1:], "CD001")
	sector[6] = 1
	if _, err := w.Write(sector[:]); err != nil {
		return err
	}
	pos++
	writeAt := func(loc uint32, b []byte) error {
		if loc < pos {
			return fmt.Errorf("iso9660: internal layout error at sector %d (position %d)", loc, pos)
		}
		if err := zero(loc - pos); err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
		n := uint32((len(b) + SectorSize - 1) / SectorSize)
		pad := int(n)*SectorSize - len(b)
		clear(sector[:])
		if _, err := w.Write(sector[:pad]); err != nil {
			return err
		}
		pos = loc + n
		return nil
	}
	vols := []*volume{l.primary}
	if l.joliet != nil {
		vols = append(vols, l.joliet)
	}
	for _, v := range vols {
		if err := writeAt(v.pathLLoc, v.pathL); err != nil {
			return err
		}
		if err := writeAt(v.pathMLoc, v.pathM); err != nil {
			return err
		}
	}
	writeDirs := func(v *volume) error {
		for _, d := range v.dirs {
			ext := make([]byte, 0, d.size)
			used := 0
			for _, r := range d.records {
				if used+len(r) > SectorSize {
					ext = append(ext, make([]byte, SectorSize-used)...)
					used = 0
				}
				ext = append(ext, r...)
				used += len(r)
			}
			if int64(len(ext)) > d.size {
				return fmt.Errorf("iso9660: internal error: directory %q outgrew its extent", d.node.Name)
			}
			ext = append(ext, make([]byte, d.size-int64(len(ext)))...)
			if err := writeAt(d.loc, ext); err != nil {
				return err
			}
		}
		return nil
	}
	if err := writeDirs(l.primary); err != nil {
		return err
	}
	if l.ceBlocks > 0 {
		blocks := make([]byte, int(l.ceBlocks)*SectorSize)
		for _, ce := range l.ces {
			copy(blocks[int(ce.block-l.ceStart)*SectorSize+int(ce.offset):], ce.data)
		}
		if err := writeAt(l.ceStart, blocks); err != nil {
			return err
		}
	}
	if l.joliet != nil {
		if err := writeDirs(l.joliet); err != nil {
			return err
		}
	}
	buf := make([]byte, 128<<10)
	for _, f := range l.files {
		loc := l.fileLoc[f]
		if err := zero(loc - pos); err != nil {
			return err
		}
		if err := fstree.CopyFile(w, f, buf); err != nil {
			return err
		}
		n := uint32((f.Size + SectorSize - 1) / SectorSize)
		clear(sector[:])
		if _, err := w.Write(sector[:int64(n)*SectorSize-f.Size]); err != nil {
			return err
		}
		pos = loc + n
	}
	if !tail {
		return nil
	}
	return zero(l.total - pos)
}

func (l *layout) descriptor(v *volume) []byte {
	b := make([]byte, SectorSize)
	b[0] = 1
	if v.joliet {
		b[0] = 2
	}
	copy(b[1:], "CD001")
	b[6] = 1
	str := func(off, n int, s string) {
		if v.joliet {
			for i := 0; i+1 < n; i += 2 {
				c := uint16(' ')
				if i/2 < len(s) {
					c = uint16(s[i/2])
				}
				binary.BigEndian.PutUint16(b[off+i:], c)
			}
			return
		}
		copy(b[off:off+n], fmt.Sprintf("%-*s", n, s))
	}
	str(8, 32, "LINUX")
	str(40, 32, l.opt.VolumeID)
	copy(b[80:], both32(l.total))
	if v.joliet {
		copy(b[88:], "%/E") // UCS-2 level 3
	}
	copy(b[120:], both16(1))
	copy(b[124:], both16(1))
	copy(b[128:], both16(SectorSize))
	copy(b[132:], both32(uint32(len(v.pathL))))
	binary.LittleEndian.PutUint32(b[140:], v.pathLLoc)
	binary.BigEndian.PutUint32(b[148:], v.pathMLoc)
	root := v.dirs[0]
	copy(b[156:], root.records[0][:34])
	b[156] = 34 // the root record in the descriptor carries no SUSP data
	str(190, 128, "")
	str(318, 128, l.opt.Publisher)
	str(446, 128, "")
	str(574, 128, l.opt.Application)
	str(702, 37, "")
	str(739, 37, "")
	str(776, 37, "")
	copy(b[813:], l.date17[:])
	copy(b[830:], l.date17[:])
	copy(b[847:], "0000000000000000")
	copy(b[864:], "0000000000000000")
	b[881] = 1
	return b
}
