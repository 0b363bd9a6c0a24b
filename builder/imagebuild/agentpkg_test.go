package imagebuild

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zguest/zguest/internal/version"
	"github.com/zguest/zguest/packaging"
)

// TestInstallAgentFromDeb installs the agent from a zguest-agent .deb made
// by the packaging code and from the bare binary: the same executable
// lands at the units' path, and the version linked into it is recorded in
// /usr/lib/zguest/VERSION. A .deb of another package is refused.
func TestInstallAgentFromDeb(t *testing.T) {
	dir := t.TempDir()
	// A pure Go s390x program stands for the agent: what matters is the
	// ELF header and the version in its build information.
	bin := filepath.Join(dir, "zguest-agent")
	cmd := exec.Command("go", "build", "-buildvcs=false", "-ldflags", "-s -w -X "+version.Symbol+"=v7.1.0-2-gfeedbee",
		"-o", bin, "github.com/zguest/zguest/internal/version/testdata/prog")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOARCH=s390x")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	want, _ := os.ReadFile(bin)
	o := packaging.Options{Version: "v7.1.0-2-gfeedbee", Arch: "s390x", Binary: bin, MTime: time.Unix(1700000000, 0)}
	agentPkg, _ := packaging.Lookup("zguest-agent")
	deb, err := agentPkg.Build(o, packaging.Deb, filepath.Join(dir, "dist"))
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{deb, bin} {
		root := filepath.Join(dir, "root-"+filepath.Ext(src))
		os.MkdirAll(root, 0o755)
		r, err := os.OpenRoot(root)
		if err != nil {
			t.Fatal(err)
		}
		c := &customizer{root: r, mtime: time.Unix(1700000000, 0)}
		if err := c.installAgent(src); err != nil {
			t.Fatalf("installAgent(%s): %v", filepath.Base(src), err)
		}
		r.Close()
		got, _ := os.ReadFile(filepath.Join(root, "usr/lib/zguest/zguest-agent"))
		if string(got) != string(want) {
			t.Errorf("from %s: the installed agent is not the built binary (%d bytes, want %d)", filepath.Base(src), len(got), len(want))
		}
		if v, _ := os.ReadFile(filepath.Join(root, VersionFile)); string(v) != "v7.1.0-2-gfeedbee\n" {
			t.Errorf("from %s: %s = %q, want the linked version", filepath.Base(src), VersionFile, v)
		}
		if _, err := os.Stat(filepath.Join(root, "usr/lib/systemd/system/zguest-activate.service")); err != nil {
			t.Errorf("from %s: units not installed: %v", filepath.Base(src), err)
		}
	}

	// A .deb of another package, and a broken .deb.
	hostdPkg, _ := packaging.Lookup("zguest-hostd")
	other, err := hostdPkg.Build(o, packaging.Deb, filepath.Join(dir, "dist"))
	if err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(dir, "broken.deb")
	b, _ := os.ReadFile(deb)
	os.WriteFile(broken, b[:len(b)/2], 0o644)
	for src, msg := range map[string]string{other: "want zguest-agent for s390x", broken: "not a valid Debian package"} {
		r, _ := os.OpenRoot(t.TempDir())
		c := &customizer{root: r}
		err := c.installAgent(src)
		r.Close()
		if err == nil || !strings.Contains(err.Error(), msg) || !strings.Contains(err.Error(), filepath.Base(src)) {
			t.Errorf("installAgent(%s): %v, want an error naming the file and %q", filepath.Base(src), err, msg)
		}
	}
}
