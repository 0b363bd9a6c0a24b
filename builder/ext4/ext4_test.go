package ext4

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zguest/zguest/internal/testutil"
)

const (
	testUUID = "6f1c2a4e-93d0-4b7c-8e55-0123456789ab"
	fakeTime = 1700000000 // SOURCE_DATE_EPOCH of the test builds
	mib      = 1 << 20
)

var clampTime = time.Unix(fakeTime, 0)

// fileSpec is one entry of the staging trees the tests build.
type fileSpec struct {
	path    string
	size    int
	sparse  bool   // write 4 KiB of data every 64 KiB, holes in between
	symlink string // target, for symlinks
	mtime   int64  // 0: leave as created
}

func specs() []fileSpec {
	s := []fileSpec{
		{path: "boot/vmlinuz", size: 7*mib + 12345},
		{path: "boot/initrd.img", size: 3*mib + 1},
		{path: "boot/big.bin", size: 30 * mib},
		{path: "boot/sparse.bin", size: 30 * mib, sparse: true},
		{path: "etc/hostname", size: 9},
		{path: "etc/empty", size: 0},
		{path: "etc/one-block", size: 4096},
		{path: "etc/old", size: 100, mtime: 1000000000},    // 2001: stays
		{path: "etc/future", size: 100, mtime: 1900000000}, // 2030: clamped
		{path: "usr/lib/deep/deeper/deepest/file", size: 70000},
		{path: "etc/link", symlink: "../boot"},
		{path: "etc/longlink", symlink: strings.Repeat("x/", 60) + "target"},
		{path: "boot/vmlinuz.link", symlink: "vmlinuz"},
	}
	for i := 0; i < 500; i++ {
		s = append(s, fileSpec{path: fmt.Sprintf("bigdir/entry-with-a-fairly-long-name-%04d", i), size: i % 7})
	}
	return s
}

// content is the deterministic content of a test file.
func content(sp fileSpec) []byte {
	b := make([]byte, sp.size)
	rng := rand.NewChaCha8(sha256.Sum256([]byte(sp.path)))
	_, _ = rng.Read(b)
	if sp.sparse {
		for i := range b {
			if i%(64<<10) >= 4096 {
				b[i] = 0
			}
		}
	}
	return b
}

// makeTree creates the staging tree under dir.
func makeTree(t testing.TB, dir string, sps []fileSpec) {
	t.Helper()
	for _, sp := range sps {
		p := filepath.Join(dir, sp.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if sp.symlink != "" {
			if err := os.Symlink(sp.symlink, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		data := content(sp)
		if sp.sparse {
			f, err := os.Create(p)
			if err != nil {
				t.Fatal(err)
			}
			for o := 0; o < len(data); o += 64 << 10 {
				if _, err := f.WriteAt(data[o:min(o+4096, len(data))], int64(o)); err != nil {
					t.Fatal(err)
				}
			}
			if err := f.Truncate(int64(len(data))); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		} else if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if sp.mtime != 0 {
			mt := time.Unix(sp.mtime, 0)
			if err := os.Chtimes(p, mt, mt); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// mkfs runs mke2fs -d the way the image builder does, writing a file
// system of fsSize bytes at byte off of a new file of fileSize bytes.
func mkfs(t testing.TB, tree, img string, off, fsSize, fileSize int64, extra ...string) {
	t.Helper()
	testutil.RequireTool(t, "mke2fs")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, fileSize); err != nil {
		t.Fatal(err)
	}
	args := []string{"-q", "-F", "-t", "ext4", "-U", testUUID,
		"-E", fmt.Sprintf("hash_seed=%s,root_owner=0:0,offset=%d", testUUID, off)}
	args = append(args, extra...)
	args = append(args, "-d", tree, img, strconv.FormatInt(fsSize/1024, 10)+"k")
	cmd := exec.Command("mke2fs", args...)
	cmd.Env = append(os.Environ(), "E2FSPROGS_FAKE_TIME="+strconv.Itoa(fakeTime))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mke2fs %q: %v\n%s", args, err, out)
	}
}

// extract copies the file system region out of a disk image so that
// e2fsck and debugfs can read it.
func extract(t testing.TB, img string, off, size int64) string {
	t.Helper()
	data, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "part.img")
	if err := os.WriteFile(p, data[off:off+size], 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// readVia reads a File's bytes through its extents alone.
func readVia(t testing.TB, img *os.File, off int64, f File) []byte {
	t.Helper()
	bs := int64(f.BlockSize)
	out := make([]byte, (f.Size+bs-1)/bs*bs)
	for _, e := range f.Extents {
		if e.Uninit {
			continue
		}
		start := int64(e.Logical) * bs
		n := int64(e.Len) * bs
		if start >= int64(len(out)) {
			continue
		}
		n = min(n, int64(len(out))-start)
		if _, err := img.ReadAt(out[start:start+n], off+int64(e.Physical)*bs); err != nil {
			t.Fatalf("inode %d extent %+v: %v", f.Inode, e, err)
		}
	}
	return out[:f.Size]
}

type layout struct {
	name      string
	blockSize int
	off       int64
	fsSize    int64
	fileSize  int64
	extra     []string // more mke2fs options
}

var layouts = []layout{
	{"b4096-at-1MiB", 4096, mib, 160 * mib, 200 * mib, nil},
	{"b1024-at-1MiB", 1024, mib, 160 * mib, 162 * mib, nil},
	// orphan_file is in upstream 1.47's default ext4 features (Debian's
	// mke2fs.conf leaves it out); metadata_csum_seed decouples the seed
	// from the UUID.
	{"b4096-at-0-orphan_file-csum_seed", 4096, 0, 160 * mib, 160 * mib, []string{"-O", "orphan_file,metadata_csum_seed"}},
	// Few inodes per group: the in-use inodes spread over many groups.
	{"b1024-spread-inodes", 1024, 3 * mib, 160 * mib, 170 * mib, []string{"-N", "1200"}},
}

func buildImage(t testing.TB, l layout) (tree, img string) {
	t.Helper()
	testutil.RequireTool(t, "mke2fs")
	dir := t.TempDir()
	tree = filepath.Join(dir, "tree")
	makeTree(t, tree, specs())
	img = filepath.Join(dir, "disk.img")
	mkfs(t, tree, img, l.off, l.fsSize, l.fileSize, append([]string{"-b", strconv.Itoa(l.blockSize)}, l.extra...)...)
	return tree, img
}

func TestLookupReadsEveryFile(t *testing.T) {
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			_, img := buildImage(t, l)
			f, err := os.Open(img)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			s, err := Info(f, l.off)
			if err != nil {
				t.Fatal(err)
			}
			if s.BlockSize != l.blockSize || s.BlocksCount != uint64(l.fsSize)/uint64(l.blockSize) ||
				s.UUIDString() != testUUID || s.InodeSize != 256 || !s.HasFeature("metadata_csum") || !s.HasFeature("64bit") {
				t.Fatalf("Info = %+v", s)
			}
			for _, sp := range specs() {
				fi, err := Lookup(f, l.off, "/"+sp.path)
				if sp.symlink != "" {
					if err == nil || !strings.Contains(err.Error(), `"/`+sp.path+`" is a symlink`) {
						t.Errorf("Lookup(%s) of a symlink: err = %v", sp.path, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("Lookup(%s): %v", sp.path, err)
				}
				if !fi.IsRegular() || fi.Mode&0o777 != 0o644 || fi.Size != int64(sp.size) || fi.BlockSize != l.blockSize {
					t.Fatalf("Lookup(%s) = %+v", sp.path, fi)
				}
				if got := readVia(t, f, l.off, fi); !bytes.Equal(got, content(sp)) {
					t.Fatalf("%s: content read via extents %v differs", sp.path, fi.Extents)
				}
				for i, e := range fi.Extents {
					if i > 0 && e.Logical < fi.Extents[i-1].Logical+uint64(fi.Extents[i-1].Len) {
						t.Fatalf("%s: extents not sorted: %v", sp.path, fi.Extents)
					}
				}
				switch sp.path {
				case "boot/sparse.bin":
					// 480 data runs: more than the 4 extents i_block holds,
					// so the tree has index nodes.
					if len(fi.Extents) < 480 {
						t.Errorf("sparse.bin: %d extents, want at least 480", len(fi.Extents))
					}
				case "boot/big.bin":
					if l.blockSize == 1024 && len(fi.Extents) < 2 {
						t.Errorf("big.bin at 1 KiB blocks: %d extents, want several (32768-block limit, backup superblocks)", len(fi.Extents))
					}
				}
			}
			// Equivalent spellings, directories.
			for _, p := range []string{"/boot/./vmlinuz", "//boot//vmlinuz", "/etc/../boot/vmlinuz"} {
				fi, err := Lookup(f, l.off, p)
				if err != nil || fi.Size != 7*mib+12345 {
					t.Errorf("Lookup(%s) = %+v, %v", p, fi, err)
				}
			}
			for _, p := range []string{"/", "/bigdir", "/usr/lib/deep"} {
				fi, err := Lookup(f, l.off, p)
				if err != nil || !fi.IsDir() || len(fi.Extents) == 0 {
					t.Errorf("Lookup(%s) = %+v, %v", p, fi, err)
				}
			}
			if fi, _ := Lookup(f, l.off, "/"); fi.Inode != rootIno {
				t.Errorf("root inode %d", fi.Inode)
			}
		})
	}
}

func TestLookupErrors(t *testing.T) {
	l := layouts[0]
	_, img := buildImage(t, l)
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, tc := range []struct{ path, want string }{
		{"/etc/link/vmlinuz", `"/etc/link" is a symlink`},
		{"/etc/link", `"/etc/link" is a symlink`},
		{"/etc/longlink", `"/etc/longlink" is a symlink`},
		{"/boot/nope", `"nope" not found in "/boot"`},
		{"/etc/hostname/x", `"/etc/hostname" (inode`},
		{"boot/vmlinuz", "not absolute"},
		{"/bigdir/entry-with-a-fairly-long-name-0500", "not found"},
	} {
		_, err := Lookup(f, l.off, tc.path)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Lookup(%q) err = %v, want it to contain %q", tc.path, err, tc.want)
		}
	}
	// Wrong offset: no file system there.
	if _, err := Lookup(f, 4096, "/boot"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Lookup at a wrong offset: %v", err)
	}
}

// TestHtreeDirectory checks the linear scan on indexed directories.
// mke2fs -d writes linear directories; `e2fsck -fD` re-packs every
// directory of more than one block as an htree, which is what the kernel
// does too once a directory grows. Every one of the 500 names must be
// found in the indexed /bigdir.
func TestHtreeDirectory(t *testing.T) {
	testutil.RequireTool(t, "e2fsck")
	for _, l := range layouts[:2] {
		t.Run(l.name, func(t *testing.T) {
			_, img := buildImage(t, l)
			part := extract(t, img, l.off, l.fsSize)
			out, err := exec.Command("e2fsck", "-fyD", part).CombinedOutput()
			var ee *exec.ExitError
			if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1) { // 1: fixed (re-indexed)
				t.Fatalf("e2fsck -fyD: %v\n%s", err, out)
			}
			fsck(t, part)
			f, err := os.Open(part)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			s, err := Info(f, 0)
			if err != nil {
				t.Fatal(err)
			}
			dir, err := Lookup(f, 0, "/bigdir")
			if err != nil {
				t.Fatal(err)
			}
			raw, err := s.readInode(f, 0, dir.Inode)
			if err != nil {
				t.Fatal(err)
			}
			if flags := le32(raw, 0x20); flags&0x1000 == 0 {
				t.Fatalf("/bigdir flags 0x%x: not indexed (EXT4_INDEX_FL)", flags)
			}
			if dir.Size <= int64(2*l.blockSize) {
				t.Fatalf("/bigdir is only %d bytes", dir.Size)
			}
			seen := map[uint32]bool{}
			for i := 0; i < 500; i++ {
				p := fmt.Sprintf("/bigdir/entry-with-a-fairly-long-name-%04d", i)
				fi, err := Lookup(f, 0, p)
				if err != nil {
					t.Fatal(err)
				}
				if seen[fi.Inode] || fi.Size != int64(i%7) {
					t.Fatalf("%s: %+v", p, fi)
				}
				seen[fi.Inode] = true
			}
			if _, err := Lookup(f, 0, "/bigdir/entry-with-a-fairly-long-name-0500"); err == nil {
				t.Fatal("found a name that is not there")
			}
			// Normalize copes with the re-indexed image too.
			w, err := os.OpenFile(part, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			if _, err := Normalize(w, 0, clampTime); err != nil {
				t.Fatal(err)
			}
			fsck(t, part)
		})
	}
}

var hexField = regexp.MustCompile(`(?m)^Checksum:\s+0x([0-9a-f]+)$`)

// TestChecksumsMatchE2fsprogs proves the crc32c convention before anything
// is written: our superblock, group descriptor and inode checksums of an
// untouched mke2fs image equal the stored ones and what dumpe2fs/debugfs
// print.
func TestChecksumsMatchE2fsprogs(t *testing.T) {
	testutil.RequireTool(t, "debugfs")
	testutil.RequireTool(t, "dumpe2fs")
	l := layouts[1]
	_, img := buildImage(t, l)
	part := extract(t, img, l.off, l.fsSize)
	f, err := os.Open(part)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := Info(f, 0) // verifies the superblock checksum
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("dumpe2fs", "-h", part).Output()
	if err != nil {
		t.Fatal(err)
	}
	m := hexField.FindSubmatch(out)
	if m == nil {
		t.Fatalf("no checksum in dumpe2fs output:\n%s", out)
	}
	if want := fmt.Sprintf("%08x", crc32c(^uint32(0), s.raw[:0x3FC])); string(m[1]) != want {
		t.Fatalf("dumpe2fs superblock checksum 0x%s, ours 0x%s", m[1], want)
	}
	// Every in-use inode of every group verifies.
	checked := 0
	for g := uint32(0); g < s.Groups; g++ {
		gd, err := s.readGroupDesc(f, 0, g) // verifies the descriptor checksum
		if err != nil {
			t.Fatal(err)
		}
		if gd.flags&bgInodeUninit != 0 {
			continue
		}
		for i := uint32(0); i < s.InodesPerGroup-gd.itableUnuse; i++ {
			if _, err := s.readInode(f, 0, g*s.InodesPerGroup+i+1); err != nil {
				t.Fatal(err)
			}
			checked++
		}
	}
	if checked < 500 {
		t.Fatalf("only %d inodes checked", checked)
	}
	// And debugfs prints the same inode checksum we compute.
	fi, err := Lookup(f, 0, "/boot/vmlinuz")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := s.readInode(f, 0, fi.Inode)
	if err != nil {
		t.Fatal(err)
	}
	sum, _ := s.inodeChecksum(fi.Inode, raw)
	stat := debugfsStat(t, part, "/boot/vmlinuz")
	if want := fmt.Sprintf("Inode checksum: 0x%08x", sum); !strings.Contains(stat, want) {
		t.Fatalf("debugfs stat lacks %q:\n%s", want, stat)
	}
	// The raw crc32c differs from hash/crc32's inverted one: a wrong
	// convention cannot pass the checks above by accident.
	if crc32c(^uint32(0), []byte("123456789")) != ^uint32(0xE3069283) {
		t.Fatal("crc32c is not the raw (uninverted) Castagnoli CRC")
	}
}

func debugfsStat(t testing.TB, part, path string) string {
	t.Helper()
	out, err := exec.Command("debugfs", "-R", "stat "+path, part).CombinedOutput()
	if err != nil {
		t.Fatalf("debugfs stat %s: %v\n%s", path, err, out)
	}
	return string(out)
}

func fsck(t testing.TB, part string) {
	t.Helper()
	testutil.RequireTool(t, "e2fsck")
	out, err := exec.Command("e2fsck", "-fn", part).CombinedOutput()
	if err != nil {
		t.Fatalf("e2fsck -fn: %v\n%s", err, out)
	}
}

var statTime = regexp.MustCompile(`(?m)^\s*(ctime|atime|mtime|crtime): 0x([0-9a-f]{8}):([0-9a-f]{8})`)

// statTimes parses debugfs stat's time lines into seconds (with epoch
// bits) and nanoseconds.
func statTimes(t testing.TB, stat string) map[string][2]int64 {
	t.Helper()
	out := map[string][2]int64{}
	for _, m := range statTime.FindAllStringSubmatch(stat, -1) {
		lo, _ := strconv.ParseUint(m[2], 16, 32)
		x, _ := strconv.ParseUint(m[3], 16, 32)
		out[m[1]] = [2]int64{int64(int32(lo)) + int64(x&3)<<32, int64(x >> 2)}
	}
	if len(out) != 4 {
		t.Fatalf("debugfs stat: found times %v in\n%s", out, stat)
	}
	return out
}

func TestNormalize(t *testing.T) {
	testutil.RequireTool(t, "debugfs")
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			_, img := buildImage(t, l)
			before := extract(t, img, l.off, l.fsSize)
			if st := statTimes(t, debugfsStat(t, before, "/etc/hostname")); st["ctime"][0] <= fakeTime {
				t.Fatalf("staging ctime %v not after the clamp: test proves nothing", st)
			}
			f, err := os.OpenFile(img, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			stats, err := Normalize(f, l.off, clampTime.Add(400*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			t.Logf("%+v", stats)
			if stats.InodesChanged < 500 || stats.SuperblocksSet < 2 || strings.Contains(l.name, "spread") && stats.Groups < 8 {
				t.Errorf("stats %+v", stats)
			}
			part := extract(t, img, l.off, l.fsSize)
			fsck(t, part)
			for _, p := range []string{"/etc/hostname", "/boot/big.bin", "/bigdir", "/etc/link", "/etc/future", "/", "/lost+found"} {
				for k, v := range statTimes(t, debugfsStat(t, part, p)) {
					if v != [2]int64{fakeTime, 0} {
						t.Errorf("%s %s = %v, want %d.0", p, k, v, fakeTime)
					}
				}
			}
			// Times before the clamp stay.
			old := statTimes(t, debugfsStat(t, part, "/etc/old"))
			if old["mtime"] != [2]int64{1000000000, 0} || old["ctime"] != [2]int64{fakeTime, 0} {
				t.Errorf("/etc/old times %v", old)
			}
			// Superblock times.
			pf, err := os.Open(part)
			if err != nil {
				t.Fatal(err)
			}
			defer pf.Close()
			s, err := Info(pf, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, st := range superTimes {
				v := uint64(le32(s.raw, st.lo)) | uint64(s.raw[st.hi])<<32
				if want := uint64(fakeTime); st.always && v != want || !st.always && v != 0 {
					t.Errorf("%s = %d", st.name, v)
				}
			}
			// Idempotent: a second pass changes nothing but rewrites the
			// superblocks with identical bytes.
			g, err := os.OpenFile(img, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			sum1 := fileSum(t, img)
			st2, err := Normalize(g, l.off, clampTime)
			if err != nil || st2.InodesChanged != 0 {
				t.Fatalf("second Normalize: %+v, %v", st2, err)
			}
			if fileSum(t, img) != sum1 {
				t.Fatal("second Normalize changed the image")
			}
		})
	}
}

func fileSum(t testing.TB, p string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// TestReproducible is the property the builder relies on: two builds of
// two separately created copies of the same tree differ (their ctimes
// differ) but are byte-identical after Normalize with the same clamp.
func TestReproducible(t *testing.T) {
	testutil.RequireTool(t, "mke2fs")
	for _, l := range []layout{layouts[0], layouts[1], layouts[3]} {
		t.Run(l.name, func(t *testing.T) {
			dir := t.TempDir()
			var imgs [2]string
			for i := range imgs {
				if i > 0 {
					time.Sleep(1100 * time.Millisecond)
				}
				tree := filepath.Join(dir, fmt.Sprint("tree", i))
				makeTree(t, tree, specs())
				imgs[i] = filepath.Join(dir, fmt.Sprint("disk", i))
				mkfs(t, tree, imgs[i], l.off, l.fsSize, l.fileSize, append([]string{"-b", strconv.Itoa(l.blockSize)}, l.extra...)...)
			}
			if fileSum(t, imgs[0]) == fileSum(t, imgs[1]) {
				t.Fatal("the two raw builds are already identical: test proves nothing")
			}
			for _, p := range imgs {
				f, err := os.OpenFile(p, os.O_RDWR, 0)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := Normalize(f, l.off, clampTime); err != nil {
					t.Fatal(err)
				}
				if err := f.Close(); err != nil {
					t.Fatal(err)
				}
			}
			a, _ := os.ReadFile(imgs[0])
			b, _ := os.ReadFile(imgs[1])
			if !bytes.Equal(a, b) {
				for i := range a {
					if a[i] != b[i] {
						t.Fatalf("normalized images differ first at byte %d (fs block %d)", i, (int64(i)-l.off)/int64(l.blockSize))
					}
				}
			}
			fsck(t, extract(t, imgs[0], l.off, l.fsSize))
		})
	}
}

// memRW is an in-memory ReadWriterAt of fixed size.
type memRW struct{ b []byte }

func (m *memRW) Size() int64 { return int64(len(m.b)) }
func (m *memRW) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off > int64(len(m.b)) {
		return 0, errors.New("out of range")
	}
	n := copy(p, m.b[off:])
	if n < len(p) {
		return n, errors.New("short")
	}
	return n, nil
}
func (m *memRW) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > int64(len(m.b)) {
		return 0, errors.New("out of range")
	}
	return copy(m.b[off:], p), nil
}

func TestRefusals(t *testing.T) {
	_, img := buildImage(t, layouts[0])
	data, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	off := int(layouts[0].off)
	sb := data[off+superOffset : off+superOffset+superSize]
	orig := append([]byte(nil), sb...)
	reseal := func() { binary.LittleEndian.PutUint32(sb[0x3FC:], crc32c(^uint32(0), sb[:0x3FC])) }
	for _, tc := range []struct {
		name  string
		patch func()
		want  string
	}{
		{"meta_bg", func() { sb[0x60] |= 0x10; reseal() }, "meta_bg"},
		{"inline_data", func() { sb[0x61] |= 0x80; reseal() }, "inline_data"},
		{"needs_recovery", func() { sb[0x60] |= 0x4; reseal() }, "needs_recovery"},
		{"bigalloc", func() { sb[0x65] |= 0x2; reseal() }, "bigalloc"},
		{"unknown", func() { sb[0x63] |= 0x80; reseal() }, "incompat_0x80000000"},
		{"bad checksum", func() { sb[0x3FC] ^= 1 }, "superblock checksum"},
		{"not clean", func() { sb[0x3A] = 0; reseal() }, "not clean"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			copy(sb, orig)
			tc.patch()
			before := sha256.Sum256(data)
			_, err := Normalize(&memRW{data}, int64(off), clampTime)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Normalize: %v, want %q", err, tc.want)
			}
			if sha256.Sum256(data) != before {
				t.Fatal("refused Normalize wrote to the image")
			}
			if tc.name != "not clean" {
				if _, err := Lookup(&memRW{data}, int64(off), "/boot/vmlinuz"); err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("Lookup: %v, want %q", err, tc.want)
				}
			}
		})
	}
	copy(sb, orig)
	// A corrupt inode checksum is refused, not silently redone.
	s, err := Info(&memRW{data}, int64(off))
	if err != nil {
		t.Fatal(err)
	}
	gd, err := s.readGroupDesc(&memRW{data}, int64(off), 0)
	if err != nil {
		t.Fatal(err)
	}
	ino2 := off + int(gd.inodeTable)*s.BlockSize + s.InodeSize
	data[ino2+0x7C] ^= 0xFF
	if _, err := Normalize(&memRW{data}, int64(off), clampTime); err == nil || !strings.Contains(err.Error(), "inode 2: checksum") {
		t.Fatalf("Normalize with a bad inode checksum: %v", err)
	}
}

// TestExtentEdgeCases patches the root extent node of a file: an
// uninitialized extent is reported and marked, a hostile depth refused.
func TestExtentEdgeCases(t *testing.T) {
	img := smallImage(t)
	m := &memRW{img}
	s, err := Info(m, 0)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := Lookup(m, 0, "/boot/vmlinuz")
	if err != nil || len(fi.Extents) != 1 || fi.Extents[0].Uninit {
		t.Fatalf("Lookup = %+v, %v", fi, err)
	}
	gd, err := s.readGroupDesc(m, 0, (fi.Inode-1)/s.InodesPerGroup)
	if err != nil {
		t.Fatal(err)
	}
	pos := int(gd.inodeTable)*s.BlockSize + int((fi.Inode-1)%s.InodesPerGroup)*s.InodeSize
	raw := img[pos : pos+s.InodeSize]
	orig := append([]byte(nil), raw...)
	patch := func(o int, v uint16) {
		copy(raw, orig)
		binary.LittleEndian.PutUint16(raw[o:], v)
		sum, _ := s.inodeChecksum(fi.Inode, raw)
		binary.LittleEndian.PutUint16(raw[0x7C:], uint16(sum))
		binary.LittleEndian.PutUint16(raw[0x82:], uint16(sum>>16))
	}
	l := le16(raw, 0x28+12+4) // ee_len of the first leaf entry
	patch(0x28+12+4, l+32768)
	got, err := Lookup(m, 0, "/boot/vmlinuz")
	if err != nil || len(got.Extents) != 1 || !got.Extents[0].Uninit || got.Extents[0].Len != uint32(l) {
		t.Fatalf("uninit extent: %+v, %v", got, err)
	}
	patch(0x28+6, 6) // eh_depth
	if _, err := Lookup(m, 0, "/boot/vmlinuz"); err == nil || !strings.Contains(err.Error(), "depth 6") {
		t.Fatalf("depth 6: %v", err)
	}
	patch(0x28+12+4, 0)
	if _, err := Lookup(m, 0, "/boot/vmlinuz"); err == nil || !strings.Contains(err.Error(), "outside the file system") {
		t.Fatalf("zero-length extent: %v", err)
	}
	copy(raw, orig)
	raw[0x30] ^= 1 // i_block byte without fixing the checksum
	if _, err := Lookup(m, 0, "/boot/vmlinuz"); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("bad inode checksum: %v", err)
	}
}

// smallImage makes a tiny ext4 (no journal, 1 KiB blocks) for the fuzz
// seed corpus.
func smallImage(t testing.TB) []byte {
	t.Helper()
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	makeTree(t, tree, []fileSpec{
		{path: "boot/vmlinuz", size: 9000},
		{path: "boot/initrd", size: 20000, sparse: true},
		{path: "etc/link", symlink: "../boot"},
		{path: "d/a", size: 1}, {path: "d/b", size: 2},
	})
	img := filepath.Join(dir, "small.img")
	mkfs(t, tree, img, 0, 64<<10, 64<<10, "-b", "1024", "-N", "32", "-O", "^has_journal,^resize_inode")
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func fuzzSeeds(f *testing.F) {
	img := smallImage(f)
	f.Add(img)
	// A second seed with the superblock checksum switched off, so that
	// mutations of the metadata are not all rejected by it.
	b := append([]byte(nil), img...)
	b[superOffset+0x64+1] &^= 0x04 // clear metadata_csum (0x400)
	f.Add(b)
}

func FuzzInfo(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Info(bytes.NewReader(data), 0)
		if err == nil && (s.BlockSize < 1024 || s.Groups == 0) {
			t.Fatalf("Info accepted %+v", s)
		}
	})
}

func FuzzLookup(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, p := range []string{"/boot/vmlinuz", "/boot/initrd", "/etc/link/x", "/d/b", "/"} {
			fi, err := Lookup(bytes.NewReader(data), 0, p)
			if err != nil {
				continue
			}
			for _, e := range fi.Extents {
				if e.Len == 0 || e.Physical+uint64(e.Len) > uint64(len(data))/uint64(fi.BlockSize) {
					t.Fatalf("%s: extent %+v outside %d bytes", p, e, len(data))
				}
			}
		}
		m := &memRW{append([]byte(nil), data...)}
		_, _ = Normalize(m, 0, clampTime)
	})
}

func BenchmarkNormalize(b *testing.B) {
	testutil.RequireTool(b, "mke2fs")
	dir := b.TempDir()
	tree := filepath.Join(dir, "tree")
	var sps []fileSpec
	for i := 0; i < 10000; i++ {
		sps = append(sps, fileSpec{path: fmt.Sprintf("d%02d/f%05d", i%100, i), size: 20000 + i%9000})
	}
	makeTree(b, tree, sps)
	img := filepath.Join(dir, "disk.img")
	mkfs(b, tree, img, mib, 300*mib, 301*mib)
	pristine, err := os.ReadFile(img)
	if err != nil {
		b.Fatal(err)
	}
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		if _, err := f.WriteAt(pristine, 0); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		st, err := Normalize(f, mib, clampTime)
		if err != nil {
			b.Fatal(err)
		}
		if st.InodesChanged < 10000 || st.Groups < 2 {
			b.Fatalf("%+v", st)
		}
		b.ReportMetric(float64(st.InodesInUse), "inodes/op")
	}
}
