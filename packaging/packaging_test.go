package packaging

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zguest/zguest/hostside/daemon"
	"github.com/zguest/zguest/internal/testutil"
	"github.com/zguest/zguest/internal/version"
)

// testVersion is what the tests link into the binaries and package.
const testVersion = "v1.2.0-3-gabc1234"

func TestPackageVersion(t *testing.T) {
	for in, want := range map[string]string{
		"v1.2.0":                  "1.2.0",
		"1.2.0":                   "1.2.0",
		"v1.2.0-3-gabc1234":       "1.2.0+3.gabc1234",
		"v1.2.0-3-gabc1234-dirty": "1.2.0+3.gabc1234.dirty",
		"v1.2.0-rc1":              "1.2.0+rc1",
		"abc1234":                 "0.0.0~git.abc1234",
		"83d2cb5":                 "0.0.0~git.83d2cb5",
		"1234567-dirty":           "0.0.0~git.1234567.dirty",
		"abc1234-dirty":           "0.0.0~git.abc1234.dirty",
		FallbackVersion:           "0.0.0+unknown",
		"release/2026_q4":         "0.0.0~git.release.2026.q4",
		"":                        "0.0.0~git",
	} {
		if got := PackageVersion(in); got != want {
			t.Errorf("PackageVersion(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPackageVersionOrders checks with dpkg that versions from git sort
// the way the commits do.
func TestPackageVersionOrders(t *testing.T) {
	testutil.RequireTool(t, "dpkg")
	// Untagged builds sort before every release; commits after a tag
	// after it and before the next.
	for _, pair := range [][2]string{
		{"abc1234", "v0.0.1"}, {"83d2cb5-dirty", "v0.0.1"}, {FallbackVersion, "v0.0.1"},
		{"v0.9.0", "v0.9.0-1-gabc1234"}, {"v0.9.0-1-gabc1234", "v0.9.0-12-gdef5678"},
		{"v0.9.0-12-gdef5678", "v1.0.0"}, {"v1.0.0", "v1.0.0-1-g0123456-dirty"},
	} {
		a, b := PackageVersion(pair[0]), PackageVersion(pair[1])
		if err := exec.Command("dpkg", "--compare-versions", a, "lt", b).Run(); err != nil {
			t.Errorf("dpkg: %s (from %s) is not before %s (from %s)", a, pair[0], b, pair[1])
		}
	}
}

func TestGitVersion(t *testing.T) {
	testutil.RequireTool(t, "git")
	if v := GitVersion(t.TempDir()); v != FallbackVersion {
		t.Errorf("GitVersion(not a repository) = %q, want %q", v, FallbackVersion)
	}
	dir := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"}, args...)...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q")
	os.WriteFile(filepath.Join(dir, "f"), []byte("1"), 0o644)
	git("add", "f")
	git("commit", "-q", "-m", "one")
	git("tag", "v0.4.0")
	if v := GitVersion(dir); v != "v0.4.0" {
		t.Errorf("GitVersion(tagged commit) = %q, want v0.4.0", v)
	}
	os.WriteFile(filepath.Join(dir, "f"), []byte("2"), 0o644)
	git("commit", "-q", "-am", "two")
	if v := GitVersion(dir); !strings.HasPrefix(v, "v0.4.0-1-g") {
		t.Errorf("GitVersion(one after the tag) = %q, want v0.4.0-1-g<hash>", v)
	}
	os.WriteFile(filepath.Join(dir, "f"), []byte("3"), 0o644)
	if v := GitVersion(dir); !strings.HasSuffix(v, "-dirty") {
		t.Errorf("GitVersion(changed tree) = %q, want a -dirty suffix", v)
	}
}

func TestBuildRefuses(t *testing.T) {
	agent, _ := Lookup("zguest-agent")
	img, _ := Lookup("zguest-image")
	bin := filepath.Join(t.TempDir(), "prog")
	os.WriteFile(bin, []byte("x"), 0o755)
	out := t.TempDir()
	for name, err := range map[string]error{
		"agent for amd64": func() error {
			_, err := agent.Build(Options{Version: "1", Arch: "amd64", Binary: bin}, Deb, out)
			return err
		}(),
		"image as rpm": func() error {
			_, err := img.Build(Options{Version: "1", Arch: "amd64", Binary: bin}, RPM, out)
			return err
		}(),
		"no version": func() error {
			_, err := agent.Build(Options{Arch: "s390x", Binary: bin}, Deb, out)
			return err
		}(),
		"no binary": func() error {
			_, err := agent.Build(Options{Version: "1", Arch: "s390x", Binary: bin + ".missing"}, Deb, out)
			return err
		}(),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := Lookup("zguest-nothing"); err == nil {
		t.Error("Lookup(zguest-nothing): no error")
	}
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		t.Errorf("refused builds left %d files in the output directory", len(ents))
	}
}

// TestHostdConfig checks that the default configuration the package
// installs is one the daemon accepts as it is.
func TestHostdConfig(t *testing.T) {
	b, err := data.ReadFile("files/hostd.json")
	if err != nil {
		t.Fatal(err)
	}
	c, err := daemon.ParseConfig(b)
	if err != nil {
		t.Fatalf("the packaged %s does not parse: %v", HostdConfig, err)
	}
	if c.Listen != daemon.DefaultListen || c.Backend != "zvm" || c.Auth != "none" {
		t.Errorf("packaged config: listen %q backend %q auth %q", c.Listen, c.Backend, c.Auth)
	}
	var o struct {
		SMAPI struct{ Address string } `json:"smapi"`
		CP    struct{ Mode string }    `json:"cp"`
	}
	if err := json.Unmarshal(c.BackendOptions, &o); err != nil || o.SMAPI.Address == "" || o.CP.Mode != "native" {
		t.Errorf("packaged backend_options %s: %+v, %v", c.BackendOptions, o, err)
	}
}

// built holds the packages the tests build once per test binary.
var built struct {
	once sync.Once
	dir  string
	pkgs map[string]string // "zguest-agent.deb" -> path
	bins map[string]string // program -> built binary
	err  error
}

// packages builds the binaries (with the version linked in, stripped, as
// the Makefile does) and the packages the tests check: the agent for s390x
// (.deb, .rpm), the daemon for amd64 (.deb, .rpm), the image tool for
// amd64 (.deb).
func packages(t *testing.T) map[string]string {
	t.Helper()
	testutil.RequireTool(t, "s390x-linux-gnu-gcc")
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "zguest-pkgtest-")
		if built.err != nil {
			return
		}
		built.pkgs = map[string]string{}
		built.bins = map[string]string{}
		ldflags := "-s -w -X " + version.Symbol + "=" + testVersion
		bins := map[string][]string{
			"zguest-agent": {"s390x", "CGO_ENABLED=1", "GOARCH=s390x", "CC=s390x-linux-gnu-gcc", "PKG_CONFIG_PATH=/usr/lib/s390x-linux-gnu/pkgconfig"},
			"zguest-hostd": {"amd64", "CGO_ENABLED=0", "GOARCH=amd64"},
			"zguest-image": {"amd64", "CGO_ENABLED=0", "GOARCH=amd64"},
		}
		mtime := time.Unix(1700000000, 0).UTC()
		for prog, env := range bins {
			bin := filepath.Join(built.dir, env[0], prog)
			cmd := exec.Command("go", "build", "-buildvcs=false", "-tags", "netgo,osusergo", "-ldflags", ldflags, "-o", bin, "github.com/zguest/zguest/cmd/"+prog)
			cmd.Env = append(os.Environ(), env[1:]...)
			if out, err := cmd.CombinedOutput(); err != nil {
				built.err = fmt.Errorf("go build %s: %v\n%s", prog, err, out)
				return
			}
			built.bins[prog] = bin
			p, _ := Lookup(prog)
			for _, f := range p.Formats {
				path, err := p.Build(Options{Version: testVersion, Arch: env[0], Binary: bin, MTime: mtime}, f, filepath.Join(built.dir, "dist"))
				if err != nil {
					built.err = err
					return
				}
				built.pkgs[prog+"."+f] = path
			}
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.pkgs
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestFileNames checks the packages' names and that the version from git
// is in them.
func TestFileNames(t *testing.T) {
	pkgs := packages(t)
	want := map[string]string{
		"zguest-agent.deb": "zguest-agent_1.2.0+3.gabc1234_s390x.deb",
		"zguest-agent.rpm": "zguest-agent-1.2.0+3.gabc1234-1.s390x.rpm",
		"zguest-hostd.deb": "zguest-hostd_1.2.0+3.gabc1234_amd64.deb",
		"zguest-hostd.rpm": "zguest-hostd-1.2.0+3.gabc1234-1.x86_64.rpm",
		"zguest-image.deb": "zguest-image_1.2.0+3.gabc1234_amd64.deb",
	}
	for k, name := range want {
		if filepath.Base(pkgs[k]) != name {
			t.Errorf("%s: %s, want %s", k, filepath.Base(pkgs[k]), name)
		}
	}
}

// TestVersionLinked runs the amd64 programs the packages ship: each says
// the version from git the build linked in.
func TestVersionLinked(t *testing.T) {
	packages(t)
	for _, prog := range []string{"zguest-hostd", "zguest-image"} {
		if got := strings.TrimSpace(run(t, built.bins[prog], "--version")); got != prog+" "+testVersion {
			t.Errorf("%s --version: %q, want %q", prog, got, prog+" "+testVersion)
		}
	}
}

// TestLintian runs lintian on every .deb: no error or warning may remain
// (the ones that do not apply are overridden, with the reason, in the
// override file each package ships).
func TestLintian(t *testing.T) {
	testutil.RequireTool(t, "lintian")
	pkgs := packages(t)
	for _, k := range []string{"zguest-agent.deb", "zguest-hostd.deb", "zguest-image.deb"} {
		cmd := exec.Command("lintian", "--pedantic", "-I", "--tag-display-limit", "0", pkgs[k])
		out, _ := cmd.CombinedOutput()
		var bad []string
		for _, l := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(l, "E: ") || strings.HasPrefix(l, "W: ") {
				bad = append(bad, l)
			}
			if strings.Contains(l, "unused-override") {
				bad = append(bad, l)
			}
		}
		if len(bad) > 0 || cmd.ProcessState.ExitCode() != 0 {
			t.Errorf("lintian %s (exit %d):\n%s", filepath.Base(pkgs[k]), cmd.ProcessState.ExitCode(), strings.Join(bad, "\n"))
		}
		t.Logf("lintian %s:\n%s", filepath.Base(pkgs[k]), out)
	}
}

// TestDebControl checks the .debs' fields with dpkg-deb: version,
// dependencies, the conffile.
func TestDebControl(t *testing.T) {
	testutil.RequireTool(t, "dpkg-deb")
	pkgs := packages(t)
	field := func(k, f string) string {
		return strings.TrimSpace(run(t, "dpkg-deb", "-f", pkgs[k], f))
	}
	for k, deps := range map[string]string{
		"zguest-agent.deb": "libc6 (>= 2.34), libudev1 (>= 183)",
		"zguest-image.deb": "e2fsprogs (>= 1.43)",
		"zguest-hostd.deb": "",
	} {
		if got := field(k, "Depends"); got != deps {
			t.Errorf("%s Depends: %q, want %q", k, got, deps)
		}
		if got := field(k, "Version"); got != "1.2.0+3.gabc1234" {
			t.Errorf("%s Version: %q", k, got)
		}
	}
	dir := t.TempDir()
	run(t, "dpkg-deb", "--control", pkgs["zguest-hostd.deb"], dir)
	if b, _ := os.ReadFile(filepath.Join(dir, "conffiles")); strings.TrimSpace(string(b)) != HostdConfig {
		t.Errorf("zguest-hostd conffiles: %q, want %s", b, HostdConfig)
	}
	contents := run(t, "dpkg-deb", "--contents", pkgs["zguest-hostd.deb"])
	if !strings.Contains(contents, "-rw------- root/root") || !strings.Contains(contents, "./etc/zguest/hostd.json") {
		t.Errorf("zguest-hostd: %s is not root-owned mode 0600:\n%s", HostdConfig, contents)
	}
	for _, s := range []string{"deb-systemd-helper enable 'zguest-activate.service'", "deb-systemd-helper update-state"} {
		run(t, "dpkg-deb", "--control", pkgs["zguest-agent.deb"], filepath.Join(dir, "agent"))
		b, _ := os.ReadFile(filepath.Join(dir, "agent", "postinst"))
		if !strings.Contains(string(b), s) {
			t.Errorf("zguest-agent postinst lacks %q", s)
		}
	}
}

// agentFiles are the files the agent packages install, with their modes.
var agentFiles = map[string]string{
	"/usr/lib/zguest/zguest-agent":                    "-rwxr-xr-x",
	"/usr/lib/systemd/system/zguest-activate.service": "-rw-r--r--",
	"/usr/lib/systemd/system/zguest-reader.service":   "-rw-r--r--",
	"/usr/lib/systemd/system/zguest-setmac@.service":  "-rw-r--r--",
	"/usr/lib/udev/rules.d/81-zguest-qeth.rules":      "-rw-r--r--",
	"/usr/lib/udev/rules.d/82-zguest-reader.rules":    "-rw-r--r--",
	"/usr/lib/systemd/system-preset/80-zguest.preset": "-rw-r--r--",
	"/usr/share/doc/zguest-agent/README.md":           "-rw-r--r--",
	"/usr/share/doc/zguest-agent/copyright":           "-rw-r--r--",
	"/usr/share/man/man8/zguest-agent.8.gz":           "-rw-r--r--",
}

// TestRPMQuery checks the .rpms with rpm -qp: the file list and modes,
// the scripts, the dependencies, the conffile.
func TestRPMQuery(t *testing.T) {
	testutil.RequireTool(t, "rpm")
	pkgs := packages(t)
	list := run(t, "rpm", "-qp", "--qf", "[%{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILENAMES}\n]", pkgs["zguest-agent.rpm"])
	got := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(list), "\n") {
		f := strings.Fields(l)
		if len(f) != 3 || f[1] != "root:root" {
			t.Errorf("rpm file line %q: want mode root:root path", l)
			continue
		}
		got[f[2]] = f[0]
	}
	want := map[string]string{"/usr/lib/zguest": "drwxr-xr-x"}
	for k, v := range agentFiles {
		want[k] = v
	}
	for p, m := range want {
		if got[p] != m {
			t.Errorf("zguest-agent.rpm %s: mode %q, want %q", p, got[p], m)
		}
	}
	for p := range got {
		if want[p] == "" {
			t.Errorf("zguest-agent.rpm has %s, which it should not", p)
		}
	}
	reqs := strings.Fields(run(t, "rpm", "-qp", "--requires", pkgs["zguest-agent.rpm"]))
	for _, r := range []string{"libudev.so.1()(64bit)", "systemd"} {
		if !slices.Contains(reqs, r) {
			t.Errorf("zguest-agent.rpm requires %v, lacks %s", reqs, r)
		}
	}
	scripts := run(t, "rpm", "-qp", "--scripts", pkgs["zguest-agent.rpm"])
	for _, s := range []string{
		"postinstall scriptlet (using /bin/sh)", "systemctl --no-reload preset zguest-activate.service",
		"preuninstall scriptlet", "disable --now zguest-activate.service", "postuninstall scriptlet",
	} {
		if !strings.Contains(scripts, s) {
			t.Errorf("zguest-agent.rpm scripts lack %q:\n%s", s, scripts)
		}
	}
	if v := run(t, "rpm", "-qp", "--qf", "%{VERSION}-%{RELEASE} %{ARCH}", pkgs["zguest-agent.rpm"]); v != "1.2.0+3.gabc1234-1 s390x" {
		t.Errorf("zguest-agent.rpm version and arch: %q", v)
	}
	if c := strings.TrimSpace(run(t, "rpm", "-qp", "--configfiles", pkgs["zguest-hostd.rpm"])); c != HostdConfig {
		t.Errorf("zguest-hostd.rpm config files: %q, want %s", c, HostdConfig)
	}
	if f := run(t, "rpm", "-qp", "--qf", "[%{FILENAMES} %{FILEFLAGS:fflags} %{FILEMODES:perms}\n]", pkgs["zguest-hostd.rpm"]); !strings.Contains(f, HostdConfig+" cn -rw-------") {
		t.Errorf("zguest-hostd.rpm: %s is not %%config(noreplace) mode 0600:\n%s", HostdConfig, f)
	}
}

// TestRPMInstallScratchRoot installs the .rpms into an empty root with
// rpm --root (no shell there: --noscripts; the scripts run in
// TestDebInstallFixture's root) and checks the files, then erases them.
func TestRPMInstallScratchRoot(t *testing.T) {
	testutil.RequireTool(t, "rpm")
	testutil.RequireRoot(t, "rpm --root (chroot)")
	pkgs := packages(t)
	root := t.TempDir()
	run(t, "rpm", "--root", root, "--nodeps", "--noscripts", "--ignorearch", "-i", pkgs["zguest-agent.rpm"], pkgs["zguest-hostd.rpm"])
	for p, m := range agentFiles {
		st, err := os.Stat(filepath.Join(root, p))
		if err != nil || st.Mode().String() != m {
			t.Errorf("after rpm -i: %s: %v %v, want %s", p, st.Mode(), err, m)
		}
	}
	st, err := os.Stat(filepath.Join(root, HostdConfig))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("after rpm -i: %s: %v, want mode 0600", HostdConfig, err)
	}
	if q := run(t, "rpm", "--root", root, "-qa", "--qf", "%{NAME}\n"); !strings.Contains(q, "zguest-agent") || !strings.Contains(q, "zguest-hostd") {
		t.Errorf("rpm -qa in the root: %q", q)
	}
	run(t, "rpm", "--root", root, "--nodeps", "--noscripts", "-e", "zguest-agent", "zguest-hostd")
	for p := range agentFiles {
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			t.Errorf("after rpm -e: %s is still there", p)
		}
	}
}
