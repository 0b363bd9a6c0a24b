package udevnl

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/zguest/zguest/internal/zkernel"
)

func TestMurmurHash2(t *testing.T) {
	if got := StringHash("net"); got != 0xa74d3cc8 {
		t.Errorf(`StringHash("net") = %#x, want 0xa74d3cc8`, got)
	}
	// Values of systemd's C implementation on a little-endian host (4-byte
	// blocks are read in host order, so only "ccw" and "net", which are all
	// tail, are the same on s390x).
	want := map[string]uint32{"": 0, "ccw": 0x94167623}
	if binary.NativeEndian.Uint16([]byte{1, 0}) == 1 {
		want["ccwgroup"] = 0x35777f1c
		want["drivers"] = 0x4d035eb4
	}
	for s, w := range want {
		if got := StringHash(s); got != w {
			t.Errorf("StringHash(%q) = %#x, want %#x", s, got, w)
		}
	}
	// The tail is byte order independent: "ccw" is all tail.
	if StringHash("ccw") == StringHash("wcc") {
		t.Error("hash ignores byte order of the tail")
	}
}

func TestMarshal(t *testing.T) {
	ev := zkernel.Uevent{
		Action: "move", DevPath: "/devices/qeth/0.0.f500/net/encf500", Subsystem: "net", Seqnum: 7,
		Props: map[string]string{"INTERFACE": "encf500", "IFINDEX": "3", "DEVPATH_OLD": "/devices/qeth/0.0.f500/net/eth0"},
	}
	msg, err := Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(msg, []byte("libudev\x00")) {
		t.Errorf("prefix %q", msg[:8])
	}
	if got := binary.BigEndian.Uint32(msg[8:]); got != 0xfeedcafe {
		t.Errorf("magic %#x", got)
	}
	if binary.NativeEndian.Uint32(msg[12:]) != 40 || binary.NativeEndian.Uint32(msg[16:]) != 40 {
		t.Error("header size / properties offset not 40")
	}
	if got := int(binary.NativeEndian.Uint32(msg[20:])); got != len(msg)-40 {
		t.Errorf("properties_len %d, body %d", got, len(msg)-40)
	}
	if got := binary.BigEndian.Uint32(msg[24:]); got != 0xa74d3cc8 {
		t.Errorf("subsystem hash %#x", got)
	}
	if got := binary.BigEndian.Uint32(msg[28:]); got != 0 {
		t.Errorf("devtype hash %#x without DEVTYPE", got)
	}
	body := string(msg[40:])
	want := "ACTION=move\x00DEVPATH=/devices/qeth/0.0.f500/net/encf500\x00DEVPATH_OLD=/devices/qeth/0.0.f500/net/eth0\x00" +
		"IFINDEX=3\x00INTERFACE=encf500\x00SEQNUM=7\x00SUBSYSTEM=net\x00"
	if body != want {
		t.Errorf("body %q\nwant %q", body, want)
	}
	withType := zkernel.Uevent{Action: "add", DevPath: "/devices/qeth/0.0.f500", Subsystem: "ccwgroup", Seqnum: 1,
		Props: map[string]string{"DEVTYPE": "qeth_generic"}}
	msg, err = Marshal(withType)
	if err != nil {
		t.Fatal(err)
	}
	if got := binary.BigEndian.Uint32(msg[28:]); got != StringHash("qeth_generic") {
		t.Errorf("devtype hash %#x", got)
	}
}

func TestMarshalRejects(t *testing.T) {
	base := func() zkernel.Uevent {
		return zkernel.Uevent{Action: "add", DevPath: "/devices/x", Subsystem: "net", Seqnum: 1, Props: map[string]string{}}
	}
	cases := map[string]func(e *zkernel.Uevent){
		"no action":    func(e *zkernel.Uevent) { e.Action = "" },
		"bad action":   func(e *zkernel.Uevent) { e.Action = "explode" },
		"no devpath":   func(e *zkernel.Uevent) { e.DevPath = "" },
		"no subsystem": func(e *zkernel.Uevent) { e.Subsystem = "" },
		"no seqnum":    func(e *zkernel.Uevent) { e.Seqnum = 0 },
		"bad seqnum":   func(e *zkernel.Uevent) { e.Props["SEQNUM"] = "x" },
		"bad ifindex":  func(e *zkernel.Uevent) { e.Props["IFINDEX"] = "-1" },
		"bad usec":     func(e *zkernel.Uevent) { e.Props["USEC_INITIALIZED"] = "soon" },
		"nul in value": func(e *zkernel.Uevent) { e.Props["X"] = "a\x00b" },
		"= in key":     func(e *zkernel.Uevent) { e.Props["A=B"] = "c" },
		"too long":     func(e *zkernel.Uevent) { e.Props["X"] = strings.Repeat("x", 9000) },
	}
	for name, mod := range cases {
		e := base()
		mod(&e)
		if _, err := Marshal(e); !errors.Is(err, ErrInvalidEvent) {
			t.Errorf("%s: Marshal error %v", name, err)
		}
	}
	if _, err := Marshal(base()); err != nil {
		t.Errorf("base event rejected: %v", err)
	}
}
