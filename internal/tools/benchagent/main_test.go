package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zguest/zguest/internal/testutil"
	"github.com/zguest/zguest/internal/zkernel"
	"github.com/zguest/zguest/internal/zkernel/zkerneltest"
)

func tools(t *testing.T) string {
	t.Helper()
	testutil.RequireRoot(t, "FUSE mounts, network and mount namespaces for the emulated kernel")
	for _, tool := range []string{"bash", "udevadm", "logger", "getopt", "awk", "ip", "nsenter", "unshare"} {
		testutil.RequireTool(t, tool)
	}
	dir := t.TempDir()
	if err := installScripts(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// The real udevadm settle waits for the emulated udevd through the
// control socket: with a 300 ms rename delay it returns only after the
// interface got its systemd name.
func TestUdevadmSettleWaitsForTheEmulatedUdevd(t *testing.T) {
	tools(t)
	devs, err := zkernel.QethDevices(zkernel.KindOSD, 1, "0.0.f500")
	if err != nil {
		t.Fatal(err)
	}
	env := zkerneltest.Start(t, zkernel.Config{Devices: devs, RenameDelay: 300 * time.Millisecond})
	ctl, err := serveUdevControl(t.TempDir(), env.Kernel)
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.close()
	for _, w := range [][2]string{{"sys/bus/ccwgroup/drivers/qeth/group", "0.0.f500,0.0.f501,0.0.f502"}, {"sys/bus/ccwgroup/devices/0.0.f500/online", "1"}} {
		if err := env.Kernel.WriteFile(w[0], []byte(w[1])); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "udevadm", "settle", "--timeout=10")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	t0 := time.Now()
	if err := env.RunInGuest(func() error { return startWithUdevControl(cmd, ctl.dir) }); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("udevadm settle: %v\n%s", err, out.String())
	}
	took := time.Since(t0)
	g, _ := env.Kernel.Group("0.0.f500")
	if g.IfName != "encf500" || took < 200*time.Millisecond {
		t.Errorf("settle returned after %s with the interface named %q", took, g.IfName)
	}
	// The host's /run is untouched.
	if _, err := os.Stat(filepath.Join("/run/udev", filepath.Base(ctl.dir))); err == nil {
		t.Error("the bind mount leaked into the host's /run")
	}
}

// The restated lsznet.raw lists the free qeth triples with their channel
// path types, as the original does; grouped devices drop out.
func TestRestatedLsznet(t *testing.T) {
	dir := tools(t)
	var devs []zkernel.Device
	for _, d := range []struct {
		kind zkernel.Kind
		chp  uint8
		id   string
	}{{zkernel.KindOSD, 0x10, "0.0.1000"}, {zkernel.KindIQD, 0x24, "0.0.7000"}, {zkernel.KindOSD, 0x11, "0.0.f500"}} {
		x, err := zkernel.QethDevices(d.kind, d.chp, d.id)
		if err != nil {
			t.Fatal(err)
		}
		devs = append(devs, x...)
	}
	env := zkerneltest.Start(t, zkernel.Config{Devices: devs})
	if err := env.Kernel.WriteFile("sys/bus/ccwgroup/drivers/qeth/group", []byte("0.0.f500,0.0.f501,0.0.f502")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(dir, "lib/s390-tools/lsznet.raw"), "-a")
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "ZROOT=" + env.Root}
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	want := "1 1731/01 10 OSD qeth eth 0.0.1000,0.0.1001,0.0.1002 OSA (QDIO)\n" +
		"2 1731/05 24 IQD qeth hsi 0.0.7000,0.0.7001,0.0.7002 HiperSockets\n"
	if string(b) != want {
		t.Errorf("got\n%s\nwant\n%s", b, want)
	}
}

// The restated originals bring every NIC online and, like the real ones,
// set the MAC only where the device number has no digit A-F.
func TestRestatedOriginals(t *testing.T) {
	dir := tools(t)
	b := bench{tools: dir, n: 4}
	s, err := b.once("originals", nil)
	if err != nil {
		t.Fatal(err)
	}
	// 0x1000, 0x1003, 0x1006, 0x1009: all right.
	if s.right != 4 {
		t.Errorf("%d of 4 NICs right", s.right)
	}
	b.n = 5 // adds 0x100C: online, but its MAC is never set
	if s, err = b.once("originals", nil); err != nil {
		t.Fatal(err)
	}
	if s.right != 4 {
		t.Errorf("%d of 5 NICs right, want 4 (the A-F device number keeps its MAC)", s.right)
	}
}
