package netns

import (
	"errors"
	"net"
	"syscall"
	"testing"

	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"

	"github.com/zguest/zguest/internal/testutil"
)

type env struct {
	b     *Backend
	guest *netlink.Handle // what the agent would use
}

func newEnv(t *testing.T) env {
	t.Helper()
	testutil.RequireRoot(t, "network namespaces with veth and macvlan")
	var nss []vnetns.NsHandle
	for i := 0; i < 2; i++ {
		ns, err := NewNamespace()
		if err != nil {
			t.Fatal(err)
		}
		nss = append(nss, ns)
		t.Cleanup(func() {
			if err := ns.Close(); err != nil {
				t.Errorf("close namespace: %v", err)
			}
		})
	}
	b, err := New(nss[0], nss[1])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("close backend: %v", err)
		}
	})
	gh, err := netlink.NewHandleAt(nss[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gh.Close)
	return env{b: b, guest: gh}
}

func mac(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

func TestRealMACSemantics(t *testing.T) {
	e := newEnv(t)
	name, idx, err := e.b.Register("0.0.f500", "eth%d", mac("02:00:00:00:f5:00"), true, []net.HardwareAddr{mac("02:00:00:00:00:99")})
	if err != nil {
		t.Fatal(err)
	}
	if name != "eth0" || idx <= 1 {
		t.Fatalf("Register = %s, %d", name, idx)
	}
	l, err := e.guest.LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	if l.Attrs().HardwareAddr.String() != "02:00:00:00:f5:00" || l.Attrs().Index != idx {
		t.Errorf("guest sees %v index %d", l.Attrs().HardwareAddr, l.Attrs().Index)
	}
	setMAC := func(m string, want syscall.Errno) {
		t.Helper()
		err := e.guest.LinkSetHardwareAddr(l, mac(m))
		if want == 0 && err != nil || want != 0 && !errors.Is(err, want) {
			t.Errorf("set MAC %s: %v, want %v", m, err, want)
		}
	}
	setMAC("02:00:00:00:00:99", syscall.EADDRINUSE)
	setMAC("01:00:5e:00:00:01", syscall.EADDRNOTAVAIL)
	if err := e.guest.LinkSetUp(l); err != nil {
		t.Fatal(err)
	}
	setMAC("02:00:00:00:00:99", syscall.EADDRINUSE)
	setMAC("02:00:00:00:00:42", 0) // allowed while up
	if up, err := e.b.IsUp("eth0"); err != nil || !up {
		t.Errorf("IsUp = %v, %v", up, err)
	}
	if err := e.b.Rename("eth0", "encf500"); !errors.Is(err, syscall.EBUSY) {
		t.Errorf("rename while up: %v, want EBUSY", err)
	}
	if l, _ := e.guest.LinkByName("eth0"); l == nil || l.Attrs().RawFlags&unix_IFF_LOWER_UP == 0 {
		t.Errorf("no carrier with the uplink peer up")
	}

	// Detach: the agent's requests fail with ENODEV, state survives.
	if err := e.b.Detach("eth0"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.guest.LinkByName("eth0"); err == nil {
		t.Error("detached device visible")
	}
	setMAC("02:00:00:00:00:43", syscall.ENODEV)
	if up, err := e.b.IsUp("eth0"); err != nil || !up {
		t.Errorf("IsUp detached = %v, %v", up, err)
	}
	// A detached device keeps its name.
	n2, _, err := e.b.Register("0.0.f600", "eth%d", mac("02:00:00:00:f6:00"), false, nil)
	if err != nil || n2 != "eth1" {
		t.Fatalf("second Register = %s, %v", n2, err)
	}
	if err := e.b.Attach("eth0"); err != nil {
		t.Fatal(err)
	}
	l, err = e.guest.LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	if l.Attrs().Flags&net.FlagUp == 0 || l.Attrs().HardwareAddr.String() != "02:00:00:00:00:42" {
		t.Errorf("after attach: flags %v MAC %v", l.Attrs().Flags, l.Attrs().HardwareAddr)
	}
	if got, _ := e.b.HardwareAddr("eth0"); got.String() != "02:00:00:00:00:42" {
		t.Errorf("HardwareAddr %v", got)
	}

	// Carrier off for a LAN without a peer.
	l2, _ := e.guest.LinkByName("eth1")
	if err := e.guest.LinkSetUp(l2); err != nil {
		t.Fatal(err)
	}
	l2, _ = e.guest.LinkByName("eth1")
	if l2.Attrs().RawFlags&unix_IFF_LOWER_UP != 0 {
		t.Error("carrier on for LinkDown")
	}
	if err := e.guest.LinkSetDown(l2); err != nil {
		t.Fatal(err)
	}
	if err := e.b.Rename("eth1", "encf600"); err != nil {
		t.Errorf("rename while down: %v", err)
	}
	if _, err := e.guest.LinkByName("encf600"); err != nil {
		t.Error(err)
	}
	if err := e.b.Unregister("encf600"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.guest.LinkByName("encf600"); err == nil {
		t.Error("unregistered device still there")
	}
	if err := e.b.Unregister("encf600"); !errors.Is(err, syscall.ENODEV) {
		t.Errorf("double unregister: %v", err)
	}
}

// unix_IFF_LOWER_UP is IFF_LOWER_UP (carrier) from linux/if.h.
const unix_IFF_LOWER_UP = 1 << 16
