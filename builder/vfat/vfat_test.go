package vfat

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zguest/zguest/builder/fstree"
	"github.com/zguest/zguest/builder/internal/tooltest"
)

var testDate = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

func sample(t *testing.T) (*fstree.Tree, map[string][]byte) {
	t.Helper()
	files := map[string][]byte{
		"openstack/latest/meta_data.json":              []byte(`{"uuid": "x"}`),
		"openstack/latest/user_data":                   []byte("#cloud-config\n"),
		"openstack/content/0000":                       bytes.Repeat([]byte("z"), 5000),
		"openstack/content/empty":                      {},
		"ec2/latest/meta-data.json":                    []byte(`{}`),
		"README.TXT":                                   []byte("exact 8.3"),
		"a_rather_long_file_name_beyond_30_chars.json": []byte("long"),
		"über/ünïcode-naмe":                            []byte("utf8"),
		"dir.with.dots/and spaces here":                []byte("spaces"),
		"deep/a/b/c/d/e/leaf":                          []byte("deep"),
		"two-clusters":                                 bytes.Repeat([]byte{1}, 2049),
		strings.Repeat("n", 250):                       []byte("long name"),
	}
	for i := 0; i < 100; i++ {
		files[fmt.Sprintf("many/longish-name-%03d.data", i)] = []byte(fmt.Sprint(i))
	}
	tr := fstree.New()
	for p, b := range files {
		if err := tr.AddBytes(p, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := tr.Mkdir("emptydir"); err != nil {
		t.Fatal(err)
	}
	return tr, files
}

func opts() Options {
	return Options{Label: "config-2", SourceDate: testDate}
}

func writeImage(t *testing.T, tr *fstree.Tree, o Options) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "x.vfat")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n, err := WriteFile(f, tr, o)
	if err != nil {
		t.Fatal(err)
	}
	if n != DefaultSize && o.Size == 0 {
		t.Fatalf("size %d", n)
	}
	return p
}

func TestFsckClean(t *testing.T) {
	tooltest.RequireTool(t, "fsck.vfat")
	tr, _ := sample(t)
	img := writeImage(t, tr, opts())
	out := tooltest.Run(t, "fsck.vfat", "-n", "-v", img)
	if bytes.Contains(out, []byte("differ")) || bytes.Contains(out, []byte("nvalid")) {
		t.Errorf("fsck.vfat -n -v:\n%s", out)
	}
}

// TestMtoolsReadBack copies the whole volume out with mcopy (mtools checks
// the boot sector and FAT before it reads anything) and compares every file.
func TestMtoolsReadBack(t *testing.T) {
	tooltest.RequireTool(t, "mcopy")
	tr, files := sample(t)
	img := writeImage(t, tr, opts())
	out := t.TempDir()
	tooltest.Run(t, "env", "LC_ALL=C.UTF-8", "mcopy", "-s", "-n", "-i", img, "::/*", out)
	seen := 0
	err := filepath.Walk(out, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(out, p)
		want, ok := files[rel]
		if !ok {
			t.Errorf("unexpected file %q", rel)
			return nil
		}
		seen++
		got, _ := os.ReadFile(p)
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen != len(files) {
		t.Errorf("read back %d files, want %d", seen, len(files))
	}
	if st, err := os.Stat(filepath.Join(out, "emptydir")); err != nil || !st.IsDir() {
		t.Errorf("emptydir: %v", err)
	}
	typ := tooltest.Run(t, "mtype", "-i", img, "::/openstack/latest/meta_data.json")
	if string(typ) != `{"uuid": "x"}` {
		t.Errorf("mtype = %q", typ)
	}
	dir := string(tooltest.Run(t, "mdir", "-i", img, "::/openstack/latest"))
	if !strings.Contains(dir, "meta_data.json") {
		t.Errorf("mdir:\n%s", dir)
	}
}

func TestBlkid(t *testing.T) {
	tooltest.RequireTool(t, "blkid")
	tr, _ := sample(t)
	img := writeImage(t, tr, opts())
	out := string(tooltest.Run(t, "blkid", "-p", "-o", "export", img))
	for _, want := range []string{"LABEL=config-2\n", "TYPE=vfat\n", "VERSION=FAT16\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("blkid lacks %q:\n%s", want, out)
		}
	}
}

// TestGeometryMatchesMkfs compares the boot sector geometry with what
// mkfs.fat writes for the same size.
func TestGeometryMatchesMkfs(t *testing.T) {
	tooltest.RequireTool(t, "mkfs.vfat")
	for _, mib := range []int64{16, 33, 48, 63, 64, 65, 100, 128, 256, 1024} {
		p := filepath.Join(t.TempDir(), "m.vfat")
		tooltest.Run(t, "mkfs.vfat", "-C", "-F", "16", "-n", "config-2", p, fmt.Sprint(mib*1024))
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		bs := make([]byte, 512)
		f.ReadAt(bs, 0)
		f.Close()
		os.Remove(p)
		g, err := ComputeGeometry(mib << 20)
		if err != nil {
			t.Fatal(err)
		}
		want := Geometry{
			TotalSectors:      uint32(mib << 11),
			SectorsPerCluster: uint32(bs[13]),
			ReservedSectors:   uint32(binary.LittleEndian.Uint16(bs[14:])),
			FATSectors:        uint32(binary.LittleEndian.Uint16(bs[22:])),
			RootSectors:       32,
		}
		want.Clusters = (want.TotalSectors - want.DataStart()) / want.SectorsPerCluster
		if g != want {
			t.Errorf("%d MiB: geometry %+v, mkfs.fat %+v", mib, g, want)
		}
	}
}

// TestFATCoversEveryCluster guards against go-diskfs's bug (a FAT two
// entries short at 64 MiB): for every size the FAT must hold the two
// reserved entries plus one per data cluster, and not be longer than
// alignment requires.
func TestFATCoversEveryCluster(t *testing.T) {
	for size := int64(MinSize); size <= MaxSize; size += 1 << 17 {
		g, err := ComputeGeometry(size)
		if err != nil {
			t.Fatalf("%d: %v", size, err)
		}
		entries := g.FATSectors * sectorSize / 2
		if entries < g.Clusters+2 {
			t.Fatalf("size %d: FAT holds %d entries, needs %d", size, entries, g.Clusters+2)
		}
		if (g.FATSectors-g.SectorsPerCluster)*sectorSize/2 >= g.Clusters+2 {
			t.Fatalf("size %d: FAT of %d sectors is longer than needed", size, g.FATSectors)
		}
		if g.DataStart()%g.SectorsPerCluster != 0 {
			t.Fatalf("size %d: data region not cluster aligned", size)
		}
	}
	// The exact case from the bug report: 64 MiB must be clean for fsck.
	if _, err := os.Stat("/sbin/fsck.vfat"); err == nil {
		tr, _ := sample(t)
		img := writeImage(t, tr, opts())
		tooltest.Run(t, "fsck.vfat", "-n", img)
	}
}

func TestSizes(t *testing.T) {
	tooltest.RequireTool(t, "fsck.vfat")
	tr, _ := sample(t)
	for _, size := range []int64{MinSize, 65 << 20, 300 << 20} {
		o := opts()
		o.Size = size
		img := writeImage(t, tr, o)
		if st, _ := os.Stat(img); st.Size() != size {
			t.Errorf("size %d, want %d", st.Size(), size)
		}
		tooltest.Run(t, "fsck.vfat", "-n", img)
	}
}

func TestStreamEqualsFile(t *testing.T) {
	tr, _ := sample(t)
	img := writeImage(t, tr, opts())
	var buf bytes.Buffer
	if _, err := Write(&buf, tr, opts()); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(img)
	if !bytes.Equal(b, buf.Bytes()) {
		t.Fatal("Write and WriteFile differ")
	}
	var again bytes.Buffer
	tr2, _ := sample(t)
	Write(&again, tr2, opts())
	if !bytes.Equal(again.Bytes(), buf.Bytes()) {
		t.Fatal("not reproducible")
	}
}

func TestErrors(t *testing.T) {
	tr := fstree.New()
	tr.AddBytes("a:b", nil)
	if _, err := Write(new(bytes.Buffer), tr, opts()); !errors.Is(err, ErrName) {
		t.Errorf("colon: %v", err)
	}
	tr = fstree.New()
	tr.AddBytes("Abc", nil)
	tr.AddBytes("aBC", nil)
	if _, err := Write(new(bytes.Buffer), tr, opts()); !errors.Is(err, ErrName) {
		t.Errorf("case clash: %v", err)
	}
	tr = fstree.New()
	tr.AddFile("big", 70<<20, false, "big", nil)
	if _, err := Write(new(bytes.Buffer), tr, opts()); !errors.Is(err, ErrNoSpace) {
		t.Errorf("too big: %v", err)
	}
	tr = fstree.New()
	for i := 0; i < 600; i++ {
		tr.AddBytes(fmt.Sprintf("F%d", i), nil)
	}
	if _, err := Write(new(bytes.Buffer), tr, opts()); !errors.Is(err, ErrNoSpace) {
		t.Errorf("root full: %v", err)
	}
}
