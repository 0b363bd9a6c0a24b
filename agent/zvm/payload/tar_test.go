package payload

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func mkTar(t testing.TB, hs ...*tar.Header) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, h := range hs {
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(h.Name))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte(h.Name))
		}
	}
	tw.Close()
	return b.Bytes()
}

func TestUntar(t *testing.T) {
	reg := func(n string) *tar.Header { return &tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o644} }
	sym := func(n, to string) *tar.Header { return &tar.Header{Name: n, Linkname: to, Typeflag: tar.TypeSymlink} }
	for _, c := range []struct {
		name string
		hs   []*tar.Header
		ok   bool
	}{
		{"plain", []*tar.Header{reg("invokeScript.sh"), reg("d/0000"), sym("d/l", "0000")}, true},
		{"dotdot", []*tar.Header{reg("a"), reg("../x")}, false},
		{"inner dotdot", []*tar.Header{reg("a/../../x")}, false},
		{"absolute", []*tar.Header{reg("/etc/x")}, false},
		{"link out", []*tar.Header{sym("l", "../../etc")}, false},
		{"absolute link", []*tar.Header{sym("l", "/etc")}, false},
		{"through link", []*tar.Header{sym("l", "d"), reg("l/x")}, false},
		{"hard link", []*tar.Header{reg("a"), {Name: "b", Linkname: "a", Typeflag: tar.TypeLink}}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, "t")
			os.Mkdir(dir, 0o755)
			err := Untar(append(mkTar(t, c.hs...), make([]byte, 33)...), dir)
			if c.ok != (err == nil) {
				t.Fatalf("err %v", err)
			}
			if !c.ok {
				if !errors.Is(err, ErrUnsafeTar) {
					t.Errorf("%v is not ErrUnsafeTar", err)
				}
				ents, _ := os.ReadDir(dir)
				if len(ents) != 0 {
					t.Errorf("something was written: %v", ents)
				}
				if ents, _ := os.ReadDir(root); len(ents) != 1 {
					t.Errorf("written outside: %v", ents)
				}
			}
		})
	}
	if err := Untar(mkTar(t, reg("abc"))[:514], t.TempDir()); err == nil {
		t.Error("truncated tar accepted")
	}
}

func FuzzUntar(f *testing.F) {
	f.Add(mkTar(f, &tar.Header{Name: "a", Typeflag: tar.TypeReg}))
	f.Fuzz(func(t *testing.T, b []byte) {
		root := t.TempDir()
		dir := filepath.Join(root, "t")
		os.Mkdir(dir, 0o755)
		Untar(b, dir)
		ents, _ := os.ReadDir(root)
		if len(ents) != 1 {
			t.Fatalf("written outside the directory: %v", ents)
		}
	})
}
