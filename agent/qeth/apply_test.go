package qeth

import (
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
)

// refusingLinks is a card that refuses every new MAC with one errno.
type refusingLinks struct {
	cur   net.HardwareAddr
	errno syscall.Errno
}

func (l *refusingLinks) HardwareAddr(string) (net.HardwareAddr, error) { return l.cur, nil }
func (l *refusingLinks) SetHardwareAddr(string, net.HardwareAddr) error {
	return l.errno
}
func (l *refusingLinks) IsUp(string) (bool, error)   { return false, nil }
func (l *refusingLinks) Rename(string, string) error { return nil }

// A MAC the card refuses is reported with the kernel's errno; for a
// universally administered one the message says what to change.
func TestSetMACReportsTheCardsRefusal(t *testing.T) {
	for _, c := range []struct {
		mac   string
		errno syscall.Errno
		want  string
	}{
		{"00:00:00:00:00:11", syscall.EADDRNOTAVAIL, "universally administered"},
		{"02:00:00:00:00:11", syscall.EADDRNOTAVAIL, "VSWITCH MAC protection"},
		{"00:00:00:00:00:11", syscall.EADDRINUSE, "already has it"},
	} {
		a := &Applier{Links: &refusingLinks{cur: net.HardwareAddr{2, 0, 0, 0, 0, 1}, errno: c.errno}}
		mac, _ := net.ParseMAC(c.mac)
		_, err := a.setMAC("encf500", mac)
		if !errors.Is(err, c.errno) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.mac) {
			t.Errorf("%s %v: %v", c.mac, c.errno, err)
		}
	}
}
