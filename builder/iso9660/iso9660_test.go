package iso9660

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/zguest/zguest/builder/fstree"
	"github.com/zguest/zguest/builder/internal/tooltest"
)

var testDate = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

func sampleTree(t *testing.T) (*fstree.Tree, map[string][]byte) {
	t.Helper()
	files := map[string][]byte{
		"openstack/latest/meta_data.json":                    []byte(`{"uuid": "x"}`),
		"openstack/latest/user_data":                         []byte("#cloud-config\n"),
		"openstack/2012-08-10/meta_data.json":                []byte(`{}`),
		"openstack/content/0000":                             bytes.Repeat([]byte("z"), 5000),
		"openstack/content/empty":                            {},
		"ec2/latest/meta-data.json":                          []byte(`{"a":1}`),
		"a_rather_long_file_name_beyond_30_chars.json":       []byte("long"),
		"MixedCase.Name.With.Dots.txt":                       []byte("mixed"),
		"über/ünïcode-naмe":                                  []byte("utf8"),
		"deep/a/b/c/d/e/f/leaf":                              []byte("deep"),
		strings.Repeat("n", 59) + ".json":                    []byte("sixty"),
		"dir.with.dots/and spaces here":                      []byte("spaces"),
		"collide/abcdefghijklmnopqrstuvwxyz0123456789_1.txt": []byte("1"),
		"collide/abcdefghijklmnopqrstuvwxyz0123456789_2.txt": []byte("2"),
	}
	// Many entries so a directory spans several sectors.
	for i := 0; i < 60; i++ {
		files[fmt.Sprintf("many/file-with-a-longish-name-%03d", i)] = []byte(fmt.Sprint(i))
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

func writeISO(t *testing.T, tr *fstree.Tree, opt Options) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "x.iso")
	var buf bytes.Buffer
	n, err := Write(&buf, tr, opt)
	if err != nil {
		t.Fatal(err)
	}
	sz, err := Size(tr, opt)
	if err != nil || sz != n || int64(buf.Len()) != n {
		t.Fatalf("Size()=%d,%v Write()=%d, buffer %d", sz, err, n, buf.Len())
	}
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func defaultOpts() Options {
	return Options{VolumeID: "config-2", Publisher: "zguest test", Application: "ZGUEST-IMAGE", Joliet: true, SourceDate: testDate}
}

// TestReadBackXorriso extracts the whole image with xorriso (Rock Ridge) and
// compares every file byte for byte.
func TestReadBackXorriso(t *testing.T) {
	tooltest.RequireTool(t, "xorriso")
	tr, files := sampleTree(t)
	iso := writeISO(t, tr, defaultOpts())
	out := filepath.Join(t.TempDir(), "x")
	tooltest.Writable(t, out)
	tooltest.Run(t, "xorriso", "-abort_on", "WARNING", "-indev", iso, "-osirrox", "on", "-extract", "/", out)
	compareDir(t, out, files, []string{"emptydir"})
}

// TestJolietXorriso reads only the Joliet tree (Rock Ridge off) and compares
// every file, including non-ASCII names.
func TestJolietXorriso(t *testing.T) {
	tooltest.RequireTool(t, "xorriso")
	tr, files := sampleTree(t)
	iso := writeISO(t, tr, defaultOpts())
	out := filepath.Join(t.TempDir(), "x")
	tooltest.Writable(t, out)
	tooltest.Run(t, "env", "LC_ALL=C.UTF-8", "xorriso", "-abort_on", "WARNING", "-rockridge", "off", "-joliet", "on",
		"-indev", iso, "-osirrox", "on", "-extract", "/", out)
	compareDir(t, out, files, []string{"emptydir"})
}

func compareDir(t *testing.T, dir string, files map[string][]byte, emptyDirs []string) {
	t.Helper()
	seen := map[string]bool{}
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if info.IsDir() {
			return nil
		}
		seen[rel] = true
		want, ok := files[rel]
		if !ok {
			t.Errorf("unexpected file %q", rel)
			return nil
		}
		got, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: content differs (%d vs %d bytes)", rel, len(got), len(want))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for p := range files {
		if !seen[p] {
			t.Errorf("missing %q", p)
		}
	}
	for _, d := range emptyDirs {
		if st, err := os.Stat(filepath.Join(dir, d)); err != nil || !st.IsDir() {
			t.Errorf("empty dir %s missing: %v", d, err)
		}
	}
}

// TestIsoinfo checks the Rock Ridge and Joliet listings and the descriptors
// with genisoimage's isoinfo, and file content through both name spaces.
func TestIsoinfo(t *testing.T) {
	tooltest.RequireTool(t, "isoinfo")
	tr, files := sampleTree(t)
	iso := writeISO(t, tr, defaultOpts())

	d := string(tooltest.Run(t, "isoinfo", "-d", "-i", iso))
	for _, want := range []string{"Volume id: config-2", "Rock Ridge signatures version 1 found", "Joliet with UCS level 3 found", "Publisher id: zguest test"} {
		if !strings.Contains(d, want) {
			t.Errorf("isoinfo -d lacks %q:\n%s", want, d)
		}
	}
	for _, mode := range []string{"-R", "-J"} {
		args := []string{mode, "-f", "-i", iso}
		list := strings.Split(strings.TrimSpace(string(tooltest.Run(t, "isoinfo", args...))), "\n")
		got := map[string]bool{}
		for _, l := range list {
			got[strings.TrimPrefix(l, "/")] = true
		}
		var want []string
		for p := range files {
			want = append(want, p)
		}
		sort.Strings(want)
		for _, p := range want {
			if mode == "-J" && strings.Trim(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./ ") != "" {
				continue // isoinfo shows Joliet names in a single-byte charset; TestJolietXorriso covers them
			}
			if !got[p] {
				t.Errorf("isoinfo %s -f: %q missing", mode, p)
			}
		}
		for _, p := range []string{"openstack/latest/meta_data.json", "MixedCase.Name.With.Dots.txt", "a_rather_long_file_name_beyond_30_chars.json"} {
			c := tooltest.Run(t, "isoinfo", mode, "-i", iso, "-x", "/"+p)
			if !bytes.Equal(c, files[p]) {
				t.Errorf("isoinfo %s -x %s = %q, want %q", mode, p, c, files[p])
			}
		}
	}
	// The plain ECMA-119 names must be valid level 2 identifiers.
	for _, l := range strings.Fields(string(tooltest.Run(t, "isoinfo", "-f", "-i", iso))) {
		for _, c := range strings.Split(strings.TrimPrefix(l, "/"), "/") {
			c = strings.TrimSuffix(c, ";1")
			if len(c) > 31 || strings.Trim(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.~") != "" {
				t.Errorf("bad ECMA-119 identifier %q", c)
			}
		}
	}
}

func TestBlkid(t *testing.T) {
	tooltest.RequireTool(t, "blkid")
	tr, _ := sampleTree(t)
	iso := writeISO(t, tr, defaultOpts())
	out := string(tooltest.Run(t, "blkid", "-p", "-o", "export", iso))
	if !strings.Contains(out, "LABEL=config-2\n") || !strings.Contains(out, "TYPE=iso9660") {
		t.Errorf("blkid -p:\n%s", out)
	}
}

func TestNoJoliet(t *testing.T) {
	tooltest.RequireTool(t, "isoinfo")
	tr, _ := sampleTree(t)
	if err := tr.AddBytes(strings.Repeat("L", 100), []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := Write(new(bytes.Buffer), tr, defaultOpts()); !errors.Is(err, ErrJoliet) {
		t.Fatalf("100-character name with Joliet: err = %v, want ErrJoliet", err)
	}
	opt := defaultOpts()
	opt.Joliet = false
	iso := writeISO(t, tr, opt)
	d := string(tooltest.Run(t, "isoinfo", "-d", "-i", iso))
	if !strings.Contains(d, "NO Joliet present") {
		t.Errorf("Joliet present although disabled:\n%s", d)
	}
	c := tooltest.Run(t, "isoinfo", "-R", "-i", iso, "-x", "/"+strings.Repeat("L", 100))
	if string(c) != "x" {
		t.Errorf("long name content %q", c)
	}
}

// TestMaxName puts a 255-byte name through Rock Ridge, which needs NM
// entries split over a continuation area.
func TestMaxName(t *testing.T) {
	tooltest.RequireTool(t, "xorriso")
	tr := fstree.New()
	name := strings.Repeat("ab", 127) + "c"
	files := map[string][]byte{name: []byte("max"), "d/" + name: []byte("max2")}
	for p, b := range files {
		if err := tr.AddBytes(p, b); err != nil {
			t.Fatal(err)
		}
	}
	opt := defaultOpts()
	opt.Joliet = false
	iso := writeISO(t, tr, opt)
	out := filepath.Join(t.TempDir(), "x")
	tooltest.Writable(t, out)
	tooltest.Run(t, "xorriso", "-abort_on", "WARNING", "-indev", iso, "-osirrox", "on", "-extract", "/", out)
	compareDir(t, out, files, nil)
}

func TestReproducible(t *testing.T) {
	tr, _ := sampleTree(t)
	var a, b bytes.Buffer
	if _, err := Write(&a, tr, defaultOpts()); err != nil {
		t.Fatal(err)
	}
	tr2, _ := sampleTree(t) // built from a map: different insertion order
	if _, err := Write(&b, tr2, defaultOpts()); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("same tree gave different images")
	}
	opt := defaultOpts()
	opt.SourceDate = testDate.Add(time.Second)
	var c bytes.Buffer
	if _, err := Write(&c, tr, opt); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a.Bytes(), c.Bytes()) {
		t.Fatal("source date does not reach the image")
	}
}

func TestChangedFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	os.WriteFile(p, []byte("12345"), 0o644)
	tr, err := fstree.FromDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(p, []byte("123"), 0o644)
	if _, err := Write(new(bytes.Buffer), tr, defaultOpts()); err == nil || !strings.Contains(err.Error(), "shrank") {
		t.Fatalf("err = %v, want shrank", err)
	}
}

func TestWriteFileEqualsWrite(t *testing.T) {
	tr, _ := sampleTree(t)
	var buf bytes.Buffer
	if _, err := Write(&buf, tr, defaultOpts()); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "f.iso"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := WriteFile(f, tr, defaultOpts()); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(f.Name())
	if !bytes.Equal(b, buf.Bytes()) {
		t.Fatal("WriteFile and Write differ")
	}
}
