package debpkg

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/zguest/zguest/internal/testutil"
)

// TestDpkgDebBuilt reads packages dpkg-deb itself builds, with each
// compression it offers.
func TestDpkgDebBuilt(t *testing.T) {
	testutil.RequireTool(t, "dpkg-deb")
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	os.MkdirAll(filepath.Join(tree, "DEBIAN"), 0o755)
	os.MkdirAll(filepath.Join(tree, "usr/lib/zguest"), 0o755)
	control := "Package: zguest-agent\nVersion: 1.2.0+3.gabc1234\nArchitecture: s390x\nMaintainer: t <t@t>\nDescription: test\n two lines\n"
	os.WriteFile(filepath.Join(tree, "DEBIAN/control"), []byte(control), 0o644)
	bin := bytes.Repeat([]byte("\x7fELF zguest"), 5000)
	os.WriteFile(filepath.Join(tree, "usr/lib/zguest/zguest-agent"), bin, 0o755)
	for _, z := range []string{"xz", "gzip", "zstd", "none"} {
		deb := filepath.Join(dir, z+".deb")
		if out, err := exec.Command("dpkg-deb", "--root-owner-group", "-Z"+z, "-b", tree, deb).CombinedOutput(); err != nil {
			t.Fatalf("dpkg-deb -Z%s: %v\n%s", z, err, out)
		}
		b, _ := os.ReadFile(deb)
		p, err := Open(b)
		if err != nil {
			t.Fatalf("%s: %v", z, err)
		}
		got, err := p.File("/usr/lib/zguest/zguest-agent")
		if err != nil || !bytes.Equal(got, bin) {
			t.Errorf("%s: File: %d bytes, %v; want %d bytes", z, len(got), err, len(bin))
		}
		c, err := p.Control()
		if err != nil || c["Version"] != "1.2.0+3.gabc1234" || c["Package"] != "zguest-agent" || c["Description"] != "test\ntwo lines" {
			t.Errorf("%s: Control: %q, %v", z, c, err)
		}
		if _, err := p.File("/usr/lib/zguest"); err == nil {
			t.Errorf("%s: File(directory): no error", z)
		}
		if _, err := p.File("/usr/bin/none"); err == nil {
			t.Errorf("%s: File(missing): no error", z)
		}
	}
}

// arArchive writes an ar archive of the members, in order.
func arArchive(members ...[2]string) []byte {
	var b bytes.Buffer
	b.WriteString(Magic)
	for _, m := range members {
		fmt.Fprintf(&b, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", m[0], 0, 0, 0, "100644", len(m[1]))
		b.WriteString(m[1])
		if len(m[1])%2 == 1 {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

func tarOf(files map[string]string) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for n, c := range files {
		tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(c)), Typeflag: tar.TypeReg})
		tw.Write([]byte(c))
	}
	tw.Close()
	return b.Bytes()
}

func TestCompressions(t *testing.T) {
	data := tarOf(map[string]string{"./usr/lib/zguest/zguest-agent": "odd-length!"})
	var gz, xzb, zs bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(data)
	w.Close()
	xw, _ := xz.NewWriter(&xzb)
	xw.Write(data)
	xw.Close()
	zw, _ := zstd.NewWriter(&zs)
	zw.Write(data)
	zw.Close()
	control := tarOf(map[string]string{"./control": "Package: x\nVersion: 3\n"})
	for ext, d := range map[string][]byte{"": data, ".gz": gz.Bytes(), ".xz": xzb.Bytes(), ".zst": zs.Bytes()} {
		b := arArchive([2]string{"debian-binary", "2.0\n"}, [2]string{"control.tar", string(control)}, [2]string{"data.tar" + ext, string(d)})
		p, err := Open(b)
		if err != nil {
			t.Fatalf("data.tar%s: %v", ext, err)
		}
		if got, err := p.File("usr/lib/zguest/zguest-agent"); err != nil || string(got) != "odd-length!" {
			t.Errorf("data.tar%s: %q %v", ext, got, err)
		}
	}
}

func TestInvalid(t *testing.T) {
	good := arArchive([2]string{"debian-binary", "2.0\n"})
	for name, b := range map[string][]byte{
		"ELF":              []byte("\x7fELF\x02\x02\x01"),
		"empty":            nil,
		"truncated header": good[:30],
		"no debian-binary": arArchive([2]string{"data.tar", ""}),
		"format 3":         arArchive([2]string{"debian-binary", "3.0\n"}),
		"size too big":     bytes.Replace(good, []byte("4         `"), []byte("999       `"), 1),
	} {
		if _, err := Open(b); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	p, err := Open(good)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.File("/x"); !errors.Is(err, ErrInvalid) {
		t.Errorf("no data.tar: %v", err)
	}
	bad := arArchive([2]string{"debian-binary", "2.0\n"}, [2]string{"data.tar.bz2", "x"})
	p, _ = Open(bad)
	if _, err := p.File("/x"); !errors.Is(err, ErrInvalid) {
		t.Errorf("data.tar.bz2: %v", err)
	}
}

func FuzzOpen(f *testing.F) {
	f.Add(arArchive([2]string{"debian-binary", "2.0\n"}, [2]string{"control.tar", string(tarOf(map[string]string{"control": "Version: 1\n"}))},
		[2]string{"data.tar", string(tarOf(map[string]string{"./usr/lib/zguest/zguest-agent": "x"}))}))
	f.Add([]byte(Magic))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Open(b)
		if err != nil {
			return
		}
		p.Control()
		p.File("/usr/lib/zguest/zguest-agent")
	})
}
