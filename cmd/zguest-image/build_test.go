package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/zguest/zguest/internal/testutil"
)

// buildTree writes a tree with a fake s390x kernel, initrd and agent, and
// a spec for it; big adds files so that the build takes a while.
func buildTree(t *testing.T, big int) (dir, spec string) {
	t.Helper()
	dir = t.TempDir()
	k := bytes.Repeat([]byte{7}, 300<<10)
	copy(k[0x10008:], "S390EP")
	binary.BigEndian.PutUint64(k[0x10430:], 4096)
	clear(k[0x10480 : 0x10480+4096])
	agent := make([]byte, 64)
	copy(agent, "\x7fELF\x02\x02\x01")
	binary.BigEndian.PutUint16(agent[18:], 22)
	files := map[string][]byte{
		"tree/boot/vmlinuz-6.1.0-1-s390x":    k,
		"tree/boot/initrd.img-6.1.0-1-s390x": bytes.Repeat([]byte("i"), 1<<20),
		"tree/etc/hostname":                  []byte("x\n"),
		"agent":                              agent,
	}
	for i := 0; i < big; i++ {
		b := make([]byte, 1<<20)
		for j := range b {
			b[j] = byte(i*31 + j*7)
		}
		files[filepath.Join("tree/usr/share/big", string(rune('a'+i%26))+strings.Repeat("x", i/26))] = b
	}
	for name, b := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	spec = filepath.Join(dir, "image.yaml")
	os.WriteFile(spec, []byte("source: tree\ntarget: kvm\nsize: 2GiB\nagent: agent\nkernel:\n  cmdline: console=ttysclp0\n"), 0o644)
	return dir, spec
}

func TestBuildCLI(t *testing.T) {
	testutil.RequireTool(t, "mke2fs")
	dir, spec := buildTree(t, 0)
	out := filepath.Join(dir, "guest.qcow2")
	code, stdout, stderr := runCLI(t, "build", spec, "-o", out)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "kvm qcow2 image, root UUID=") || !strings.Contains(stdout, "boots from disk") {
		t.Errorf("stdout: %q", stdout)
	}
	// Flags after the spec, a bad spec, a missing -o.
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"build", spec, "-o", filepath.Join(dir, "x.raw"), "-format", "raw"}, exitOK, ""},
		{[]string{"build", spec}, exitUsage, "needs -o"},
		{[]string{"build", "-o", out}, exitUsage, "needs a spec file"},
		{[]string{"build", filepath.Join(dir, "agent"), "-o", out}, exitInvalid, "invalid image spec"},
		{[]string{"build", "--list-sysprep"}, exitOK, ""},
	} {
		code, _, stderr := runCLI(t, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d (want %d), stderr %q (want %q)", tc.args, code, tc.code, stderr, tc.want)
		}
	}
	// No kernel: exit 4, nothing written.
	os.RemoveAll(filepath.Join(dir, "tree", "boot"))
	code, _, stderr = runCLI(t, "build", spec, "-o", filepath.Join(dir, "nokernel.qcow2"))
	if code != exitBoot || !strings.Contains(stderr, "no kernel") {
		t.Errorf("no kernel: exit %d, %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "nokernel.qcow2")); err == nil {
		t.Error("a failed build left its output")
	}
}

// TestBuildInterrupted stops the built program with SIGINT while it makes
// the file system: exit 130, no output, no temporary file, no scratch
// directory left.
func TestBuildInterrupted(t *testing.T) {
	testutil.RequireTool(t, "mke2fs")
	bin := testutil.GoBuild(t, filepath.Join(t.TempDir(), "zguest-image"), ".", "")
	dir, spec := buildTree(t, 150)
	work := filepath.Join(dir, "work")
	os.Mkdir(work, 0o755)
	out := filepath.Join(dir, "out", "guest.qcow2")
	os.Mkdir(filepath.Dir(out), 0o755)
	cmd := exec.Command(bin, "build", spec, "-o", out, "-workdir", work)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	var log []string
	for sc.Scan() {
		log = append(log, sc.Text())
		if strings.Contains(sc.Text(), "n=4") { // making the file system
			_ = cmd.Process.Signal(syscall.SIGINT)
		}
	}
	err := cmd.Wait()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != exitSignal {
		t.Fatalf("exit %v, want %d; stderr:\n%s", err, exitSignal, strings.Join(log, "\n"))
	}
	for _, d := range []string{filepath.Dir(out), work} {
		if ents, _ := os.ReadDir(d); len(ents) > 0 {
			t.Errorf("%s holds %v after an interrupted build", d, ents)
		}
	}
}
