package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zguest/zguest/internal/testutil"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var o, e bytes.Buffer
	code := run(args, &o, &e)
	return code, o.String(), e.String()
}

func writeJSON(t *testing.T, dir string, v any) string {
	t.Helper()
	p := filepath.Join(dir, "instance.json")
	b, _ := json.Marshal(v)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigdriveJSONAndDir(t *testing.T) {
	testutil.RequireTool(t, "xorriso")
	dir := t.TempDir()
	in := filepath.Join("..", "..", "builder", "configdrive", "testdata", "full.json")
	for _, out := range []string{"d.iso", "d.vfat"} {
		code, _, stderr := runCLI(t, "configdrive", "--from-json", in, "-o", filepath.Join(dir, out), "--source-date-epoch", "1700000000")
		if code != exitOK {
			t.Fatalf("%s: exit %d: %s", out, code, stderr)
		}
	}
	// Extract the ISO and rebuild from the tree: --from-dir uses it unchanged.
	tree := filepath.Join(dir, "tree")
	runTool(t, "xorriso", "-indev", filepath.Join(dir, "d.iso"), "-osirrox", "on", "-extract", "/", tree)
	// xorriso keeps the read-only modes from the image.
	filepath.Walk(tree, func(p string, info os.FileInfo, err error) error { return os.Chmod(p, info.Mode()|0o200) })
	code, _, stderr := runCLI(t, "configdrive", "--from-dir", tree, "-o", filepath.Join(dir, "again.iso"), "--source-date-epoch", "1700000000")
	if code != exitOK {
		t.Fatalf("--from-dir: exit %d: %s", code, stderr)
	}
	a, _ := os.ReadFile(filepath.Join(dir, "d.iso"))
	b, _ := os.ReadFile(filepath.Join(dir, "again.iso"))
	if !bytes.Equal(a, b) {
		t.Error("ISO rebuilt from its own extracted tree differs")
	}
}

func TestConfigdriveBadInput(t *testing.T) {
	cases := map[string]struct {
		setup func(dir string) []string
		code  int
		msg   string
	}{
		"missing uuid": {func(dir string) []string {
			return []string{"--from-json", writeJSON(t, dir, map[string]any{"hostname": "h"})}
		}, exitInvalid, "uuid: missing"},
		"user data too big": {func(dir string) []string {
			return []string{"--from-json", writeJSON(t, dir, map[string]any{"uuid": "00000000-0000-4000-8000-000000000001", "user_data": make([]byte, 65537)})}
		}, exitInvalid, "more than nova's limit"},
		"unknown field": {func(dir string) []string {
			return []string{"--from-json", writeJSON(t, dir, map[string]any{"uuid": "00000000-0000-4000-8000-000000000001", "hostnme": "typo"})}
		}, exitInvalid, "unknown field"},
		"symlink escaping the tree": {func(dir string) []string {
			tree := filepath.Join(dir, "tree")
			os.MkdirAll(filepath.Join(tree, "openstack", "latest"), 0o755)
			os.WriteFile(filepath.Join(tree, "openstack", "latest", "meta_data.json"), []byte(`{"uuid":"u"}`), 0o644)
			os.Symlink("/etc/passwd", filepath.Join(tree, "openstack", "latest", "user_data"))
			return []string{"--from-dir", tree}
		}, exitInvalid, "symlink"},
		"non-UTF-8 name": {func(dir string) []string {
			tree := filepath.Join(dir, "tree")
			os.MkdirAll(filepath.Join(tree, "openstack", "latest"), 0o755)
			os.WriteFile(filepath.Join(tree, "openstack", "latest", "meta_data.json"), []byte(`{"uuid":"u"}`), 0o644)
			os.WriteFile(filepath.Join(tree, "bad\xff"), nil, 0o644)
			return []string{"--from-dir", tree}
		}, exitInvalid, "not valid UTF-8"},
		"over-long name for Joliet": {func(dir string) []string {
			tree := filepath.Join(dir, "tree")
			os.MkdirAll(filepath.Join(tree, "openstack", "latest"), 0o755)
			os.WriteFile(filepath.Join(tree, "openstack", "latest", "meta_data.json"), []byte(`{"uuid":"u"}`), 0o644)
			os.WriteFile(filepath.Join(tree, strings.Repeat("x", 65)), nil, 0o644)
			return []string{"--from-dir", tree}
		}, exitFailure, "disable Joliet"},
		"no meta_data": {func(dir string) []string {
			tree := filepath.Join(dir, "tree")
			os.MkdirAll(filepath.Join(tree, "openstack"), 0o755)
			return []string{"--from-dir", tree}
		}, exitInvalid, "meta_data.json"},
		"both sources": {func(dir string) []string { return []string{"--from-dir", dir, "--from-json", "x"} }, exitUsage, "exactly one"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			outDir := filepath.Join(dir, "out")
			os.Mkdir(outDir, 0o755)
			args := append([]string{"configdrive"}, c.setup(dir)...)
			args = append(args, "-o", filepath.Join(outDir, "drive.iso"))
			code, _, stderr := runCLI(t, args...)
			if code != c.code || !strings.Contains(stderr, c.msg) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, c.code, c.msg)
			}
			if ents, _ := os.ReadDir(outDir); len(ents) != 0 {
				t.Errorf("output directory not empty after failure: %v", ents)
			}
		})
	}
}

func TestConvertAndInspect(t *testing.T) {
	testutil.RequireTool(t, "qemu-img")
	dir := t.TempDir()
	raw := filepath.Join(dir, "disk.raw")
	f, _ := os.Create(raw)
	f.Truncate(32 << 20)
	f.WriteAt(bytes.Repeat([]byte("data"), 100000), 5<<20)
	f.Close()
	for _, args := range [][]string{{}, {"--compress"}, {"--compat", "0.10"}} {
		q := filepath.Join(dir, "disk.qcow2")
		back := filepath.Join(dir, "back.raw")
		code, _, stderr := runCLI(t, append(append([]string{"convert"}, args...), raw, q)...)
		if code != exitOK {
			t.Fatalf("convert %v: exit %d %s", args, code, stderr)
		}
		runTool(t, "qemu-img", "check", q)
		if code, _, stderr := runCLI(t, "convert", q, back); code != exitOK {
			t.Fatalf("convert back: exit %d %s", code, stderr)
		}
		a, _ := os.ReadFile(raw)
		b, _ := os.ReadFile(back)
		if !bytes.Equal(a, b) {
			t.Fatalf("%v: round trip differs", args)
		}
		code, stdout, _ := runCLI(t, "inspect", "--json", q)
		var info inspectInfo
		if code != exitOK || json.Unmarshal([]byte(stdout), &info) != nil || info.Format != "qcow2" || info.CheckOK == nil || !*info.CheckOK {
			t.Fatalf("inspect: exit %d %s", code, stdout)
		}
	}
	// A corrupt image: exit 3, a message naming the file.
	bad := filepath.Join(dir, "bad.qcow2")
	b, _ := os.ReadFile(filepath.Join(dir, "disk.qcow2"))
	b[20+3] = 31 // cluster bits
	os.WriteFile(bad, b, 0o644)
	code, _, stderr := runCLI(t, "inspect", bad)
	if code != exitInvalid || !strings.Contains(stderr, bad) || !strings.Contains(stderr, "cluster size") {
		t.Errorf("inspect corrupt: exit %d %q", code, stderr)
	}
	code, _, stderr = runCLI(t, "convert", bad, filepath.Join(dir, "x.raw"))
	if code != exitInvalid {
		t.Errorf("convert corrupt: exit %d %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "x.raw")); err == nil {
		t.Error("output left behind")
	}
	if code, _, _ := runCLI(t, "convert", "--compat", "2", raw, bad); code != exitUsage {
		t.Errorf("bad --compat: exit %d", code)
	}
	if code, _, _ := runCLI(t, "frobnicate"); code != exitUsage {
		t.Errorf("unknown command: exit %d", code)
	}
}

func runTool(t *testing.T, name string, args ...string) {
	t.Helper()
	testutil.RequireTool(t, name)
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, out)
	}
}
