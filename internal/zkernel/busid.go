package zkernel

import (
	"fmt"
	"strings"
)

// Limits of the channel subsystem as Linux on Z uses them
// (drivers/s390/cio/css.h: __MAX_CSSID 0, __MAX_SSID 3, __MAX_SUBCHANNEL 65535).
const (
	maxCSSID = 0
	maxSSID  = 3
	maxDevno = 0xffff
)

// busID is a CCW bus id 0.<ssid>.<devno>.
type busID struct {
	ssid  uint8
	devno uint16
}

func (b busID) String() string { return fmt.Sprintf("0.%x.%04x", b.ssid, b.devno) }

// less orders bus ids the way the channel subsystem walks them.
func (b busID) less(o busID) bool {
	if b.ssid != o.ssid {
		return b.ssid < o.ssid
	}
	return b.devno < o.devno
}

// parseFixtureBusID parses the strict form 0.<ssid>.<devno> (one hex digit
// ssid 0-3, four hex digits devno, any case) used in fixtures.
func parseFixtureBusID(s string) (busID, error) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || parts[0] != "0" || len(parts[1]) != 1 || len(parts[2]) != 4 {
		return busID{}, fmt.Errorf("bus id %q: want 0.<ssid>.<devno>, e.g. 0.0.f500", s)
	}
	ssid := hexVal(parts[1][0])
	if ssid < 0 || ssid > maxSSID {
		return busID{}, fmt.Errorf("bus id %q: ssid must be 0-3", s)
	}
	devno := 0
	for i := 0; i < 4; i++ {
		d := hexVal(parts[2][i])
		if d < 0 {
			return busID{}, fmt.Errorf("bus id %q: devno must be 4 hex digits", s)
		}
		devno = devno*16 + d
	}
	return busID{ssid: uint8(ssid), devno: uint16(devno)}, nil
}

// NormalizeBusID returns the kernel spelling (lowercase 0.x.yyyy) of a
// fixture-style bus id, or an error if it is not of that form.
func NormalizeBusID(s string) (string, error) {
	b, err := parseFixtureBusID(s)
	if err != nil {
		return "", err
	}
	return b.String(), nil
}

// SystemdName returns the name systemd's net_id builtin (names_ccw) gives a
// network device whose parent is the ccwgroup device busID: "en" + "c" +
// the bus id with leading '.' and '0' characters stripped, keeping at least
// its last character (0.0.f500 -> encf500, 0.0.0600 -> enc600,
// 0.1.0600 -> enc1.0600, 0.0.0000 -> enc0).
func SystemdName(busID string) string {
	n := 0
	for n < len(busID) && (busID[n] == '.' || busID[n] == '0') {
		n++
	}
	if n >= len(busID) {
		n = len(busID) - 1
	}
	if n < 0 {
		n = 0
	}
	return "enc" + busID[n:]
}
