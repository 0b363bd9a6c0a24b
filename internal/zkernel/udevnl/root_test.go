package udevnl

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	udev "github.com/jochenvg/go-udev"
	"golang.org/x/sys/unix"

	"github.com/zguest/zguest/internal/testutil"
	"github.com/zguest/zguest/internal/zkernel"
)

// inPrivateNamespaces runs fn on a goroutine whose thread is moved into a
// new network and mount namespace (with a tmpfs on /run holding an empty
// /run/udev/control, so libudev listens whatever /dev is). The thread is
// never unlocked, so Go discards it when the goroutine ends.
func inPrivateNamespaces(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		errc <- func() error {
			if err := unix.Unshare(unix.CLONE_NEWNET | unix.CLONE_NEWNS); err != nil {
				return fmt.Errorf("unshare: %w", err)
			}
			if err := unix.Mount("none", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
				return fmt.Errorf("make / private: %w", err)
			}
			if err := unix.Mount("tmpfs", "/run", "tmpfs", 0, "mode=0755"); err != nil {
				return fmt.Errorf("mount /run: %w", err)
			}
			if err := os.MkdirAll("/run/udev", 0o755); err != nil {
				return err
			}
			if err := os.WriteFile("/run/udev/control", nil, 0o644); err != nil {
				return err
			}
			return fn()
		}()
	}()
	return <-errc
}

func TestBroadcastReachesGoUdevMonitor(t *testing.T) {
	testutil.RequireRoot(t, "uevent broadcast in a private network namespace")
	err := inPrivateNamespaces(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		u := udev.Udev{}
		m := u.NewMonitorFromNetlink("udev")
		if m == nil {
			return fmt.Errorf("NewMonitorFromNetlink failed")
		}
		if err := m.FilterAddMatchSubsystem("net"); err != nil {
			return err
		}
		ch, err := m.DeviceChan(ctx)
		if err != nil {
			return err
		}
		defer func() {
			cancel()
			for range ch { // let the monitor goroutine end
			}
		}()
		b, err := NewBroadcaster()
		if err != nil {
			return err
		}
		defer b.Close()
		evs := []zkernel.Uevent{
			// Filtered out in the kernel by the subsystem BPF filter.
			{Action: "add", DevPath: "/devices/qeth/0.0.f500", Subsystem: "ccwgroup", Seqnum: 1,
				Props: map[string]string{"DEVTYPE": "qeth_generic", "DRIVER": "qeth", "USEC_INITIALIZED": "5"}},
			{Action: "add", DevPath: "/devices/qeth/0.0.f500/net/encf500", Subsystem: "net", Seqnum: 2,
				Props: map[string]string{"INTERFACE": "encf500", "IFINDEX": "7", "USEC_INITIALIZED": "5", "ID_NET_DRIVER": "qeth_l2"}},
			{Action: "move", DevPath: "/devices/qeth/0.0.f500/net/encf500", Subsystem: "net", Seqnum: 3,
				Props: map[string]string{"INTERFACE": "encf500", "IFINDEX": "7", "USEC_INITIALIZED": "5",
					"DEVPATH_OLD": "/devices/qeth/0.0.f500/net/eth0"}},
		}
		for _, ev := range evs {
			if err := b.Send(ev); err != nil {
				return err
			}
		}
		var got []*udev.Device
		for len(got) < 2 {
			select {
			case d, ok := <-ch:
				if !ok {
					return fmt.Errorf("monitor closed after %d devices", len(got))
				}
				got = append(got, d)
			case <-ctx.Done():
				return fmt.Errorf("received %d of 2 devices", len(got))
			}
		}
		d := got[0]
		if d.Action() != "add" || d.Syspath() != "/sys/devices/qeth/0.0.f500/net/encf500" || d.Sysname() != "encf500" ||
			d.Subsystem() != "net" || d.Seqnum() != 2 || d.PropertyValue("IFINDEX") != "7" ||
			d.PropertyValue("ID_NET_DRIVER") != "qeth_l2" || !d.IsInitialized() {
			return fmt.Errorf("first device: %s %s %v", d.Action(), d.Syspath(), d.Properties())
		}
		d = got[1]
		if d.Action() != "move" || d.PropertyValue("DEVPATH_OLD") != "/devices/qeth/0.0.f500/net/eth0" || d.Seqnum() != 3 {
			return fmt.Errorf("second device: %s %v", d.Action(), d.Properties())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestSendWithoutListener(t *testing.T) {
	testutil.RequireRoot(t, "uevent broadcast in a private network namespace")
	err := inPrivateNamespaces(func() error {
		b, err := NewBroadcaster()
		if err != nil {
			return err
		}
		defer b.Close()
		return b.Send(zkernel.Uevent{Action: "add", DevPath: "/devices/x", Subsystem: "net", Seqnum: 1})
	})
	if err != nil {
		t.Fatal(err)
	}
}
