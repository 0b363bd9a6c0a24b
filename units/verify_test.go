package units

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zguest/zguest/internal/testutil"
)

// TestSystemdVerify runs systemd's own checker on the units, installed in
// a scratch root the way images install them. Any diagnostic fails.
func TestSystemdVerify(t *testing.T) {
	testutil.RequireTool(t, "systemd-analyze")
	root := t.TempDir()
	unitDir := filepath.Join(root, "etc/systemd/system")
	for _, d := range []string{unitDir, filepath.Join(root, filepath.Dir(AgentPath))} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, exe := range []string{AgentPath, HostdPath} {
		if err := os.WriteFile(filepath.Join(root, exe), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// zguest-hostd is an ordinary service (default dependencies): give
	// the scratch root systemd's own targets for them to resolve.
	sysDir := filepath.Join(root, "usr/lib/systemd/system")
	if err := os.MkdirAll(sysDir, 0o755); err != nil {
		t.Fatal(err)
	}
	targets, _ := filepath.Glob("/usr/lib/systemd/system/*.target")
	for _, tg := range targets {
		if b, err := os.ReadFile(tg); err == nil {
			if err := os.WriteFile(filepath.Join(sysDir, filepath.Base(tg)), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	units, _ := filepath.Glob("*.service")
	var args []string
	for _, u := range units {
		b, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(unitDir, u), b, 0o644); err != nil {
			t.Fatal(err)
		}
		name := u
		if strings.HasSuffix(u, "@.service") {
			name = strings.TrimSuffix(u, "@.service") + "@0.0.f500.service"
		}
		args = append(args, "/etc/systemd/system/"+name)
	}
	cmd := exec.Command("systemd-analyze", append([]string{"verify", "--man=no", "--root=" + root}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) != 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
