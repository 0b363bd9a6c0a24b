package initrd

import (
	"github.com/zguest/zguest/internal/testutil"

	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const (
	tDev  = "0.0.1900"
	tWWPN = "0x500507630b01a5a1"
	tLUN  = "0x4000400e00000000"
)

// fakeRoot is an emulated /proc and /sys of an LPAR IPLed from FCP, as the
// kernel shows them (ipl attributes "0.0.%04x" and "0x%016llx", zfcp's
// allow_lun_scan as Y/N, SCSI devices with zfcp's hba_id/wwpn/fcp_lun).
type fakeRoot struct {
	t              *testing.T
	root, bin, log string
}

type rootOpts struct {
	cmdline    string
	iplType    string
	lunScan    string // Y or N
	portType   string // fc_host port_type
	lunPresent bool
	cioIgnore  bool // a cio_ignore command exists
	noPort     bool // the target port does not appear
}

func newFakeRoot(t *testing.T, o rootOpts) *fakeRoot {
	d := t.TempDir()
	f := &fakeRoot{t: t, root: filepath.Join(d, "root"), bin: filepath.Join(d, "bin"), log: filepath.Join(d, "log")}
	f.write("proc/cmdline", o.cmdline+"\n")
	f.write("proc/cio_ignore", "")
	f.write("sys/firmware/ipl/ipl_type", o.iplType+"\n")
	f.write("sys/firmware/ipl/device", tDev+"\n")
	f.write("sys/firmware/ipl/wwpn", tWWPN+"\n")
	f.write("sys/firmware/ipl/lun", tLUN+"\n")
	f.write("sys/module/zfcp/parameters/allow_lun_scan", o.lunScan+"\n")
	a := "sys/bus/ccw/drivers/zfcp/" + tDev
	f.write(a+"/online", "0\n")
	f.write(a+"/port_rescan", "")
	f.write(a+"/host0/fc_host/host0/port_type", o.portType+"\n")
	if !o.noPort {
		f.write(a+"/"+tWWPN+"/unit_add", "")
	}
	if o.lunPresent {
		s := "sys/bus/scsi/devices/0:0:1:1074675712/"
		f.write(s+"hba_id", tDev+"\n")
		f.write(s+"wwpn", tWWPN+"\n")
		f.write(s+"fcp_lun", tLUN+"\n")
	}
	// A SCSI device of another LUN on the same port must not count.
	s := "sys/bus/scsi/devices/0:0:1:0/"
	f.write(s+"hba_id", tDev+"\n")
	f.write(s+"wwpn", tWWPN+"\n")
	f.write(s+"fcp_lun", "0x4000400f00000000\n")

	cmds := []string{"modprobe", "udevadm", "sleep"}
	if o.cioIgnore {
		cmds = append(cmds, "cio_ignore")
	}
	os.MkdirAll(f.bin, 0o755)
	for _, c := range cmds {
		script := "#!/bin/sh\necho \"" + c + " $*\" >> " + f.log + "\n"
		if err := os.WriteFile(filepath.Join(f.bin, c), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func (f *fakeRoot) write(p, s string) {
	p = filepath.Join(f.root, p)
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fakeRoot) read(p string) string {
	b, _ := os.ReadFile(filepath.Join(f.root, p))
	return string(b)
}

func (f *fakeRoot) calls() string {
	b, _ := os.ReadFile(f.log)
	return string(b)
}

// shells returns the POSIX shells to run the scripts with: dash (Debian's
// initramfs shell when klibc is absent) and busybox sh (what
// initramfs-tools and dracut images usually carry). Both are installed by
// the Makefile; a missing one is a "needs tool:" skip, which CI fails.
func shells(t *testing.T) []string {
	t.Helper()
	testutil.RequireTool(t, "dash")
	testutil.RequireTool(t, "busybox")
	return []string{"dash", "busybox sh"}
}

func runShell(t *testing.T, shell string, env []string, args ...string) string {
	t.Helper()
	sh := strings.Fields(shell)
	cmd := exec.Command(sh[0], append(sh[1:], args...)...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", shell, args, err, out)
	}
	return string(out)
}

func TestLocalTopScript(t *testing.T) {
	script := filepath.Join(t.TempDir(), itoolsScriptName)
	if err := os.WriteFile(script, itoolsScript, 0o755); err != nil {
		t.Fatal(err)
	}
	const ipl = "root=UUID=x rd.zfcp=ipldev quiet"
	unitAdd := "sys/bus/ccw/drivers/zfcp/" + tDev + "/" + tWWPN + "/unit_add"
	online := "sys/bus/ccw/drivers/zfcp/" + tDev + "/online"
	for _, shell := range shells(t) {
		for _, tc := range []struct {
			name            string
			o               rootOpts
			online, unitAdd string
			calls           string
			cio             string
		}{
			{"npiv lun appears", rootOpts{cmdline: ipl, iplType: "fcp", lunScan: "Y", portType: "NPIV VPORT", lunPresent: true},
				"1\n", "", "modprobe -q zfcp\nudevadm settle --timeout=2\nudevadm settle --timeout=2\n", "free " + tDev + "\n"},
			{"allow_lun_scan off", rootOpts{cmdline: ipl, iplType: "fcp", lunScan: "N", portType: "NPIV VPORT", cioIgnore: true},
				"1\n", tLUN + "\n", "modprobe -q zfcp\ncio_ignore -r " + tDev + "\nudevadm settle --timeout=2\nudevadm settle --timeout=2\nudevadm settle --timeout=2\n", ""},
			{"npiv lun does not appear", rootOpts{cmdline: "rd.zfcp=ipldev", iplType: "fcp", lunScan: "Y", portType: "NPIV VPORT"},
				"1\n", tLUN + "\n", "modprobe -q zfcp\nudevadm settle --timeout=2\nudevadm settle --timeout=2\nsleep 1\nsleep 1\nudevadm settle --timeout=2\n", "free " + tDev + "\n"},
			{"not npiv", rootOpts{cmdline: ipl, iplType: "fcp", lunScan: "Y", portType: "NPort (fabric via point-to-point)"},
				"1\n", tLUN + "\n", "modprobe -q zfcp\nudevadm settle --timeout=2\nudevadm settle --timeout=2\nudevadm settle --timeout=2\n", "free " + tDev + "\n"},
			{"port missing", rootOpts{cmdline: ipl, iplType: "fcp", lunScan: "N", noPort: true},
				"1\n", "", "modprobe -q zfcp\nudevadm settle --timeout=2\nudevadm settle --timeout=2\nsleep 1\nsleep 1\nsleep 1\nsleep 1\n", "free " + tDev + "\n"},
			{"no rd.zfcp=ipldev", rootOpts{cmdline: "root=UUID=x rd.zfcp=0.0.1900,0x1,0x2", iplType: "fcp", lunScan: "Y"},
				"0\n", "", "", ""},
			{"ccw ipl", rootOpts{cmdline: ipl, iplType: "ccw", lunScan: "Y"},
				"0\n", "", "", ""},
		} {
			t.Run(shell+"/"+tc.name, func(t *testing.T) {
				f := newFakeRoot(t, tc.o)
				env := []string{"PATH=" + f.bin + ":/usr/bin:/bin", "ZGUEST_SYSROOT=" + f.root, "ZGUEST_ZFCP_WAIT=2"}
				out := runShell(t, shell, env, script)
				if got := f.read(online); got != tc.online {
					t.Errorf("online = %q, want %q", got, tc.online)
				}
				if got := f.read(unitAdd); got != tc.unitAdd {
					t.Errorf("unit_add = %q, want %q", got, tc.unitAdd)
				}
				if got := f.calls(); got != tc.calls {
					t.Errorf("commands run:\n%s\nwant\n%s", got, tc.calls)
				}
				if got := f.read("proc/cio_ignore"); got != tc.cio {
					t.Errorf("/proc/cio_ignore = %q, want %q", got, tc.cio)
				}
				if tc.name == "port missing" && f.read("sys/bus/ccw/drivers/zfcp/"+tDev+"/port_rescan") != "1\n" {
					t.Error("port_rescan not written")
				}
				if tc.name == "ccw ipl" && !strings.Contains(out, "IPL type is 'ccw'") {
					t.Errorf("no log line: %q", out)
				}
			})
		}
		t.Run(shell+"/prereqs", func(t *testing.T) {
			if out := runShell(t, shell, []string{"PATH=/usr/bin:/bin"}, script, "prereqs"); out != "\n" {
				t.Errorf("prereqs printed %q", out)
			}
		})
	}
}

func TestDracutHook(t *testing.T) {
	d := t.TempDir()
	hook := filepath.Join(d, "30-parse-zfcp.sh")
	if err := os.WriteFile(hook, dracutHook, 0o755); err != nil {
		t.Fatal(err)
	}
	// dracut sources cmdline hooks with dracut-lib's functions defined.
	wrapper := `getargs() { [ "$1" = rd.zfcp ] && echo $ZG_ARGS; }
getargbool() { [ "$2" = rd.zfcp.conf ] && [ "$ZG_CONF" != 0 ]; }
zfcp_cio_free() { echo zfcp_cio_free >> "$ZG_LOG"; }
warn() { echo "warn: $*" >> "$ZG_LOG"; }
. "$1"
echo "zfcp_arg=${zfcp_arg-unset}"
`
	wrap := filepath.Join(d, "wrap.sh")
	os.WriteFile(wrap, []byte(wrapper), 0o644)
	for _, shell := range shells(t) {
		for _, tc := range []struct {
			name, args, iplType, conf string
			existing                  string
			want, log                 string
		}{
			{"ipldev", "ipldev", "fcp", "", "",
				tDev + " " + tWWPN + " " + tLUN + "\n", "zfcp_cio_free\n"},
			{"ipldev and explicit", "0.0.1a00,0x5005076300c213e9,0x5022000000000000 ipldev 0.0.1b00", "fcp", "", "",
				"0.0.1a00 0x5005076300c213e9 0x5022000000000000\n" + tDev + " " + tWWPN + " " + tLUN + "\n0.0.1b00\n", "zfcp_cio_free\n"},
			{"ipldev not fcp", "ipldev", "ccw", "", "",
				"", "warn: rd.zfcp=ipldev: the system was not IPLed from an FCP device; ignored\nzfcp_cio_free\n"},
			{"bad format", "0.0.1a00,0x1,0x2", "fcp", "", "",
				"", "warn: rd.zfcp=0.0.1a00,0x1,0x2: invalid format, expected <bus id>[,<wwpn>,<lun>]; ignored\nzfcp_cio_free\n"},
			{"rd.zfcp.conf=0", "ipldev", "fcp", "0", "0.0.9999 0x1 0x2\n",
				tDev + " " + tWWPN + " " + tLUN + "\n", "zfcp_cio_free\n"},
			{"keeps zfcp.conf", "", "fcp", "", "0.0.9999 0x1 0x2\n",
				"0.0.9999 0x1 0x2\n", "zfcp_cio_free\n"},
		} {
			t.Run(shell+"/"+tc.name, func(t *testing.T) {
				f := newFakeRoot(t, rootOpts{iplType: tc.iplType})
				if tc.existing != "" {
					f.write("etc/zfcp.conf", tc.existing)
				} else {
					os.MkdirAll(filepath.Join(f.root, "etc"), 0o755)
				}
				env := []string{"PATH=/usr/bin:/bin", "ZGUEST_SYSROOT=" + f.root, "ZG_ARGS=" + tc.args, "ZG_CONF=" + tc.conf, "ZG_LOG=" + f.log}
				out := runShell(t, shell, env, wrap, hook)
				if got := f.read("etc/zfcp.conf"); got != tc.want {
					t.Errorf("zfcp.conf =\n%s\nwant\n%s", got, tc.want)
				}
				if got := f.calls(); got != tc.log {
					t.Errorf("calls =\n%s\nwant\n%s", got, tc.log)
				}
				if out != "zfcp_arg=unset\n" {
					t.Errorf("hook leaks variables: %q", out)
				}
			})
		}
	}
}

func TestDracutModuleSetup(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not installed")
	}
	d := t.TempDir()
	moddir := filepath.Join(d, "96zguest-zfcp")
	initdir := filepath.Join(d, "initramfs")
	os.MkdirAll(moddir, 0o755)
	os.WriteFile(filepath.Join(moddir, "module-setup.sh"), dracutModuleSetup, 0o755)
	os.WriteFile(filepath.Join(moddir, "parse-zfcp.sh"), dracutHook, 0o755)
	old := filepath.Join(initdir, "usr/lib/dracut/hooks/cmdline/30-parse-zfcp.sh")
	os.MkdirAll(filepath.Dir(old), 0o755)
	os.WriteFile(old, []byte(upstreamParseZfcp), 0o755)
	os.Symlink("usr/lib", filepath.Join(initdir, "lib"))
	// inst_hook as dracut defines it: the hook's name is the priority and
	// the source's base name.
	script := `inst_simple() { mkdir -p "$initdir${2%/*}" && cp "$1" "$initdir$2"; }
inst_hook() { inst_simple "$3" "/lib/dracut/hooks/${1}/${2}-${3##*/}"; echo "inst_hook $1 $2 ${3#$moddir/}"; }
. "$moddir/module-setup.sh"
check || exit 1
echo "depends: $(depends)"
install
`
	cmd := exec.Command("bash", "-c", script)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "moddir=" + moddir, "initdir=" + initdir}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if string(out) != "depends: zfcp\ninst_hook cmdline 30 parse-zfcp.sh\n" {
		t.Errorf("output %q", out)
	}
	if b, _ := os.ReadFile(old); string(b) != string(dracutHook) {
		t.Errorf("30-parse-zfcp.sh not replaced:\n%s", b)
	}
}

func TestScriptsSyntax(t *testing.T) {
	for name, b := range map[string][]byte{"local-top": itoolsScript, "hook": itoolsHook, "parse-zfcp": dracutHook, "dasd": dasdScript, "dasd hook": dasdHook} {
		for _, shell := range shells(t) {
			sh := strings.Fields(shell)
			cmd := exec.Command(sh[0], append(sh[1:], "-n")...)
			cmd.Stdin = strings.NewReader(string(b))
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s: %s -n: %v: %s", name, shell, err, out)
			}
		}
	}
	if _, err := exec.LookPath("bash"); err == nil {
		if out, err := exec.Command("bash", "-n", "-c", string(dracutModuleSetup)).CombinedOutput(); err != nil {
			t.Errorf("module-setup.sh: %v: %s", err, out)
		}
	}
	d := t.TempDir()
	hook := filepath.Join(d, "zguest_zfcp")
	os.WriteFile(hook, itoolsHook, 0o755)
	if out, err := exec.Command("sh", hook, "prereqs").CombinedOutput(); err != nil || string(out) != "\n" {
		t.Errorf("hook prereqs: %v %q", err, out)
	}
}
