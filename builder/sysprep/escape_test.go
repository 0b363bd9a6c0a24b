package sysprep

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestNoEscape builds a hostile tree whose links point outside the root
// (absolute and relative), at the tree's own /etc (inside the root, still
// never followed), and hard-links nothing; every operation is enabled. The
// outside directory and everything reached only through a link must come
// out unchanged, links that are removed are removed as links, and the
// directory links are reported as skipped.
func TestNoEscape(t *testing.T) {
	for _, tc := range []struct {
		name        string
		tree        func(root, outside string, relOut func(string) string) []ent
		wantChanged []string
		wantSkips   []string
	}{
		{
			name: "file and directory links",
			tree: func(root, outside string, relOut func(string) string) []ent {
				return []ent{
					// Files that are links.
					l("etc/machine-id", filepath.Join(outside, "passwd")),
					l("etc/hostname", filepath.Join(relOut("etc/hostname"), "hostname")),
					l("etc/sysconfig/network-scripts/ifcfg-enc1", filepath.Join(outside, "ifcfg")),
					l("etc/ssh/ssh_host_rsa_key", filepath.Join(outside, "key")),
					l("var/lib/dbus/machine-id", filepath.Join(relOut("var/lib/dbus/machine-id"), "dbus-id")),
					l("var/log/evil.log", filepath.Join(outside, "passwd")),
					l("var/log/evil.log.1", filepath.Join(outside, "log/host.log.1")),
					l("var/log/cloud-init.log", filepath.Join(outside, "log/host.log")),
					l("root/.bash_history", filepath.Join(outside, "home/.bash_history")),
					// Directories that are links: outside, absolute and
					// relative, to /, and inside the root.
					l("var/log/journal", filepath.Join(outside, "log")),
					l("var/log/sub", "/"),
					l("tmp", filepath.Join(relOut("tmp"), "tmp")),
					l("var/tmp", "../etc"),
					l("var/lib/cloud", filepath.Join(outside, "cloud")),
					l("home/alice", filepath.Join(outside, "home")),
					l("var/lib/apt", filepath.Join(relOut("var/lib/apt"), "apt")),
					l("var/cache", "/"),
					f("etc/keep", "keep"),
				}
			},
			wantChanged: []string{
				"etc/machine-id",           // link replaced by a file
				"etc/ssh/ssh_host_rsa_key", // link removed
				"root/.bash_history",       // link removed
				"var/lib/dbus/machine-id",  // link elsewhere than /etc/machine-id removed
				"var/log/cloud-init.log",   // link removed by cloud-init
			},
			wantSkips: []string{
				"net-hostname etc/hostname", "net-hwaddr etc/sysconfig/network-scripts/ifcfg-enc1",
				"cloud-init var/lib/cloud", "cloud-init-seed var/lib/cloud",
				"package-manager-cache var/cache", "package-manager-cache var/lib/apt",
				"tmp-files tmp", "tmp-files var/tmp", "shell-history home/alice",
			},
		},
		{
			name: "var/log outside, etc and home to /",
			tree: func(root, outside string, relOut func(string) string) []ent {
				return []ent{
					l("var/log", filepath.Join(outside, "log")),
					l("etc", "/etc"),
					l("home", "/home"),
					l("root", "../"+filepath.Base(outside)+"/home"),
					f("var/lib/systemd/random-seed", "r"),
				}
			},
			wantChanged: []string{"var/lib/systemd/random-seed"},
			wantSkips: []string{
				"logfiles var/log", "cloud-init var/log", "machine-id etc", "ssh-hostkeys etc",
				"net-hostname etc", "shell-history home", "shell-history root",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testNoEscape(t, tc.tree, tc.wantChanged, tc.wantSkips)
		})
	}
}

func testNoEscape(t *testing.T, mk func(root, outside string, relOut func(string) string) []ent, wantChanged, wantSkips []string) {
	base := t.TempDir()
	root, outside := filepath.Join(base, "root"), filepath.Join(base, "outside")
	outsideFiles := []ent{
		f("passwd", "root:x:0:0::/root:/bin/sh\n"),
		f("hostname", "host\n"),
		f("ifcfg", "HWADDR=02:00:00:00:00:01\n"),
		f("log/host.log", "host log"), f("log/host.log.1", "old host log"),
		f("tmp/host-tmp", "t"), f("cloud/instances/x", "x"),
		f("home/.bash_history", "host history"), f("key", "host key"),
		f("dbus-id", "id"), f("apt/lists/l", "l"), f("seed", "s"),
	}
	build(t, outside, outsideFiles)
	relOut := func(from string) string { // from root/<from>'s directory to outside
		r, err := filepath.Rel(filepath.Join(root, filepath.Dir(from)), outside)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	build(t, root, mk(root, outside, relOut))
	outBefore := snapshot(t, outside)
	before := snapshot(t, root)

	ops, err := Select(Names(), nil) // every operation, off-by-default ones too
	if err != nil {
		t.Fatal(err)
	}
	plan, err := NewPlan(root, ops, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range plan.Actions {
		if !slices.Contains(wantChanged, a.Path) {
			t.Errorf("planned %s %s", a.Kind, a.Path)
		}
	}
	r, err := plan.Apply(testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	if c := changed(outBefore, snapshot(t, outside)); len(c) > 0 {
		t.Fatalf("outside the root changed: %v", c)
	}
	for _, e := range outsideFiles {
		if g := read(t, filepath.Join(outside, e.path)); g != e.data {
			t.Errorf("outside %s = %q", e.path, g)
		}
	}
	if c := changed(before, snapshot(t, root)); !slices.Equal(c, wantChanged) {
		t.Errorf("root changed at %q, want %q", c, wantChanged)
	}
	if slices.Contains(wantChanged, "etc/machine-id") {
		fi, err := os.Lstat(filepath.Join(root, "etc/machine-id"))
		if err != nil || !fi.Mode().IsRegular() || read(t, filepath.Join(root, "etc/machine-id")) != "uninitialized\n" {
			t.Errorf("machine-id: %v, %v", fi, err)
		}
	}

	var skipped []string
	for _, o := range r.Ops {
		for _, s := range o.Skipped {
			skipped = append(skipped, o.Name+" "+s.Path)
			if !strings.Contains(s.Reason, "symbolic link") {
				t.Errorf("skip reason %q", s.Reason)
			}
		}
	}
	for _, w := range wantSkips {
		if !slices.Contains(skipped, w) {
			t.Errorf("no skip %q in %q", w, skipped)
		}
	}

	// A second run has nothing left to do.
	again, err := Run(root, ops, nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.Changes() != 0 {
		t.Errorf("second run %+v", again)
	}
}
