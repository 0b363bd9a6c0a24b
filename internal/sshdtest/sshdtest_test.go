package sshdtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// TestScpFromServer copies a file the way the daemon does (scp -B -P
// from user@127.0.0.1) with the agent's key and nothing else.
func TestScpFromServer(t *testing.T) {
	s := Start(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.WriteFile(src, []byte("payload"), 0o644)
	dst := filepath.Join(dir, "dst")
	cmd := exec.Command("scp", "-B", "-P", strconv.Itoa(s.Port), "-o", "StrictHostKeyChecking=no", s.RemoteHost()+":"+src, dst)
	cmd.Env = append(os.Environ(), s.Env()...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scp: %v\n%s", err, out)
	}
	if b, err := os.ReadFile(dst); err != nil || string(b) != "payload" {
		t.Fatalf("copied %q %v", b, err)
	}
}
