package fusefs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/zguest/zguest/internal/testutil"
	"github.com/zguest/zguest/internal/zkernel"
)

func mountBoth(t *testing.T, cfg zkernel.Config) (*zkernel.Kernel, string) {
	t.Helper()
	testutil.RequireRoot(t, "FUSE mount")
	k, err := zkernel.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := k.Close(); err != nil {
			t.Errorf("close kernel: %v", err)
		}
	})
	root := t.TempDir()
	for _, sub := range []string{"sys", "proc"} {
		dir := filepath.Join(root, sub)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		unmount, err := Mount(k, dir, sub)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := unmount(); err != nil {
				t.Errorf("unmount %s: %v", sub, err)
			}
		})
	}
	return k, root
}

func fixture(t *testing.T) zkernel.Config {
	devs, err := zkernel.QethDevices(zkernel.KindOSD, 0xf5, "0.0.f500")
	if err != nil {
		t.Fatal(err)
	}
	for i := range devs {
		devs[i].Ignored = true
		devs[i].HWMAC = "02:00:00:00:f5:00"
	}
	return zkernel.Config{Devices: devs, Cmdline: "cio_ignore=all", NoRename: true}
}

func TestMountReadWrite(t *testing.T) {
	k, root := mountBoth(t, fixture(t))
	p := func(s string) string { return filepath.Join(root, s) }
	read := func(name string) string {
		t.Helper()
		b, err := os.ReadFile(p(name))
		if err != nil {
			t.Fatalf("read %s: %v", name, err)
		}
		return string(b)
	}
	write := func(name, data string) error { return os.WriteFile(p(name), []byte(data), 0o644) }

	if got := read("proc/cmdline"); got != "cio_ignore=all\n" {
		t.Errorf("cmdline %q", got)
	}
	if _, err := os.Stat(p("sys/bus/ccw/devices/0.0.f500")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ignored device visible: %v", err)
	}
	// Partial application: EINVAL, but f500-f502 are freed.
	if err := write("proc/cio_ignore", "free 0.0.f500-0.0.f502,bogus\n"); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("bad free: %v, want EINVAL", err)
	}
	if got := read("proc/cio_ignore"); got != "0.0.0000-0.0.f4ff\n0.0.f503-0.0.ffff\n0.1.0000-0.1.ffff\n0.2.0000-0.2.ffff\n0.3.0000-0.3.ffff\n" {
		t.Errorf("cio_ignore %q", got)
	}
	if err := write("proc/cio_settle", "1"); err != nil {
		t.Fatal(err)
	}
	if err := write("sys/bus/ccwgroup/drivers/qeth/group", "0.0.f500,0.0.f501,0.0.f502"); err != nil {
		t.Fatal(err)
	}
	if err := write("sys/bus/ccwgroup/drivers/qeth/group", "0.0.f500,0.0.f501,0.0.f502"); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("regroup: %v, want EINVAL", err)
	}
	g := "sys/bus/ccwgroup/devices/0.0.f500/"
	if got := read(g + "if_name"); got != "(unnamed net_device)\n" {
		t.Errorf("if_name %q", got)
	}
	if err := write(g+"online", "0"); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("online=0 when offline: %v", err)
	}
	if err := write(g+"layer2", "1"); err != nil {
		t.Fatal(err)
	}
	if err := write(g+"online", "1"); err != nil {
		t.Fatal(err)
	}
	if err := write(g+"layer2", "0"); !errors.Is(err, syscall.EPERM) {
		t.Errorf("layer2 while online: %v, want EPERM", err)
	}
	// Every read sees the current state.
	if got := read(g + "online"); got != "1\n" {
		t.Errorf("online %q", got)
	}
	if got := read(g + "net/eth0/address"); got != "02:00:00:00:f5:00\n" {
		t.Errorf("address %q", got)
	}
	if err := k.Links().SetHardwareAddr("eth0", []byte{2, 0, 0, 0, 0, 0x42}); err != nil {
		t.Fatal(err)
	}
	if got := read("sys/class/net/eth0/address"); got != "02:00:00:00:00:42\n" {
		t.Errorf("address after change %q", got)
	}
	if got := read(g + "state"); got != "SOFTSETUP\n" {
		t.Errorf("state %q", got)
	}

	// Permissions: EACCES at open, even for root.
	if err := write(g+"card_type", "x"); !errors.Is(err, syscall.EACCES) {
		t.Errorf("write card_type: %v, want EACCES", err)
	}
	if _, err := os.ReadFile(p(g + "ungroup")); !errors.Is(err, syscall.EACCES) {
		t.Errorf("read ungroup: %v, want EACCES", err)
	}
	if _, err := os.ReadFile(p("sys/bus/ccwgroup/drivers/qeth/group")); !errors.Is(err, syscall.EACCES) {
		t.Errorf("read group: %v, want EACCES", err)
	}
	if err := write(g+"no_such_attr", "1"); !errors.Is(err, syscall.EACCES) {
		t.Errorf("create: %v, want EACCES", err)
	}
	modes := map[string]os.FileMode{g + "online": 0o644, g + "card_type": 0o444, g + "ungroup": 0o200, "proc/cio_settle": 0o200}
	for name, want := range modes {
		fi, err := os.Stat(p(name))
		if err != nil || fi.Mode() != want {
			t.Errorf("mode of %s: %v, %v; want %v", name, fi.Mode(), err, want)
		}
	}

	// Symlinks: relative targets, resolvable.
	if got, err := os.Readlink(p("sys/bus/ccwgroup/devices/0.0.f500")); err != nil || got != "../../../devices/qeth/0.0.f500" {
		t.Errorf("readlink %q %v", got, err)
	}
	real, err := filepath.EvalSymlinks(p("sys/bus/ccw/devices/0.0.f501/group_device"))
	if err != nil || real != p("sys/devices/qeth/0.0.f500") {
		t.Errorf("EvalSymlinks = %q, %v", real, err)
	}
	ents, err := os.ReadDir(p("sys/bus/ccwgroup/devices/0.0.f500/net"))
	if err != nil || len(ents) != 1 || ents[0].Name() != "eth0" {
		t.Errorf("net dir %v %v", ents, err)
	}
	names, _ := filepath.Glob(p("sys/bus/ccw/devices/*"))
	if len(names) != 3 {
		t.Errorf("ccw devices %v", names)
	}

	// Offline and ungroup through the mount; the tree follows.
	if err := write(g+"ungroup", "1"); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("ungroup online: %v", err)
	}
	if err := write(g+"online", "0"); err != nil {
		t.Fatal(err)
	}
	if err := write(g+"ungroup", "1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p("sys/devices/qeth/0.0.f500")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("group still there: %v", err)
	}
	ents, _ = os.ReadDir(p("sys/devices/qeth"))
	if len(ents) != 0 {
		t.Errorf("qeth dir %v", ents)
	}
}

func TestShellTools(t *testing.T) {
	testutil.RequireTool(t, "bash")
	_, root := mountBoth(t, fixture(t))
	// echo through a shell: O_TRUNC and a trailing newline.
	out, err := runSh(root, `echo free 0.0.f500-0.0.f502 > proc/cio_ignore && echo 0.0.f500,0.0.f501,0.0.f502 > sys/bus/ccwgroup/drivers/qeth/group && cat sys/bus/ccwgroup/devices/0.0.f500/online && ls sys/bus/ccwgroup/devices/0.0.f500/ | tr '\n' ' '`)
	if err != nil {
		t.Fatalf("sh: %v: %s", err, out)
	}
	if !strings.HasPrefix(out, "0\n") || !strings.Contains(out, " layer2 ") || !strings.Contains(out, " cdev0 ") {
		t.Errorf("output %q", out)
	}
	out, err = runSh(root, `echo 0 > sys/bus/ccwgroup/devices/0.0.f500/online`)
	if err == nil || !strings.Contains(out, "write error: Invalid argument") {
		t.Errorf("echo 0 > online (bash): %v: %s", err, out)
	}
}
