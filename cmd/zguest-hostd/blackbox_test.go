package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zguest/zguest/internal/testutil"
)

// build compiles the daemon as it ships (CGO_ENABLED=0).
func build(t *testing.T) string {
	t.Helper()
	return testutil.GoBuild(t, filepath.Join(t.TempDir(), "zguest-hostd"), ".", "", "CGO_ENABLED=0")
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestBinaryRefusals: the daemon exits 1 naming the option to set.
func TestBinaryRefusals(t *testing.T) {
	bin := build(t)
	dir := t.TempDir()
	for cfg, want := range map[string]string{
		`{"listen":"0.0.0.0:8080","backend":"zvm"}`:   `set \"tls_cert\" and \"tls_key\" and \"auth\": \"token\"`,
		`{"listen":"127.0.0.1:0","backend":"hyperv"}`: `\"backend\" \"hyperv\" is not one of: `,
		`{"listen":"127.0.0.1:0"}`:                    `\"backend\" is not set`,
	} {
		p := filepath.Join(dir, "c.json")
		os.WriteFile(p, []byte(cfg), 0o600)
		out, err := exec.Command(bin, "--config", p).CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), want) {
			t.Errorf("%s: %v\n%s\nwant %s", cfg, err, out, want)
		}
	}
	out, err := exec.Command(bin, "sim", "zvm").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "the simulators are in zguest-sim") {
		t.Errorf("sim zvm: %v %s", err, out)
	}
}
