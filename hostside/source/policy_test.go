package source

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPolicy(t *testing.T) {
	top := t.TempDir()
	images := filepath.Join(top, "images")
	os.MkdirAll(filepath.Join(images, "sub"), 0o755)
	os.WriteFile(filepath.Join(images, "img"), []byte("x"), 0o600)
	os.WriteFile(filepath.Join(images, "sub", "cfgdrive.iso"), []byte("y"), 0o600)
	os.WriteFile(filepath.Join(top, "secret"), []byte("s"), 0o600)
	os.Symlink(filepath.Join(top, "secret"), filepath.Join(images, "escape"))
	os.Symlink("sub/cfgdrive.iso", filepath.Join(images, "inside"))
	os.Symlink("/etc", filepath.Join(images, "etc"))
	p := &Policy{Dirs: []string{images}}
	for _, ok := range []string{filepath.Join(images, "img"), filepath.Join(images, "sub", "cfgdrive.iso"), filepath.Join(images, "inside")} {
		if err := p.Check(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for path, want := range map[string]string{
		"/etc/shadow":                          "outside the allowed source directories (source_dirs: " + images,
		filepath.Join(top, "secret"):           "outside the allowed",
		filepath.Join(images, "escape"):        "may not lead out of",
		filepath.Join(images, "etc", "shadow"): "may not lead out of",
		images + "/../secret":                  `holds ".."`,
		"img":                                  "not an absolute path",
		images:                                 "outside the allowed",
		"/proc/self/environ":                   "outside the allowed",
	} {
		err := p.Check(path)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", path, err, want)
		}
	}
	if err := p.Check("/etc/shadow"); !errors.Is(err, ErrOutside) || !strings.Contains(err.Error(), "/etc/shadow") {
		t.Errorf("error does not name the path: %v", err)
	}
	if err := p.CheckDest(filepath.Join(images, "sub", "new.img")); err != nil {
		t.Errorf("dest: %v", err)
	}
	if err := p.CheckDest(filepath.Join(images, "etc", "new")); err == nil {
		t.Error("dest through a symlink out accepted")
	}
	if err := (&Policy{AnyPath: true}).Check(filepath.Join(top, "secret")); err != nil {
		t.Errorf("any path: %v", err)
	}
}
