// Package tooltest holds test helpers for the builder packages that check
// their output with independent external tools (isoinfo, xorriso, mtools,
// fsck.vfat, blkid, qemu-img, cloud-init).
package tooltest

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/zguest/zguest/internal/testutil"
)

// RequireTool skips the test when name is not on PATH, with the project's
// "needs tool: " message that CI counts.
func RequireTool(t testing.TB, name string) {
	t.Helper()
	testutil.RequireTool(t, name)
}

// Run runs a command and fails the test if it fails. It returns stdout.
func Run(t testing.TB, name string, args ...string) []byte {
	t.Helper()
	RequireTool(t, name)
	out, stderr, err := RunErr(name, args...)
	if err != nil {
		t.Fatalf("%s %q: %v\nstdout:\n%s\nstderr:\n%s", name, args, err, out, stderr)
	}
	return out
}

// RunErr runs a command and returns its stdout, stderr and error.
func RunErr(name string, args ...string) (stdout, stderr []byte, err error) {
	var o, e bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.Bytes(), e.Bytes(), err
}

// Writable makes everything under dir owner-writable when the test ends, so
// t.TempDir's cleanup can remove trees that extractors (xorriso) created with
// the read-only modes recorded in an image. Root does not need it; other
// users do.
func Writable(t testing.TB, dir string) {
	t.Helper()
	t.Cleanup(func() {
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(p, 0o755)
			}
			return nil
		})
	})
}
