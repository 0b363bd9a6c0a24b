package source

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzPolicy: any path a request may name either is refused or opens a
// regular file lying under the allowed directory.
func FuzzPolicy(f *testing.F) {
	dir := f.TempDir()
	os.MkdirAll(filepath.Join(dir, "a"), 0o755)
	os.WriteFile(filepath.Join(dir, "a", "img"), []byte("x"), 0o600)
	os.Symlink("/etc/passwd", filepath.Join(dir, "out"))
	for _, s := range []string{"/a/img", "/../etc/passwd", "/out", "/a/../a/img", "//a//img", "/a/img\x00", "rel"} {
		f.Add(s)
	}
	p := &Policy{Dirs: []string{dir}}
	f.Fuzz(func(t *testing.T, suffix string) {
		path := dir + suffix
		if strings.HasPrefix(suffix, "rel") {
			path = suffix
		}
		fh, _, err := p.Open(path)
		if err != nil {
			return
		}
		defer fh.Close()
		real, err := filepath.EvalSymlinks(path)
		if err != nil {
			t.Fatalf("%q opened but does not resolve: %v", path, err)
		}
		if !strings.HasPrefix(real, dir+"/") {
			t.Fatalf("%q opened %s, outside %s", path, real, dir)
		}
	})
}
