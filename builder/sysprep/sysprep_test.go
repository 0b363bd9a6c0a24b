package sysprep

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// ent is one entry of a synthetic tree: a file (data), a link (link) or an
// empty directory (dir).
type ent struct {
	path string
	data string
	link string
	dir  bool
	mode fs.FileMode
}

func f(p, data string) ent                 { return ent{path: p, data: data} }
func fm(p, data string, m fs.FileMode) ent { return ent{path: p, data: data, mode: m} }
func l(p, target string) ent               { return ent{path: p, link: target} }
func d(p string) ent                       { return ent{path: p, dir: true} }

func build(t *testing.T, root string, ents []ent) {
	t.Helper()
	for _, e := range ents {
		p := filepath.Join(root, e.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch {
		case e.dir:
			err = os.MkdirAll(p, 0o755)
		case e.link != "":
			err = os.Symlink(e.link, p)
		default:
			m := e.mode
			if m == 0 {
				m = 0o644
			}
			if err = os.WriteFile(p, []byte(e.data), m); err == nil {
				err = os.Chmod(p, m)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// snapshot describes every entry below dir (links not followed): type,
// mode, owner, link target, content hash, inode.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		s := fmt.Sprintf("%v %d:%d", fi.Mode(), st.Uid, st.Gid)
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			tg, _ := os.Readlink(p)
			s += " -> " + tg
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			s += fmt.Sprintf(" %x ino=%d", sha256.Sum256(b), st.Ino)
		}
		m[filepath.ToSlash(rel)] = s
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func changed(before, after map[string]string) []string {
	var out []string
	for k, v := range before {
		if after[k] != v {
			out = append(out, k)
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			out = append(out, k+" (new)")
		}
	}
	slices.Sort(out)
	return out
}

// expectChanged is what the report says changed, expanded to every path
// below removed directories.
func expectChanged(before map[string]string, r Report) []string {
	var out []string
	for _, o := range r.Ops {
		for _, p := range o.Removed {
			p = strings.TrimSuffix(p, "/")
			for k := range before {
				if k == p || strings.HasPrefix(k, p+"/") {
					out = append(out, k)
				}
			}
		}
		out = append(out, o.Truncated...)
		out = append(out, o.Rewritten...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func testLog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

const oldID = "0123456789abcdef0123456789abcdef\n"

var debian = []ent{
	fm("etc/machine-id", oldID, 0o444),
	f("var/lib/dbus/machine-id", oldID),
	fm("etc/hostname", "build-vm\n", 0o640),
	f("etc/ssh/ssh_host_rsa_key", "k"), f("etc/ssh/ssh_host_rsa_key.pub", "k"),
	f("etc/ssh/ssh_host_ed25519_key", "k"), f("etc/ssh/ssh_host_ed25519_key-cert.pub", "k"),
	f("etc/ssh/sshd_config", "PermitRootLogin no\n"), f("etc/ssh/moduli", "m"),
	f("etc/udev/rules.d/70-persistent-net.rules", "SUBSYSTEM==\"net\"\n"), f("etc/udev/rules.d/99-local.rules", "x"),
	f("var/lib/dhcp/dhclient.enc1.leases", "lease {}"), f("var/lib/dhcp/dhcpd.leases", ""),
	l("var/lib/cloud/instance", "/var/lib/cloud/instances/i-1"),
	f("var/lib/cloud/instances/i-1/sem/config_ssh", "x"), f("var/lib/cloud/data/instance-id", "i-1"),
	f("var/lib/cloud/seed/nocloud/user-data", "#cloud-config\n"),
	f("var/log/cloud-init.log", "ci"), f("var/log/cloud-init-output.log", "ci"),
	f("var/lib/systemd/random-seed", "r"), f("var/lib/systemd/credential.secret", "s"),
	f("var/lib/systemd/timers/stamp-apt-daily.timer", ""),
	f("var/log/syslog", "x"), f("var/log/syslog.1", "x"), f("var/log/syslog.2.gz", "x"),
	f("var/log/dpkg.log", "x"), f("var/log/apt/history.log", "x"), f("var/log/apt/eipp.log.xz", "x"),
	l("var/log/README", "../../usr/share/doc/systemd/README.logs"), f("usr/share/doc/systemd/README.logs", "doc"),
	f("var/log/journal/0123456789abcdef0123456789abcdef/system.journal", "j"),
	fm("var/log/wtmp", "", 0o664), fm("var/log/btmp", "x", 0o660), d("var/log/private"),
	f("var/cache/apt/archives/foo_1.0_s390x.deb", "deb"), f("var/cache/apt/archives/lock", ""),
	f("var/cache/apt/archives/partial/bar.deb", "p"), f("var/cache/apt/pkgcache.bin", "b"), f("var/cache/apt/srcpkgcache.bin", "b"),
	f("var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease", "r"), f("var/lib/apt/lists/lock", ""),
	f("var/lib/apt/lists/partial/x", "p"), d("var/lib/apt/lists/auxfiles"),
	f("tmp/a", "a"), d("tmp/.X11-unix"), f("var/tmp/systemd-private-x/tmp/y", "y"),
	f("root/.bash_history", "ls"), f("root/.profile", "p"),
	f("home/alice/.bash_history", "ls"), f("home/alice/.zsh_history", "ls"), f("home/alice/notes", "n"),
	f("usr/bin/true", "elf"),
}

const ifcfgEnc1 = "DEVICE=enc1\nHWADDR=02:00:00:aa:bb:cc\nBOOTPROTO=dhcp\nDHCP_HOSTNAME=build-vm\n  MACADDR=02:00:00:aa:bb:cd\nONBOOT=yes\n"

var rhel = []ent{
	fm("etc/machine-id", oldID, 0o444),
	l("var/lib/dbus/machine-id", "/etc/machine-id"),
	f("etc/hostname", "build-vm.example.com\n"),
	fm("etc/sysconfig/network-scripts/ifcfg-enc1", ifcfgEnc1, 0o600),
	f("etc/sysconfig/network-scripts/ifcfg-lo", "DEVICE=lo\nIPADDR=127.0.0.1\n"),
	f("etc/sysconfig/network-scripts/ifup-eth", "#!/bin/sh\nHWADDR=x\n"),
	f("etc/sysconfig/network", "NETWORKING=yes\n"),
	f("etc/ssh/ssh_host_ecdsa_key", "k"), f("etc/ssh/ssh_host_ecdsa_key.pub", "k"),
	f("var/lib/dhclient/dhclient-8e7c-enc1.lease", "l"),
	f("var/lib/NetworkManager/internal-8e7c-enc1.lease", "l"), f("var/lib/NetworkManager/NetworkManager.state", "s"),
	f("var/cache/dnf/baseos-1234/repodata/repomd.xml", "x"), f("var/cache/dnf/expired_repos.json", "[]"),
	f("var/cache/yum/s390x/8/base/packages/a.rpm", "rpm"),
	f("var/lib/cloud/instances/i-2/obj.pkl", "x"),
	f("var/log/messages", "m"), f("var/log/messages-20240101", "m"), f("var/log/secure", ""),
	f("var/log/audit/audit.log", "a"), f("var/log/audit/audit.log.1", "a"), f("var/log/anaconda/anaconda.log", "x"),
	d("var/log/journal"),
	f("var/lib/random-seed", "r"),
	f("root/.bash_history", "ls"),
}

type want map[string]OpResult // op name → Removed/Truncated/Rewritten (others must be empty)

func TestRun(t *testing.T) {
	debianDefault := want{
		"machine-id":          {Removed: []string{"var/lib/dbus/machine-id"}, Rewritten: []string{"etc/machine-id"}},
		"ssh-hostkeys":        {Removed: []string{"etc/ssh/ssh_host_ed25519_key", "etc/ssh/ssh_host_ed25519_key-cert.pub", "etc/ssh/ssh_host_rsa_key", "etc/ssh/ssh_host_rsa_key.pub"}},
		"udev-persistent-net": {Removed: []string{"etc/udev/rules.d/70-persistent-net.rules"}},
		"net-hostname":        {Truncated: []string{"etc/hostname"}},
		"dhcp-client-state":   {Removed: []string{"var/lib/dhcp/dhclient.enc1.leases"}},
		"cloud-init":          {Removed: []string{"var/lib/cloud/data/", "var/lib/cloud/instance", "var/lib/cloud/instances/", "var/log/cloud-init-output.log", "var/log/cloud-init.log"}},
		"random-seed":         {Removed: []string{"var/lib/systemd/random-seed"}},
		"credential-secret":   {Removed: []string{"var/lib/systemd/credential.secret"}},
		"logfiles": {
			Removed:   []string{"var/log/apt/eipp.log.xz", "var/log/journal/0123456789abcdef0123456789abcdef/", "var/log/syslog.1", "var/log/syslog.2.gz"},
			Truncated: []string{"var/log/apt/history.log", "var/log/btmp", "var/log/dpkg.log", "var/log/syslog"},
		},
		"package-manager-cache": {Removed: []string{
			"var/cache/apt/archives/foo_1.0_s390x.deb", "var/cache/apt/archives/partial/bar.deb",
			"var/cache/apt/pkgcache.bin", "var/cache/apt/srcpkgcache.bin",
			"var/lib/apt/lists/auxfiles/", "var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease", "var/lib/apt/lists/partial/x",
		}},
		"tmp-files":     {Removed: []string{"tmp/.X11-unix/", "tmp/a", "var/tmp/systemd-private-x/"}},
		"shell-history": {Removed: []string{"root/.bash_history", "home/alice/.bash_history", "home/alice/.zsh_history"}},
	}
	tests := []struct {
		name            string
		tree            []ent
		enable, disable []string
		want            want
		contents        map[string]string // path → contents afterwards
		modes           map[string]fs.FileMode
	}{
		{
			name:     "debian",
			tree:     debian,
			want:     debianDefault,
			contents: map[string]string{"etc/machine-id": "uninitialized\n", "etc/hostname": "", "var/log/syslog": "", "var/lib/cloud/seed/nocloud/user-data": "#cloud-config\n"},
			modes:    map[string]fs.FileMode{"etc/machine-id": 0o444, "etc/hostname": 0o640, "var/log/btmp": 0o660},
		},
		{
			name:    "debian seed removed, logs and tmp kept",
			tree:    debian,
			enable:  []string{"cloud-init-seed"},
			disable: []string{"logfiles", "tmp-files", "machine-id"},
			want: func() want {
				w := want{}
				for k, v := range debianDefault {
					w[k] = v
				}
				delete(w, "logfiles")
				delete(w, "tmp-files")
				delete(w, "machine-id")
				w["cloud-init-seed"] = OpResult{Removed: []string{"var/lib/cloud/seed/"}}
				return w
			}(),
			contents: map[string]string{"etc/machine-id": oldID, "var/log/syslog": "x"},
		},
		{
			name: "rhel",
			tree: rhel,
			want: want{
				"machine-id":        {Rewritten: []string{"etc/machine-id"}},
				"ssh-hostkeys":      {Removed: []string{"etc/ssh/ssh_host_ecdsa_key", "etc/ssh/ssh_host_ecdsa_key.pub"}},
				"net-hwaddr":        {Rewritten: []string{"etc/sysconfig/network-scripts/ifcfg-enc1"}},
				"net-hostname":      {Truncated: []string{"etc/hostname"}, Rewritten: []string{"etc/sysconfig/network-scripts/ifcfg-enc1"}},
				"dhcp-client-state": {Removed: []string{"var/lib/dhclient/dhclient-8e7c-enc1.lease", "var/lib/NetworkManager/internal-8e7c-enc1.lease"}},
				"cloud-init":        {Removed: []string{"var/lib/cloud/instances/"}},
				"random-seed":       {Removed: []string{"var/lib/random-seed"}},
				"logfiles": {
					Removed:   []string{"var/log/audit/audit.log.1", "var/log/messages-20240101"},
					Truncated: []string{"var/log/anaconda/anaconda.log", "var/log/audit/audit.log", "var/log/messages"},
				},
				"package-manager-cache": {Removed: []string{"var/cache/dnf/baseos-1234/", "var/cache/dnf/expired_repos.json", "var/cache/yum/s390x/"}},
				"shell-history":         {Removed: []string{"root/.bash_history"}},
			},
			contents: map[string]string{
				"etc/sysconfig/network-scripts/ifcfg-enc1": "DEVICE=enc1\nBOOTPROTO=dhcp\nONBOOT=yes\n",
				"etc/sysconfig/network-scripts/ifup-eth":   "#!/bin/sh\nHWADDR=x\n",
			},
			modes: map[string]fs.FileMode{"etc/sysconfig/network-scripts/ifcfg-enc1": 0o600},
		},
		{
			name:     "rhel hostname only",
			tree:     rhel,
			disable:  []string{"net-hwaddr"},
			want:     nil, // checked through contents
			contents: map[string]string{"etc/sysconfig/network-scripts/ifcfg-enc1": "DEVICE=enc1\nHWADDR=02:00:00:aa:bb:cc\nBOOTPROTO=dhcp\n  MACADDR=02:00:00:aa:bb:cd\nONBOOT=yes\n"},
		},
		{
			name: "suse",
			tree: []ent{
				f("etc/hostname", "build\n"), l("etc/HOSTNAME", "hostname"),
				f("etc/sysconfig/network/ifcfg-eth0", "BOOTPROTO='dhcp'\nLLADDR='02:00:00:aa:bb:cc'\nSTARTMODE='auto'\n"),
				f("etc/sysconfig/network/config", "LLADDR=keep\n"),
				f("var/lib/wicked/lease-eth0-dhcp-ipv4.xml", "<lease/>"), f("var/lib/wicked/duid.xml", "<duid/>"),
				f("var/cache/zypp/packages/repo-oss/x.rpm", "rpm"), f("var/cache/zypp/solv/@System/solv", "s"),
				f("var/lib/systemd/random-seed", "r"),
			},
			want: want{
				"net-hwaddr":            {Rewritten: []string{"etc/sysconfig/network/ifcfg-eth0"}},
				"net-hostname":          {Truncated: []string{"etc/hostname"}},
				"dhcp-client-state":     {Removed: []string{"var/lib/wicked/lease-eth0-dhcp-ipv4.xml"}},
				"package-manager-cache": {Removed: []string{"var/cache/zypp/packages/", "var/cache/zypp/solv/"}},
				"random-seed":           {Removed: []string{"var/lib/systemd/random-seed"}},
			},
			contents: map[string]string{"etc/sysconfig/network/ifcfg-eth0": "BOOTPROTO='dhcp'\nSTARTMODE='auto'\n"},
		},
		{name: "empty tree", tree: nil, want: want{}},
		{name: "machine-id already uninitialized", tree: []ent{f("etc/machine-id", "uninitialized")}, want: want{}},
		{name: "machine-id link", tree: []ent{l("etc/machine-id", "../run/machine-id"), f("run/machine-id", "abc\n")},
			want:     want{"machine-id": {Rewritten: []string{"etc/machine-id"}}},
			contents: map[string]string{"etc/machine-id": "uninitialized\n", "run/machine-id": "abc\n"},
			modes:    map[string]fs.FileMode{"etc/machine-id": 0o444}},
		{name: "dbus machine-id relative link kept", tree: []ent{f("etc/machine-id", oldID), l("var/lib/dbus/machine-id", "../../../etc/machine-id")},
			want: want{"machine-id": {Rewritten: []string{"etc/machine-id"}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			build(t, root, tc.tree)
			ops, err := Select(tc.enable, tc.disable)
			if err != nil {
				t.Fatal(err)
			}
			log := testLog(t)
			before := snapshot(t, root)

			plan, err := NewPlan(root, ops, log)
			if err != nil {
				t.Fatal(err)
			}
			if c := changed(before, snapshot(t, root)); len(c) > 0 {
				t.Fatalf("planning changed %v", c)
			}
			dry := plan.Report()

			got, err := Run(root, ops, log)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(dry, got) {
				t.Errorf("dry run report\n%+v\ndiffers from applied\n%+v", dry, got)
			}
			after := snapshot(t, root)
			if c, e := changed(before, after), expectChanged(before, got); !slices.Equal(c, e) {
				t.Errorf("tree changed at\n%q\nreport accounts for\n%q", c, e)
			}
			if tc.want != nil {
				for _, o := range got.Ops {
					w := tc.want[o.Name]
					for _, pair := range [][2][]string{{o.Removed, w.Removed}, {o.Truncated, w.Truncated}, {o.Rewritten, w.Rewritten}} {
						g, e := slices.Sorted(slices.Values(pair[0])), slices.Sorted(slices.Values(pair[1]))
						if !slices.Equal(g, e) {
							t.Errorf("%s: got %q, want %q", o.Name, g, e)
						}
					}
					if len(o.Skipped) > 0 {
						t.Errorf("%s: unexpected skips %v", o.Name, o.Skipped)
					}
				}
			}
			for p, want := range tc.contents {
				if g := read(t, filepath.Join(root, p)); g != want {
					t.Errorf("%s = %q, want %q", p, g, want)
				}
			}
			for p, want := range tc.modes {
				fi, err := os.Lstat(filepath.Join(root, p))
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode() != want {
					t.Errorf("%s mode %v, want %v", p, fi.Mode(), want)
				}
			}

			// Idempotent: a second run changes nothing.
			again, err := Run(root, ops, log)
			if err != nil {
				t.Fatal(err)
			}
			if again.Changes() != 0 {
				t.Errorf("second run changed %+v", again)
			}
			if c := changed(after, snapshot(t, root)); len(c) > 0 {
				t.Errorf("second run changed %v", c)
			}
		})
	}
}

func TestSelect(t *testing.T) {
	def, err := Select(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range def {
		names = append(names, o.Name)
	}
	if slices.Contains(names, "cloud-init-seed") || len(names) != len(Ops())-1 {
		t.Errorf("defaults %v", names)
	}
	ops, err := Select([]string{"cloud-init-seed"}, []string{"logfiles", "tmp-files"})
	if err != nil {
		t.Fatal(err)
	}
	names = nil
	for _, o := range ops {
		names = append(names, o.Name)
	}
	if !slices.Contains(names, "cloud-init-seed") || slices.Contains(names, "logfiles") || slices.Contains(names, "tmp-files") {
		t.Errorf("selected %v", names)
	}
	// Order is Ops() order whatever the order of the lists.
	if i, j := slices.Index(names, "cloud-init"), slices.Index(names, "cloud-init-seed"); i < 0 || j != i+1 {
		t.Errorf("order %v", names)
	}
	for _, c := range []struct {
		enable, disable []string
		msg             string
	}{
		{[]string{"machine-idd"}, nil, `unknown operation "machine-idd" to enable; valid: machine-id, ssh-hostkeys,`},
		{nil, []string{"bash-history"}, `unknown operation "bash-history" to disable; valid: machine-id,`},
		{[]string{"logfiles"}, []string{"logfiles"}, `"logfiles" is both enabled and disabled`},
	} {
		_, err := Select(c.enable, c.disable)
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("Select(%v, %v) = %v, want %q", c.enable, c.disable, err, c.msg)
		}
	}
	if _, err := NewPlan(t.TempDir(), []Op{{Name: "made-up"}}, nil); err == nil {
		t.Error("an Op not from Ops() was accepted")
	}
}

func TestRotated(t *testing.T) {
	for name, want := range map[string]bool{
		"syslog": false, "syslog.1": true, "syslog.2.gz": true, "messages-20240101": true, "Xorg.0.log": false,
		"Xorg.0.log.old": true, "eipp.log.xz": true, "php8.2-fpm.log": false, "dpkg.log": false, "boot.log-2024010112": true,
	} {
		if rotated(name) != want {
			t.Errorf("rotated(%q) = %v", name, !want)
		}
	}
}

// A hard link to a file outside the root (as a hostile tarball could
// create) is not truncated through: the name in the root gets an empty file
// of its own.
func TestHardlinkedLogNotTruncatedThrough(t *testing.T) {
	base := t.TempDir()
	root, outside := filepath.Join(base, "root"), filepath.Join(base, "outside")
	build(t, root, []ent{fm("var/log/app.log", "", 0o640)})
	build(t, outside, []ent{f("secret", "keep me")})
	if err := os.Remove(filepath.Join(root, "var/log/app.log")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(outside, "secret"), filepath.Join(root, "var/log/app.log")); err != nil {
		t.Fatal(err)
	}
	ops, _ := Select(nil, nil)
	r, err := Run(root, ops, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Op("logfiles").Truncated; !slices.Equal(got, []string{"var/log/app.log"}) {
		t.Errorf("truncated %v", got)
	}
	if g := read(t, filepath.Join(outside, "secret")); g != "keep me" {
		t.Errorf("outside file now %q", g)
	}
	if g := read(t, filepath.Join(root, "var/log/app.log")); g != "" {
		t.Errorf("log now %q", g)
	}
}

// Rewritten files keep owner and extended attributes (SELinux labels on a
// RHEL tree); the user.* namespace stands in for security.* when not root.
func TestRewriteKeepsOwnerAndXattrs(t *testing.T) {
	root := t.TempDir()
	build(t, root, []ent{fm("etc/sysconfig/network-scripts/ifcfg-enc1", ifcfgEnc1, 0o640), fm("etc/machine-id", oldID, 0o444)})
	paths := []string{"etc/sysconfig/network-scripts/ifcfg-enc1", "etc/machine-id"}
	xattrs := true
	for _, p := range paths {
		p = filepath.Join(root, p)
		fi, _ := os.Stat(p)
		os.Chmod(p, 0o644) // user.* needs write permission
		err := unix.Setxattr(p, "user.zguest", []byte("label"), 0)
		os.Chmod(p, fi.Mode())
		if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EPERM) {
			xattrs = false
			t.Logf("no user xattrs on %s: %v", root, err)
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	selinux := false
	if os.Getuid() == 0 {
		// What a RHEL tree carries; as root it can be set here even
		// without SELinux on the build host.
		selinux = unix.Setxattr(filepath.Join(root, paths[0]), "security.selinux", []byte("system_u:object_r:net_conf_t:s0\x00"), 0) == nil
		t.Logf("security.selinux settable: %v", selinux)
	}
	uid, gid := os.Getuid(), os.Getgid()
	if uid == 0 {
		uid, gid = 1234, 5678
		for _, p := range paths {
			if err := os.Chown(filepath.Join(root, p), uid, gid); err != nil {
				t.Fatal(err)
			}
		}
	}
	ops, _ := Select(nil, nil)
	r, err := Run(root, ops, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	if r.Changes() != 3 { // machine-id, ifcfg by net-hwaddr and by net-hostname
		t.Errorf("report %+v", r)
	}
	for _, p := range paths {
		fi, err := os.Lstat(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if int(st.Uid) != uid || int(st.Gid) != gid {
			t.Errorf("%s owner %d:%d, want %d:%d", p, st.Uid, st.Gid, uid, gid)
		}
		if xattrs {
			buf := make([]byte, 64)
			n, err := unix.Getxattr(filepath.Join(root, p), "user.zguest", buf)
			if err != nil || string(buf[:n]) != "label" {
				t.Errorf("%s xattr: %q, %v", p, buf[:n], err)
			}
		}
	}
	if selinux {
		buf := make([]byte, 64)
		n, err := unix.Getxattr(filepath.Join(root, paths[0]), "security.selinux", buf)
		if err != nil || string(buf[:n]) != "system_u:object_r:net_conf_t:s0\x00" {
			t.Errorf("security.selinux: %q, %v", buf[:n], err)
		}
	}
	// No temporary files are left behind.
	ents, _ := os.ReadDir(filepath.Join(root, "etc/sysconfig/network-scripts"))
	if len(ents) != 1 {
		t.Errorf("network-scripts holds %v", ents)
	}
}

// A plan applied after the file changed refuses to overwrite it.
func TestApplyRefusesChangedFile(t *testing.T) {
	root := t.TempDir()
	build(t, root, []ent{f("etc/sysconfig/network-scripts/ifcfg-enc1", ifcfgEnc1)})
	ops, _ := Select(nil, []string{"net-hostname"})
	plan, err := NewPlan(root, ops, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(root, "etc/sysconfig/network-scripts/ifcfg-enc1")
	if err := os.WriteFile(p, []byte("DEVICE=enc1\nHWADDR=new\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = plan.Apply(nil)
	if err == nil || !strings.Contains(err.Error(), "ifcfg-enc1") || !strings.Contains(err.Error(), "changed since the plan") {
		t.Fatalf("Apply = %v", err)
	}
	if g := read(t, p); g != "DEVICE=enc1\nHWADDR=new\n" {
		t.Errorf("file now %q", g)
	}
}

func TestErrorsNamePath(t *testing.T) {
	root := t.TempDir()
	build(t, root, []ent{f("etc/machine-id", strings.Repeat("x", maxRead+1))})
	_, err := Run(root, Ops()[:1], nil)
	if err == nil || !strings.Contains(err.Error(), "etc/machine-id") {
		t.Fatalf("Run = %v", err)
	}
	_, err = Run(path.Join(root, "missing"), Ops(), nil)
	if err == nil || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("Run on a missing root = %v", err)
	}
}
