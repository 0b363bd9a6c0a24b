package qcow2

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/zguest/zguest/builder/internal/tooltest"
)

// makeRaw writes a sparse raw image of size bytes with data at the given
// extents: random bytes, a compressible run and some explicit zero blocks.
func makeRaw(t testing.TB, dir string, size int64, extents [][2]int64) string {
	t.Helper()
	p := filepath.Join(dir, "src.raw")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i, e := range extents {
		b := make([]byte, e[1])
		switch i % 3 {
		case 0:
			for j := range b {
				b[j] = byte(rng.Uint32())
			}
		case 1:
			for j := range b {
				b[j] = "compressible text "[j%18]
			}
		case 2: // explicit zeros with a few bytes set: mostly zero clusters
			for j := 0; j < len(b); j += 200_000 {
				b[j] = 1
			}
		}
		if _, err := f.WriteAt(b, e[0]); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

var testExtents = [][2]int64{
	{0, 100_000},              // straddles clusters from the start
	{3 << 20, 1 << 20},        // compressible
	{5<<20 + 123, 1_500_000},  // sparse zeros with bytes set, unaligned
	{600 << 20, 70_000},       // second L2 table at 64 KiB clusters
	{(700 << 20) - 1000, 999}, // ends one KiB before a cluster end
}

func convertRaw(t testing.TB, src, dst string, opt Options) Result {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	rs, err := NewRawFile(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	res, err := Write(out, rs, opt)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func toRaw(t testing.TB, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	st, _ := in.Stat()
	im, err := Open(in, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := WriteRaw(out, im, nil); err != nil {
		t.Fatal(err)
	}
}

func qemuCheck(t testing.TB, img string) {
	t.Helper()
	out, stderr, err := tooltest.RunErr("qemu-img", "check", img)
	if err != nil || !strings.Contains(string(out), "No errors were found") || strings.Contains(string(out), "leaked") {
		t.Fatalf("qemu-img check %s: %v\n%s%s", img, err, out, stderr)
	}
}

func sameFile(t testing.TB, a, b string) {
	t.Helper()
	fa, err := os.Open(a)
	if err != nil {
		t.Fatal(err)
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	sa, _ := fa.Stat()
	sb, _ := fb.Stat()
	if sa.Size() != sb.Size() {
		t.Fatalf("%s is %d bytes, %s is %d", a, sa.Size(), b, sb.Size())
	}
	x, y := make([]byte, 4<<20), make([]byte, 4<<20)
	for off := int64(0); off < sa.Size(); off += int64(len(x)) {
		n, _ := fa.ReadAt(x, off)
		m, _ := fb.ReadAt(y, off)
		if n != m || !bytes.Equal(x[:n], y[:m]) {
			t.Fatalf("%s and %s differ in the 4 MiB at %d", a, b, off)
		}
	}
}

func allocated(t testing.TB, p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Sys().(*syscall.Stat_t).Blocks * 512
}

// TestWriteCheckCompare writes images in every variant, and checks them with
// qemu-img check and compare, our own Check, and a byte-exact round trip.
func TestWriteCheckCompare(t *testing.T) {
	tooltest.RequireTool(t, "qemu-img")
	dir := t.TempDir()
	src := makeRaw(t, dir, 704<<20, testExtents)
	for _, v := range []struct {
		name string
		opt  Options
	}{
		{"v3", Options{}},
		{"v2", Options{Version: 2}},
		{"v3-compressed", Options{Compress: true}},
		{"v2-compressed", Options{Version: 2, Compress: true}},
		{"v3-4k-clusters", Options{ClusterBits: 12}},
		{"v3-2m-clusters-compressed", Options{ClusterBits: 21, Compress: true}},
		{"v3-one-worker", Options{Workers: 1, Compress: true}},
	} {
		t.Run(v.name, func(t *testing.T) {
			img := filepath.Join(t.TempDir(), "out.qcow2")
			res := convertRaw(t, src, img, v.opt)
			qemuCheck(t, img)
			tooltest.Run(t, "qemu-img", "compare", "-f", "raw", "-F", "qcow2", src, img)
			info := string(tooltest.Run(t, "qemu-img", "info", img))
			wantCompat := "1.1"
			if v.opt.Version == 2 {
				wantCompat = "0.10"
			}
			if !strings.Contains(info, "compat: "+wantCompat) {
				t.Errorf("qemu-img info:\n%s", info)
			}
			if v.opt.Compress && res.CompressedClusters == 0 {
				t.Error("no cluster was compressed")
			}
			back := filepath.Join(t.TempDir(), "back.raw")
			toRaw(t, img, back)
			sameFile(t, src, back)
			if a := allocated(t, back); a > 8<<20 {
				t.Errorf("round-tripped raw allocates %d bytes; holes were not kept", a)
			}
			f, _ := os.Open(img)
			defer f.Close()
			st, _ := f.Stat()
			im, err := Open(f, st.Size())
			if err != nil {
				t.Fatal(err)
			}
			cr, err := im.Check()
			if err != nil || !cr.OK() {
				t.Fatalf("Check: %v %+v", err, cr)
			}
		})
	}
}

// TestNoLargerThanQemu compares output sizes with qemu-img convert.
func TestNoLargerThanQemu(t *testing.T) {
	tooltest.RequireTool(t, "qemu-img")
	dir := t.TempDir()
	src := makeRaw(t, dir, 704<<20, testExtents)
	for _, compress := range []bool{false, true} {
		ours := filepath.Join(dir, fmt.Sprintf("ours-%v.qcow2", compress))
		theirs := filepath.Join(dir, fmt.Sprintf("qemu-%v.qcow2", compress))
		convertRaw(t, src, ours, Options{Compress: compress})
		args := []string{"convert", "-f", "raw", "-O", "qcow2", src, theirs}
		if compress {
			args = append(args[:1], append([]string{"-c"}, args[1:]...)...)
		}
		tooltest.Run(t, "qemu-img", args...)
		so, _ := os.Stat(ours)
		sq, _ := os.Stat(theirs)
		if so.Size() > sq.Size() {
			t.Errorf("compress=%v: ours %d bytes, qemu-img %d", compress, so.Size(), sq.Size())
		}
		t.Logf("compress=%v: ours %d bytes, qemu-img %d", compress, so.Size(), sq.Size())
	}
}

// TestReadQemuImages reads images qemu-img wrote: plain, compressed, v2,
// small clusters.
func TestReadQemuImages(t *testing.T) {
	tooltest.RequireTool(t, "qemu-img")
	dir := t.TempDir()
	src := makeRaw(t, dir, 704<<20, testExtents)
	for name, args := range map[string][]string{
		"plain":      {},
		"compressed": {"-c"},
		"v2":         {"-o", "compat=0.10"},
		"v2-comp":    {"-c", "-o", "compat=0.10"},
		"4k":         {"-o", "cluster_size=4096"},
		"2m-comp":    {"-c", "-o", "cluster_size=2M"},
		"refbits1":   {"-o", "refcount_bits=1"},
		"refbits64":  {"-o", "refcount_bits=64"},
	} {
		t.Run(name, func(t *testing.T) {
			img := filepath.Join(t.TempDir(), "q.qcow2")
			a := append([]string{"convert", "-f", "raw", "-O", "qcow2"}, args...)
			tooltest.Run(t, "qemu-img", append(a, src, img)...)
			back := filepath.Join(t.TempDir(), "back.raw")
			toRaw(t, img, back)
			sameFile(t, src, back)
			f, _ := os.Open(img)
			defer f.Close()
			st, _ := f.Stat()
			im, err := Open(f, st.Size())
			if err != nil {
				t.Fatal(err)
			}
			cr, err := im.Check()
			if err != nil || !cr.OK() {
				t.Fatalf("Check on a qemu-img image: %v %+v", err, cr)
			}
			s, _ := im.Stats()
			if (len(args) > 0 && args[0] == "-c") != (s.CompressedClusters > 0) {
				t.Errorf("stats %+v for %v", s, args)
			}
		})
	}
}

func TestOddSizesAndEmpty(t *testing.T) {
	tooltest.RequireTool(t, "qemu-img")
	for _, size := range []int64{0, 512, 65536, 65536*3 + 512, 1<<20 + 4096} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			dir := t.TempDir()
			var ext [][2]int64
			if size >= 512 {
				ext = [][2]int64{{size - 512, 512}}
			}
			src := makeRaw(t, dir, size, ext)
			img := filepath.Join(dir, "o.qcow2")
			convertRaw(t, src, img, Options{})
			qemuCheck(t, img)
			tooltest.Run(t, "qemu-img", "compare", "-f", "raw", "-F", "qcow2", src, img)
			back := filepath.Join(dir, "back.raw")
			toRaw(t, img, back)
			sameFile(t, src, back)
		})
	}
}

// TestDeterministic: the same input gives the same bytes, whatever the
// number of workers and the hole layout of the source.
func TestDeterministic(t *testing.T) {
	dir := t.TempDir()
	src := makeRaw(t, dir, 64<<20, [][2]int64{{0, 3 << 20}, {10 << 20, 2 << 20}, {20 << 20, 1 << 20}})
	dense := filepath.Join(dir, "dense.raw")
	b, _ := os.ReadFile(src)
	os.WriteFile(dense, b, 0o644) // same content, no holes
	var outs [][]byte
	for i, c := range []struct {
		src     string
		workers int
	}{{src, 1}, {src, 4}, {dense, 3}} {
		p := filepath.Join(dir, fmt.Sprintf("o%d.qcow2", i))
		convertRaw(t, c.src, p, Options{Compress: true, Workers: c.workers})
		o, _ := os.ReadFile(p)
		outs = append(outs, o)
	}
	for i := 1; i < len(outs); i++ {
		if !bytes.Equal(outs[0], outs[i]) {
			t.Fatalf("output %d differs", i)
		}
	}
}

// validImage returns a small image written by us.
func validImage(t testing.TB, opt Options) []byte {
	t.Helper()
	dir := t.TempDir()
	src := makeRaw(t, dir, 4<<20, [][2]int64{{0, 70000}, {1 << 20, 100000}, {3 << 20, 5000}})
	img := filepath.Join(dir, "v.qcow2")
	convertRaw(t, src, img, opt)
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func openBytes(b []byte) (*Image, error) { return Open(bytes.NewReader(b), int64(len(b))) }

// TestHostile feeds crafted images and expects clear errors.
func TestHostile(t *testing.T) {
	good := validImage(t, Options{ClusterBits: 12})
	im, err := openBytes(good)
	if err != nil {
		t.Fatal(err)
	}
	h := im.Header()
	be := binary.BigEndian
	mod := func(f func(b []byte)) []byte {
		b := append([]byte(nil), good...)
		f(b)
		return b
	}
	firstL2 := int64(0)
	for _, o := range im.l1 {
		if o != 0 {
			firstL2 = int64(o)
			break
		}
	}
	cases := []struct {
		name string
		img  []byte
		want error
		msg  string
	}{
		{"truncated header", good[:50], ErrCorrupt, "truncated header"},
		{"truncated v3 header", good[:80], ErrCorrupt, "truncated"},
		{"bad magic", mod(func(b []byte) { b[0] = 'X' }), ErrCorrupt, "bad magic"},
		{"version 4", mod(func(b []byte) { be.PutUint32(b[4:], 4) }), ErrUnsupported, "version 4"},
		{"2 GiB clusters", mod(func(b []byte) { be.PutUint32(b[20:], 31) }), ErrCorrupt, "cluster size"},
		{"16 EiB virtual size", mod(func(b []byte) { be.PutUint64(b[24:], ^uint64(0)) }), ErrCorrupt, "virtual size"},
		{"1 PiB virtual size, small L1", mod(func(b []byte) { be.PutUint64(b[24:], 1<<50) }), ErrCorrupt, "virtual size"},
		{"L1 past EOF", mod(func(b []byte) { be.PutUint64(b[40:], uint64(len(good))+4096) }), ErrCorrupt, "past the end"},
		{"L1 size huge", mod(func(b []byte) { be.PutUint32(b[36:], 1<<30) }), ErrCorrupt, "L1 table"},
		{"L1 unaligned", mod(func(b []byte) { be.PutUint64(b[40:], h.L1TableOffset+8) }), ErrCorrupt, "not cluster aligned"},
		{"refcount table past EOF", mod(func(b []byte) { be.PutUint32(b[56:], 1000) }), ErrCorrupt, "refcount table"},
		{"refcount order 7", mod(func(b []byte) { be.PutUint32(b[96:], 7) }), ErrCorrupt, "refcount order"},
		{"encrypted", mod(func(b []byte) { be.PutUint32(b[32:], 1) }), ErrUnsupported, "encrypted"},
		{"backing file", mod(func(b []byte) { be.PutUint64(b[8:], 200) }), ErrUnsupported, "backing file"},
		{"marked corrupt", mod(func(b []byte) { be.PutUint64(b[72:], 2) }), ErrCorrupt, "marked corrupt"},
		{"extended L2", mod(func(b []byte) { be.PutUint64(b[72:], 16) }), ErrUnsupported, "extended L2"},
		{"header length", mod(func(b []byte) { be.PutUint32(b[100:], 101) }), ErrCorrupt, "header length"},
		{"L2 entry past EOF", mod(func(b []byte) { be.PutUint64(b[firstL2:], uint64(len(good))+1<<20|flagCopied) }), ErrCorrupt, "past the end"},
		{"L2 entry unaligned", mod(func(b []byte) { be.PutUint64(b[firstL2:], 4096*3+512|flagCopied) }), ErrCorrupt, "not cluster aligned"},
		{"L2 reserved bits", mod(func(b []byte) { be.PutUint64(b[firstL2:], 4096*3|1<<57) }), ErrCorrupt, "reserved bits"},
		{"compressed garbage", mod(func(b []byte) { be.PutUint64(b[firstL2:], flagCompressed|uint64(h.L1TableOffset)) }), ErrCorrupt, "inflates"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := readAll(c.img)
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("err = %v, want %v containing %q", err, c.want, c.msg)
			}
		})
	}

	// Refcount overflow: with 1-bit refcounts, a data cluster used twice.
	t.Run("refcount overflow", func(t *testing.T) {
		tooltest.RequireTool(t, "qemu-img")
		dir := t.TempDir()
		src := makeRaw(t, dir, 1<<20, [][2]int64{{0, 200000}})
		img := filepath.Join(dir, "r.qcow2")
		tooltest.Run(t, "qemu-img", "convert", "-f", "raw", "-O", "qcow2", "-o", "refcount_bits=1", src, img)
		b, _ := os.ReadFile(img)
		im, err := openBytes(b)
		if err != nil {
			t.Fatal(err)
		}
		var l2 int64
		for _, o := range im.l1 {
			if o != 0 {
				l2 = int64(o)
			}
		}
		copy(b[l2+8:l2+16], b[l2:l2+8]) // cluster 1 maps to cluster 0's data
		im, err = openBytes(b)
		if err != nil {
			t.Fatal(err)
		}
		cr, err := im.Check()
		if err != nil || cr.OK() || !strings.Contains(strings.Join(cr.Messages, "\n"), "refcount overflow") {
			t.Fatalf("Check = %+v, %v; want a refcount overflow", cr, err)
		}
	})
}

// readAll opens an image and reads everything the way convert does, with
// bounds so fuzzed images claiming huge sizes stay cheap.
func readAll(b []byte) error {
	im, err := openBytes(b)
	if err != nil {
		return err
	}
	if _, err := im.Stats(); err != nil {
		return err
	}
	buf := make([]byte, 64<<10)
	off, budget := int64(0), 64
	for budget > 0 {
		start, end, err := im.Data(off)
		if err != nil {
			if err.Error() == "EOF" {
				break
			}
			return err
		}
		for p := start; p < end && budget > 0; p += int64(len(buf)) {
			budget--
			if _, err := im.ReadAt(buf, p); err != nil && err.Error() != "EOF" {
				return err
			}
		}
		off = end
	}
	_, err = im.Check()
	return err
}

// smallImage returns a tiny image (512-byte clusters) to seed the fuzzer;
// the Go fuzzer crawls on inputs of hundreds of kilobytes.
func smallImage(t testing.TB, opt Options) []byte {
	t.Helper()
	dir := t.TempDir()
	src := makeRaw(t, dir, 96<<10, [][2]int64{{0, 1500}, {20000, 3000}, {60000, 700}})
	img := filepath.Join(dir, "s.qcow2")
	opt.ClusterBits = 9
	convertRaw(t, src, img, opt)
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzOpen(f *testing.F) {
	f.Add(smallImage(f, Options{}))
	f.Add(smallImage(f, Options{Compress: true}))
	f.Add(smallImage(f, Options{Version: 2, Compress: true}))
	if _, err := exec.LookPath("qemu-img"); err == nil {
		dir := f.TempDir()
		src := makeRaw(f, dir, 64<<10, [][2]int64{{0, 2000}, {40000, 600}})
		for i, args := range [][]string{{"-c", "-o", "cluster_size=512"}, {"-o", "cluster_size=512,refcount_bits=1"}} {
			img := filepath.Join(dir, fmt.Sprintf("%d.qcow2", i))
			a := append([]string{"convert", "-f", "raw", "-O", "qcow2"}, args...)
			if out, err := exec.Command("qemu-img", append(a, src, img)...).CombinedOutput(); err != nil {
				f.Fatalf("%v: %s", err, out)
			}
			b, _ := os.ReadFile(img)
			f.Add(b)
		}
	}
	f.Add([]byte("QFI\xfb"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 1<<20 {
			return
		}
		err := readAll(b)
		if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupported) {
			t.Fatalf("error that is neither ErrCorrupt nor ErrUnsupported: %v", err)
		}
	})
}
