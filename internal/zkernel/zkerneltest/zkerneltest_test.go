package zkerneltest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	udev "github.com/jochenvg/go-udev"

	"github.com/zguest/zguest/internal/testutil"
	"github.com/zguest/zguest/internal/zkernel"
)

// helperEnv makes the test binary act as a udev monitor (see
// TestHelperMonitor) when started through Env.Command.
const helperEnv = "ZKERNELTEST_HELPER"

func fixture(t *testing.T) zkernel.Config {
	t.Helper()
	devs, err := zkernel.QethDevices(zkernel.KindOSD, 0xf5, "0.0.f500")
	if err != nil {
		t.Fatal(err)
	}
	for i := range devs {
		devs[i].Ignored = true
		devs[i].HWMAC = "02:00:00:00:f5:00"
		devs[i].MACInUse = []string{"02:00:00:00:00:99"}
	}
	iqd, err := zkernel.QethDevices(zkernel.KindIQD, 0x70, "0.0.7000")
	if err != nil {
		t.Fatal(err)
	}
	return zkernel.Config{
		Devices: append(devs, iqd...),
		Groups:  []zkernel.Group{{BusIDs: [3]string{"0.0.7000", "0.0.7001", "0.0.7002"}, Layer2: -1, Online: true}},
		Cmdline: "cio_ignore=all,!condev",
	}
}

func run(t *testing.T, e *Env, script string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := e.Command(ctx, "bash", "-c", script)
	cmd.Dir = e.Root
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestEndToEnd(t *testing.T) {
	testutil.RequireTool(t, "bash")
	testutil.RequireTool(t, "ip")
	e := Start(t, fixture(t))
	names, err := e.LinkNames()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(names, " ") != "enc7000 lo" {
		t.Errorf("boot links %v", names)
	}

	// A child sees the guest namespace, the FUSE tree and a private /run.
	out, err := run(t, e, `ip -o link show | cut -d: -f2 | cut -d@ -f1 | tr -d ' ' | sort | tr '\n' ' '; test -e /run/udev/control && echo control; cat sys/bus/ccwgroup/devices/0.0.7000/if_name`)
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if out != "enc7000 lo control\nenc7000\n" {
		t.Errorf("child output %q", out)
	}
	if _, err := os.Stat("/run/udev/control"); err == nil {
		t.Log("note: the host has /run/udev/control")
	}

	out, err = run(t, e, `set -e
echo free 0.0.f500-0.0.f502 > proc/cio_ignore
echo 1 > proc/cio_settle
echo 0.0.f500,0.0.f501,0.0.f502 > sys/bus/ccwgroup/drivers/qeth/group
echo 1 > sys/bus/ccwgroup/devices/0.0.f500/layer2
echo 1 > sys/bus/ccwgroup/devices/0.0.f500/online
echo 1 > sys/bus/ccwgroup/devices/0.0.f500/online || echo again-refused`)
	if err != nil || !strings.Contains(out, "write error: Invalid argument") || !strings.Contains(out, "again-refused") {
		t.Fatalf("%v: %q", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Kernel.Settle(ctx); err != nil {
		t.Fatal(err)
	}
	li, err := e.Link("encf500")
	if err != nil {
		t.Fatal(err)
	}
	if li.MAC != "02:00:00:00:f5:00" || li.Up {
		t.Errorf("encf500: %+v", li)
	}
	if st, _ := e.Kernel.Group("0.0.f500"); st.Ifindex != li.Index || st.IfName != "encf500" {
		t.Errorf("kernel view %+v vs link %+v", st, li)
	}

	// The agent's netlink calls get real kernel errors.
	out, err = run(t, e, `ip link set dev encf500 address 02:00:00:00:00:99; ip link set dev encf500 address 01:00:5e:00:00:01; ip link set dev encf500 address 02:00:00:00:00:42 up && cat sys/class/net/encf500/address sys/bus/ccwgroup/devices/0.0.f500/state`)
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, want := range []string{"Address already in use", "Cannot assign requested address", "02:00:00:00:00:42\nUP (LAN ONLINE)\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	// Offline: the device is gone for the agent (ENODEV); online again
	// restores MAC and IFF_UP.
	if err := e.Kernel.WriteFile("sys/bus/ccwgroup/devices/0.0.f500/online", []byte("0")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Link("encf500"); !errors.Is(err, syscall.ENODEV) {
		t.Errorf("offline link: %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(e.Root, "sys/bus/ccwgroup/devices/0.0.f500/if_name")); string(got) != "encf500\n" {
		t.Errorf("if_name offline %q", got)
	}
	if err := os.WriteFile(filepath.Join(e.Root, "sys/bus/ccwgroup/devices/0.0.f500/online"), []byte("1\n"), 0); err != nil {
		t.Fatal(err)
	}
	li, err = e.Link("encf500")
	if err != nil || !li.Up || li.MAC != "02:00:00:00:00:42" || !li.Carrier {
		t.Errorf("after online again: %+v, %v", li, err)
	}
}

// TestUdevMonitorInChild checks that a libudev monitor started with
// Env.Command receives the emulated udevd's events.
func TestUdevMonitorInChild(t *testing.T) {
	e := Start(t, fixture(t))
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := e.Command(ctx, exe, "-test.run=^TestHelperMonitor$", "-test.v")
	cmd.Env = append(os.Environ(), helperEnv+"=monitor")
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	lines := bufio.NewScanner(stdout)
	next := func() string {
		if !lines.Scan() {
			t.Fatalf("helper ended: %v", lines.Err())
		}
		return lines.Text()
	}
	for next() != "READY" {
	}
	k := e.Kernel
	for _, w := range [][2]string{
		{"proc/cio_ignore", "free 0.0.f500-0.0.f502"},
		{"sys/bus/ccwgroup/drivers/qeth/group", "0.0.f500,0.0.f501,0.0.f502"},
		{"sys/bus/ccwgroup/devices/0.0.f500/online", "1"},
	} {
		if err := k.WriteFile(w[0], []byte(w[1])); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		"add net /sys/devices/qeth/0.0.f500/net/encf500 INTERFACE=encf500 ID_NET_DRIVER=qeth_l2",
		"move net /sys/devices/qeth/0.0.f500/net/encf500 INTERFACE=encf500 ID_NET_DRIVER=qeth_l2",
	}
	for _, w := range want {
		for {
			got := next()
			if strings.HasPrefix(got, "DEV ") {
				if got != "DEV "+w {
					t.Errorf("got %q, want %q", got, "DEV "+w)
				}
				break
			}
		}
	}
}

// TestHelperMonitor is not a test: run as a child by TestUdevMonitorInChild,
// it prints the net devices a "udev" monitor receives.
func TestHelperMonitor(t *testing.T) {
	if os.Getenv(helperEnv) != "monitor" {
		t.Skip("helper process only")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	u := udev.Udev{}
	m := u.NewMonitorFromNetlink("udev")
	if m == nil {
		t.Fatal("no monitor")
	}
	if err := m.FilterAddMatchSubsystem("net"); err != nil {
		t.Fatal(err)
	}
	ch, err := m.DeviceChan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("READY")
	for n := 0; n < 2; n++ {
		select {
		case d := <-ch:
			fmt.Printf("DEV %s %s %s INTERFACE=%s ID_NET_DRIVER=%s\n", d.Action(), d.Subsystem(), d.Syspath(),
				d.PropertyValue("INTERFACE"), d.PropertyValue("ID_NET_DRIVER"))
		case <-ctx.Done():
			t.Fatal("timeout")
		}
	}
	cancel()
	for range ch {
	}
}
