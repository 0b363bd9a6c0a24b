package packaging

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/zguest/zguest/internal/imagefixture"
	"github.com/zguest/zguest/internal/testutil"
	"github.com/zguest/zguest/udev"
	"github.com/zguest/zguest/units"
)

// tree lists every path below root with its type and permissions.
func tree(t *testing.T, root string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		m["/"+rel] = info.Mode().String()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// bookkeeping are the paths dpkg and deb-systemd-helper may create for
// themselves in an install and purge cycle: their own records, not files
// of the package.
func bookkeeping(p string) bool {
	for _, pre := range []string{"/var/lib/dpkg/", "/var/log/dpkg.log", "/var/log/apt", "/var/cache/debconf/",
		"/var/lib/systemd/deb-systemd-helper-enabled", "/var/lib/systemd/deb-systemd-helper-masked"} {
		if strings.HasPrefix(p, pre) {
			return true
		}
	}
	return false
}

// TestDebInstallFixture installs the s390x agent .deb into the Debian 12
// s390x root file system of the end-to-end tests with dpkg, in a chroot
// under qemu-user: the files are where the units expect them, the program
// runs and says its version, systemctl --root shows the boot unit enabled,
// the udev rules are in place. dpkg --purge then leaves nothing behind.
// The .rpm is then installed into the same root with rpm --root, its
// scripts running in the chroot: %post's preset enables the boot unit,
// erasing disables it.
func TestDebInstallFixture(t *testing.T) {
	testutil.RequireRoot(t, "dpkg in a chroot")
	testutil.RequireTool(t, "systemctl")
	testutil.RequireTool(t, "rpm")
	tarball := imagefixture.RootfsTar(t)
	pkgs := packages(t)
	root := t.TempDir()
	run(t, "tar", "-xf", tarball, "-C", root, "--numeric-owner")
	before := tree(t, root)

	deb := filepath.Join(root, "tmp", filepath.Base(pkgs["zguest-agent.deb"]))
	b, err := os.ReadFile(pkgs["zguest-agent.deb"])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(deb, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Log(run(t, "chroot", root, "dpkg", "-i", "/tmp/"+filepath.Base(deb)))
	os.Remove(deb)

	for p, m := range agentFiles {
		st, err := os.Stat(filepath.Join(root, p))
		if err != nil || st.Mode().String() != m {
			t.Errorf("after dpkg -i: %s: %v %v, want %s", p, st, err, m)
		}
	}
	if v := strings.TrimSpace(run(t, "chroot", root, "/usr/lib/zguest/zguest-agent", "--version")); v != "zguest-agent "+testVersion {
		t.Errorf("zguest-agent --version in the guest: %q, want %q", v, "zguest-agent "+testVersion)
	}
	systemctl := func(args ...string) string {
		out, _ := exec.Command("systemctl", append([]string{"--root", root}, args...)...).CombinedOutput()
		return strings.TrimSpace(string(out))
	}
	for unit, want := range map[string]string{
		"zguest-activate.service": "enabled",
		"zguest-reader.service":   "static",
	} {
		if got := systemctl("is-enabled", unit); got != want {
			t.Errorf("systemctl --root is-enabled %s after dpkg -i: %q, want %q", unit, got, want)
		}
	}
	if l, err := os.Readlink(filepath.Join(root, "etc/systemd/system/sysinit.target.wants/zguest-activate.service")); err != nil || strings.TrimPrefix(l, "/usr") != "/lib/systemd/system/zguest-activate.service" {
		t.Errorf("sysinit.target.wants/zguest-activate.service: %q, %v", l, err)
	}
	for fsys, dir := range map[fs.FS]string{udev.Rules: UdevDir, units.Guest: UnitDir} {
		ents, _ := fs.ReadDir(fsys, ".")
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ".go") {
				continue
			}
			want, _ := fs.ReadFile(fsys, e.Name())
			got, err := os.ReadFile(filepath.Join(root, dir, e.Name()))
			if err != nil || string(got) != string(want) {
				t.Errorf("%s/%s in the guest differs from the tree's (%v)", dir, e.Name(), err)
			}
		}
	}
	if s := run(t, "chroot", root, "dpkg-query", "-W", "-f", "${Status} ${Version}", "zguest-agent"); s != "install ok installed 1.2.0+3.gabc1234" {
		t.Errorf("dpkg-query: %q", s)
	}

	t.Log(run(t, "chroot", root, "dpkg", "--purge", "zguest-agent"))
	after := tree(t, root)
	var added, removed, changed []string
	for p, m := range after {
		switch bm, ok := before[p]; {
		case bookkeeping(p):
		case !ok:
			added = append(added, p+" "+m)
		case bm != m:
			changed = append(changed, p+" "+bm+" -> "+m)
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok && !bookkeeping(p) {
			removed = append(removed, p)
		}
	}
	sort.Strings(added)
	if len(added)+len(removed)+len(changed) > 0 {
		t.Errorf("dpkg --purge did not restore the root:\nleft behind: %v\nremoved: %v\nchanged: %v", added, removed, changed)
	}
	if s := systemctl("is-enabled", "zguest-activate.service"); s == "enabled" {
		t.Errorf("after purge zguest-activate.service is still %s", s)
	}

	// (deb-systemd-helper links to /lib: Debian 12 has a merged /usr.)

	// The .rpm into the same root, scripts run in the chroot.
	run(t, "rpm", "--root", root, "--nodeps", "--ignorearch", "-i", pkgs["zguest-agent.rpm"])
	if got := systemctl("is-enabled", "zguest-activate.service"); got != "enabled" {
		t.Errorf("after rpm -i (%%post: systemctl preset): zguest-activate.service is %q, want enabled", got)
	}
	run(t, "rpm", "--root", root, "--nodeps", "-e", "zguest-agent")
	if _, err := os.Lstat(filepath.Join(root, "etc/systemd/system/sysinit.target.wants/zguest-activate.service")); err == nil {
		t.Error("after rpm -e (preun: disable) the sysinit.target.wants link is still there")
	}
	for p := range agentFiles {
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			t.Errorf("after rpm -e: %s is still there", p)
		}
	}
}
