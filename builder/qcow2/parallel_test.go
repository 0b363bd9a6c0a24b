package qcow2

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/zguest/zguest/builder/internal/tooltest"
)

// realData returns about n bytes of real file content: regular files
// under roots in walk order, concatenated (binaries, libraries, text,
// already compressed files), so that clusters compress as they do in a
// real image.
func realData(t testing.TB, n int, roots ...string) []byte {
	t.Helper()
	var out []byte
	for _, root := range roots {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || len(out) >= n {
				return fs.SkipDir
			}
			if !d.Type().IsRegular() {
				return nil
			}
			b, err := os.ReadFile(p)
			if err == nil {
				out = append(out, b...)
			}
			return nil
		})
	}
	if len(out) < n {
		t.Fatalf("only %d bytes of files under %v, want %d", len(out), roots, n)
	}
	return out[:n]
}

// TestParallelCompressionReproducible writes real files' content with 1,
// 2 and 4 workers: the outputs are byte for byte the same, and qemu-img
// accepts them and reads back the source.
func TestParallelCompressionReproducible(t *testing.T) {
	tooltest.RequireTool(t, "qemu-img")
	dir := t.TempDir()
	data := realData(t, 24<<20, "/usr/bin", "/usr/share")
	src := filepath.Join(dir, "real.raw")
	f, err := os.Create(src)
	if err != nil {
		t.Fatal(err)
	}
	// Three extents with holes between them, one not cluster aligned.
	for _, e := range [][2]int{{0, 10 << 20}, {16 << 20, 8 << 20}, {40<<20 + 1000, 6 << 20}} {
		if _, err := f.WriteAt(data[:e[1]], int64(e[0])); err != nil {
			t.Fatal(err)
		}
		data = data[e[1]:]
	}
	if err := f.Truncate(64 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	var first []byte
	var firstRes Result
	for _, workers := range []int{1, 2, 4} {
		img := filepath.Join(dir, fmt.Sprintf("w%d.qcow2", workers))
		res := convertRaw(t, src, img, Options{Compress: true, Workers: workers})
		b, err := os.ReadFile(img)
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first, firstRes = b, res
			if res.CompressedClusters == 0 || res.CompressedClusters == res.DataClusters {
				t.Fatalf("%+v: want both compressed and plain clusters from real data", res)
			}
			qemuCheck(t, img)
			tooltest.Run(t, "qemu-img", "compare", "-f", "raw", "-F", "qcow2", src, img)
			t.Logf("%d workers: %+v", workers, res)
			continue
		}
		if res != firstRes || !bytes.Equal(b, first) {
			t.Fatalf("%d workers: output differs from 1 worker's (%+v, %+v)", workers, res, firstRes)
		}
	}
}
