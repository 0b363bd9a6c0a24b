// Package imagefixture gives end-to-end tests a Debian 12 s390x root file
// system and guest images built from it with zguest-image.
//
// The root file system is built with debootstrap under qemu-user
// (mkrootfs.sh) and cached as a tarball under $ZGUEST_CACHE_DIR/fixtures
// (the Makefile points it at .cache/), keyed by the script's content: a
// fresh machine builds it once (about 8-12 minutes on 2 cores), later runs
// reuse it. Tests never depend on the cache being there; the fixture
// rebuilds what is missing. A lock file serialises test binaries of
// different packages that want the same fixture at once.
//
// Images are not cached: they are what the tests check, so each test
// builds its own with the zguest-image built from this tree.
package imagefixture

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zguest/zguest/internal/testutil"
)

//go:embed mkrootfs.sh
var mkrootfsScript []byte

// CacheDir is where slow fixtures live: $ZGUEST_CACHE_DIR/fixtures, or
// zguest/fixtures under the user's cache directory.
func CacheDir() (string, error) {
	base := os.Getenv("ZGUEST_CACHE_DIR")
	if base == "" {
		d, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("no cache directory: set ZGUEST_CACHE_DIR: %w", err)
		}
		base = filepath.Join(d, "zguest")
	}
	dir := filepath.Join(base, "fixtures")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	return dir, nil
}

// RootfsTar returns the path of the Debian 12 s390x root file system
// tarball, building it if the cache does not have it. It skips the test
// where that cannot be done (not root, no debootstrap or qemu-user).
func RootfsTar(t testing.TB) string {
	t.Helper()
	testutil.RequireRoot(t, "debootstrap of an s390x root file system (chroot)")
	testutil.RequireTool(t, "debootstrap")
	testutil.RequireTool(t, "update-binfmts")
	if _, err := os.Stat("/usr/libexec/qemu-binfmt/s390x-binfmt-P"); err != nil {
		if _, err2 := exec.LookPath("qemu-s390x-static"); err2 != nil {
			t.Skipf("needs tool: qemu-s390x-static (Debian package qemu-user-static)")
		}
	}
	p, err := EnsureRootfs(t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// EnsureRootfs is RootfsTar for programs (the benchmarks): it returns the
// cached tarball or builds it, logging through logf.
func EnsureRootfs(logf func(string, ...any)) (string, error) {
	dir, err := CacheDir()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(mkrootfsScript)
	key := hex.EncodeToString(sum[:8])
	out := filepath.Join(dir, "rootfs-bookworm-s390x-"+key+".tar")
	unlock, err := lock(out + ".lock")
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(out); err == nil {
		logf("imagefixture: using cached %s", out)
		return out, nil
	}
	script := filepath.Join(dir, "mkrootfs-"+key+".sh")
	if err := os.WriteFile(script, mkrootfsScript, 0o755); err != nil {
		return "", err
	}
	logf("imagefixture: building %s with debootstrap (several minutes; cached afterwards)", out)
	start := time.Now()
	b, err := exec.Command("bash", script, out).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("mkrootfs.sh: %v\n%s", err, b)
	}
	logf("imagefixture: root file system built in %s", time.Since(start).Round(time.Second))
	return out, nil
}

// lock takes an exclusive flock on path, waiting for another test binary
// that is building the same fixture.
func lock(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// AgentS390x returns an s390x zguest-agent: $ZGUEST_AGENT_S390X (the
// Makefile sets it to bin/s390x/zguest-agent), or one cross-compiled into
// the test's temporary directory.
func AgentS390x(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("ZGUEST_AGENT_S390X"); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	testutil.RequireTool(t, "s390x-linux-gnu-gcc")
	return testutil.GoBuild(t, filepath.Join(t.TempDir(), "zguest-agent"), "github.com/zguest/zguest/cmd/zguest-agent",
		"netgo,osusergo", "CGO_ENABLED=1", "GOARCH=s390x", "CC=s390x-linux-gnu-gcc",
		"PKG_CONFIG_PATH=/usr/lib/s390x-linux-gnu/pkgconfig")
}

// ImageTool returns a zguest-image for this machine: $ZGUEST_IMAGE_BIN, or
// one built into the test's temporary directory.
func ImageTool(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("ZGUEST_IMAGE_BIN"); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return testutil.GoBuild(t, filepath.Join(t.TempDir(), "zguest-image"), "github.com/zguest/zguest/cmd/zguest-image", "", "CGO_ENABLED=0")
}

// Cmdline is the kernel command line the fixture images boot with.
const Cmdline = "console=ttysclp0 systemd.show_status=1"

// Spec returns the image spec the fixture uses for target, with the root
// file system tarball and agent filled in; cmdline is appended to
// Cmdline. Extra YAML lines are appended.
func Spec(rootfs, agent, target, cmdline, extra string) string {
	return strings.TrimSpace(fmt.Sprintf(`
# zguest-image spec written by internal/imagefixture
source: %s
target: %s
size: 2GiB
format: qcow2
kernel:
  cmdline: %q
agent: %s
`, rootfs, target, strings.TrimSpace(Cmdline+" "+cmdline), agent)) + "\n" + extra
}

// Image builds a guest image for target ("kvm", "dpm" or "zvm") from the
// fixture root file system and returns its path (in the test's temporary
// directory). It skips where the root file system cannot be built.
func Image(t testing.TB, target string) string {
	t.Helper()
	return BuildImage(t, target, "")
}

// BuildImage is Image with words added to the kernel command line.
func BuildImage(t testing.TB, target, cmdline string) string {
	t.Helper()
	return BuildImageAs(t, target, cmdline, "2GiB", "qcow2", "")
}

// BuildImageAs is BuildImage with the disk size, output format (qcow2,
// raw or xcat) and extra spec lines given.
func BuildImageAs(t testing.TB, target, cmdline, size, format, extra string) string {
	t.Helper()
	rootfs := RootfsTar(t)
	agent := AgentS390x(t)
	tool := ImageTool(t)
	dir := t.TempDir()
	spec := filepath.Join(dir, "image.yaml")
	text := strings.Replace(Spec(rootfs, agent, target, cmdline, extra), "size: 2GiB\nformat: qcow2\n",
		"size: "+size+"\nformat: "+format+"\n", 1)
	if err := os.WriteFile(spec, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "guest-"+target+"."+format)
	cmd := exec.Command(tool, "build", spec, "-o", out)
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1700000000")
	start := time.Now()
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("zguest-image build: %v\n%s", err, b)
	}
	t.Logf("imagefixture: built %s in %s", out, time.Since(start).Round(time.Millisecond))
	return out
}
