// Package ccw handles channel-attached device bus ids as the s390 kernel
// writes them: "0.<ssid>.<devno>", ssid one hex digit (0-3), devno four
// lower-case hex digits. Userspace tools accept short forms ("f500",
// "0xF500", "0.0.F500"); Parse does the same and String always gives the
// kernel's form.
package ccw

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// BusID is a CCW device bus id. The channel subsystem id is always 0 on
// Linux, so it is not stored.
type BusID struct {
	SSID  uint8
	Devno uint16
}

// ErrBadBusID is wrapped by every Parse error.
var ErrBadBusID = errors.New("invalid CCW bus id")

// Parse accepts "0.0.f500", "0.1.F500", "f500" and "0xf500" (hex in any
// case). A bare devno means subchannel set 0.
func Parse(s string) (BusID, error) {
	orig := s
	if s == "" {
		return BusID{}, fmt.Errorf("%w %q: empty", ErrBadBusID, orig)
	}
	if strings.Count(s, ".") == 2 {
		parts := strings.Split(s, ".")
		if parts[0] != "0" {
			return BusID{}, fmt.Errorf("%w %q: channel subsystem id must be 0", ErrBadBusID, orig)
		}
		if len(parts[1]) != 1 {
			return BusID{}, fmt.Errorf("%w %q: subchannel set must be one hex digit 0-3", ErrBadBusID, orig)
		}
		ss, err := strconv.ParseUint(parts[1], 16, 8)
		if err != nil || ss > 3 {
			return BusID{}, fmt.Errorf("%w %q: subchannel set must be 0-3", ErrBadBusID, orig)
		}
		dn, err := parseDevno(parts[2])
		if err != nil {
			return BusID{}, fmt.Errorf("%w %q: %v", ErrBadBusID, orig, err)
		}
		return BusID{SSID: uint8(ss), Devno: dn}, nil
	}
	if strings.Contains(s, ".") {
		return BusID{}, fmt.Errorf("%w %q: want 0.<ssid>.<devno> or a 4-digit devno", ErrBadBusID, orig)
	}
	if len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X") {
		s = s[2:]
	}
	dn, err := parseDevno(s)
	if err != nil {
		return BusID{}, fmt.Errorf("%w %q: %v", ErrBadBusID, orig, err)
	}
	return BusID{Devno: dn}, nil
}

// parseDevno takes exactly four hex digits, as the kernel and the DPM
// command line do.
func parseDevno(s string) (uint16, error) {
	if len(s) != 4 {
		return 0, fmt.Errorf("device number must be exactly 4 hex digits, got %d characters", len(s))
	}
	for i := 0; i < 4; i++ {
		if !isHex(s[i]) {
			return 0, fmt.Errorf("device number %q is not hexadecimal", s)
		}
	}
	v, _ := strconv.ParseUint(s, 16, 16)
	return uint16(v), nil
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// MustParse is Parse for constants in tests and tables; it panics on error.
func MustParse(s string) BusID {
	b, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return b
}

// String gives the kernel's form, "0.0.f500".
func (b BusID) String() string { return fmt.Sprintf("0.%x.%04x", b.SSID, b.Devno) }

// Add returns the bus id n device numbers further, in the same subchannel
// set. It fails past 0xffff.
func (b BusID) Add(n int) (BusID, error) {
	v := int(b.Devno) + n
	if v < 0 || v > 0xffff {
		return BusID{}, fmt.Errorf("%s%+d is outside the device number range", b, n)
	}
	return BusID{SSID: b.SSID, Devno: uint16(v)}, nil
}

// IfName is the name systemd-udevd's net_id builtin gives a network
// interface whose parent is this ccwgroup device: "en" + "c" + the bus id
// with leading '0' and '.' characters stripped, keeping at least one
// character (0.0.f500 -> encf500, 0.0.0600 -> enc600, 0.1.0600 ->
// enc1.0600, 0.0.0000 -> enc0).
func (b BusID) IfName() string {
	s := b.String()
	i := 0
	for i < len(s)-1 && (s[i] == '0' || s[i] == '.') {
		i++
	}
	return "enc" + s[i:]
}

// Less orders bus ids by subchannel set, then device number.
func (b BusID) Less(o BusID) bool {
	if b.SSID != o.SSID {
		return b.SSID < o.SSID
	}
	return b.Devno < o.Devno
}
