// Package testutil holds helpers shared by the project's tests. Skips
// made here have fixed message prefixes ("needs root:", "needs tool:")
// that the Makefile and CI count: such skips fail a run that should have
// been able to execute them.
package testutil

import (
	"os"
	"os/exec"
	"testing"
)

// RequireRoot skips the test unless it runs as uid 0; what says what
// needs root (e.g. "FUSE mount").
func RequireRoot(t testing.TB, what string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("needs root: %s", what)
	}
}

// RequireTool skips the test unless name is found in $PATH.
func RequireTool(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("needs tool: %s", name)
	}
}

// GoBuild builds the Go package pkg (an import path, or a path relative to
// the test's directory) into out, with tags ("" for none) and extra
// environment such as CGO_ENABLED=1, and fails the test on an error.
func GoBuild(t testing.TB, out, pkg, tags string, env ...string) string {
	t.Helper()
	args := []string{"build", "-o", out}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	cmd := exec.Command("go", append(args, pkg)...)
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}
