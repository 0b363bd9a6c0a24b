package iso9660

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/zguest/zguest/internal/testutil"
)

func build(t testing.TB, args ...string) []byte {
	t.Helper()
	testutil.RequireTool(t, "genisoimage")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	for name, body := range map[string]string{"openstack/latest/meta_data.json": `{"uuid": "u"}`, "openstack/content/0000": "x", "ec2/latest/meta-data.json": "{}"} {
		p := filepath.Join(src, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(body), 0o644)
	}
	out := filepath.Join(dir, "i.iso")
	if b, err := exec.Command("genisoimage", append(append([]string{"-quiet", "-o", out, "-V", "config-2"}, args...), src)...).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, b)
	}
	b, _ := os.ReadFile(out)
	return b
}

func TestReadNames(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"joliet and rock ridge", []string{"-J", "-r"}, "openstack/latest/meta_data.json"},
		{"rock ridge only", []string{"-r"}, "openstack/latest/meta_data.json"},
		{"joliet only", []string{"-J"}, "openstack/latest/meta_data.json"},
	} {
		t.Run(c.name, func(t *testing.T) {
			im, err := Read(append(build(t, c.args...), make([]byte, 79)...))
			if err != nil {
				t.Fatal(err)
			}
			if im.Label != "config-2" {
				t.Errorf("label %q", im.Label)
			}
			f := im.File(c.want)
			if f == nil || string(f.Data) != `{"uuid": "u"}` {
				t.Errorf("files %v", im.Files)
			}
		})
	}
}

func FuzzRead(f *testing.F) {
	f.Add(make([]byte, 40*SectorSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		im, err := Read(b)
		if err != nil {
			return
		}
		for _, fl := range im.Files {
			if len(fl.Data) > len(b) {
				t.Fatal("file larger than the image")
			}
		}
	})
}
