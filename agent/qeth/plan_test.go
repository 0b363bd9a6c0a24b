package qeth

import (
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/zguest/zguest/agent/ccw"
	"github.com/zguest/zguest/agent/nic"
)

func testNIC(read string, port int, mac string) nic.NIC {
	n, err := nic.New(ccw.MustParse(read), "test")
	if err != nil {
		panic(err)
	}
	n.Port = port
	if mac != "" {
		n.MAC, _ = net.ParseMAC(mac)
	}
	return n
}

func members(ids ...string) [3]Member {
	var m [3]Member
	for i, s := range ids {
		m[i] = Member{ID: ccw.MustParse(s), Present: true, Driver: "qeth"}
	}
	return m
}

func group(online bool, l2, port int, ids ...string) *GroupState {
	g := &GroupState{Online: online, Layer2: l2, PortNo: port, Attrs: map[string]string{}}
	for i, s := range ids {
		g.Members[i] = ccw.MustParse(s)
	}
	return g
}

func steps(p Plan) string {
	s := make([]string, len(p.Steps))
	for i, st := range p.Steps {
		s[i] = st.String()
	}
	return strings.Join(s, "; ")
}

func TestMakePlan(t *testing.T) {
	f500 := []string{"0.0.f500", "0.0.f501", "0.0.f502"}
	for _, tc := range []struct {
		name    string
		nic     nic.NIC
		obs     Observed
		want    string
		free    string
		refusal string
		warn    string
	}{
		{name: "fresh device", nic: testNIC("0.0.f500", 1, "02:00:00:00:00:01"),
			obs:  Observed{Members: members(f500...), QethLoaded: true},
			want: "wait for 0.0.f500,0.0.f501,0.0.f502; group 0.0.f500,0.0.f501,0.0.f502; set layer2=1; set portno=1; online; wait for udev; set MAC 02:00:00:00:00:01"},
		{name: "ignored subchannels are freed first", nic: testNIC("0.0.f500", 0, ""),
			obs: Observed{Members: [3]Member{
				{ID: ccw.MustParse("0.0.f500"), Ignored: true},
				{ID: ccw.MustParse("0.0.f501"), Ignored: true, Present: true, Driver: "qeth"},
				{ID: ccw.MustParse("0.0.f502")}}},
			want: "wait for 0.0.f500,0.0.f501,0.0.f502; group 0.0.f500,0.0.f501,0.0.f502; set layer2=1; set portno=0; online; wait for udev",
			free: "0.0.f500"},
		{name: "already right", nic: testNIC("0.0.f500", 0, "02:00:00:00:00:01"),
			obs:  Observed{Members: members(f500...), Group: group(true, 1, 0, f500...)},
			want: "wait for udev; set MAC 02:00:00:00:00:01"},
		{name: "offline with wrong layer and port is repaired", nic: testNIC("0.0.f500", 1, ""),
			obs:  Observed{Members: members(f500...), Group: group(false, 0, 0, f500...)},
			want: "set layer2=1; set portno=1; online; wait for udev"},
		{name: "HiperSockets undecided layer gets layer2=1", nic: testNIC("0.0.7000", 0, ""),
			obs:  Observed{Group: group(false, -1, 0, "0.0.7000", "0.0.7001", "0.0.7002")},
			want: "set layer2=1; online; wait for udev"},
		{name: "online in layer 3 is reported, not torn down", nic: testNIC("0.0.f500", 0, ""),
			obs:     Observed{Group: group(true, 0, 0, f500...)},
			refusal: "online in layer 3 but layer 2 is wanted"},
		{name: "online on the wrong port", nic: testNIC("0.0.f500", 1, ""),
			obs:     Observed{Group: group(true, 1, 0, f500...)},
			refusal: "online on port 0 but port 1"},
		{name: "grouped by dracut with another data subchannel", nic: testNIC("0.0.f500", 0, ""),
			obs:  Observed{Group: group(true, 1, 0, "0.0.f500", "0.0.f501", "0.0.f504")},
			want: "wait for udev", warn: "keeping them"},
		{name: "explicit subchannels that differ from the group", nic: func() nic.NIC {
			n := testNIC("0.0.f500", 0, "")
			n.Data, n.Explicit = ccw.MustParse("0.0.f503"), true
			return n
		}(),
			obs:     Observed{Group: group(false, 1, 0, f500...)},
			refusal: "a group already exists with subchannels 0.0.f500,0.0.f501,0.0.f502"},
		{name: "member in another group", nic: testNIC("0.0.f501", 0, ""),
			obs: Observed{Members: func() [3]Member {
				m := members("0.0.f501", "0.0.f502", "0.0.f503")
				m[0].Group = "0.0.f500"
				return m
			}()},
			refusal: "subchannel 0.0.f501 already belongs to group 0.0.f500"},
		{name: "wrong driver", nic: testNIC("0.0.0600", 0, ""),
			obs: Observed{Members: func() [3]Member {
				m := members("0.0.0600", "0.0.0601", "0.0.0602")
				m[1].Driver = "lcs"
				return m
			}()},
			refusal: `bound to driver "lcs"`},
		{name: "layer 3 with a MAC", nic: func() nic.NIC { n := testNIC("0.0.f500", 0, "02:00:00:00:00:01"); n.Layer2 = nic.Layer3; return n }(),
			refusal: "no MAC to set"},
		{name: "layer 3 asked for", nic: func() nic.NIC { n := testNIC("0.0.f500", 0, ""); n.Layer2 = nic.Layer3; return n }(),
			obs:  Observed{Group: group(false, -1, 0, f500...)},
			want: "set layer2=0; online; wait for udev"},
		{name: "rename and extra attributes", nic: func() nic.NIC {
			n := testNIC("0.0.f500", 0, "02:00:00:00:00:01")
			n.IfName = "lan0"
			n.Attrs = []nic.Attr{{Name: "buffer_count", Value: "128"}}
			return n
		}(),
			obs:  Observed{Group: group(false, 1, 0, f500...)},
			want: "set buffer_count=128; online; wait for udev; rename to lan0; set MAC 02:00:00:00:00:01"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := MakePlan(tc.nic, tc.obs)
			if tc.refusal != "" {
				var r *Refusal
				if !errors.As(err, &r) || !strings.Contains(err.Error(), tc.refusal) {
					t.Fatalf("err = %v, want refusal %q", err, tc.refusal)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := steps(p); got != tc.want {
				t.Errorf("steps:\n got %s\nwant %s", got, tc.want)
			}
			if got := joinIDs(p.Free); got != tc.free {
				t.Errorf("free = %q, want %q", got, tc.free)
			}
			if tc.warn != "" && (len(p.Warnings) == 0 || !strings.Contains(p.Warnings[0], tc.warn)) {
				t.Errorf("warnings %v, want %q", p.Warnings, tc.warn)
			}
		})
	}
}

func TestIgnoreList(t *testing.T) {
	l, err := ParseIgnoreList("0.0.0000-0.0.0009\n0.0.f500\n0.1.0000-0.1.ffff\n")
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]bool{"0.0.0005": true, "0.0.000a": false, "0.0.f500": true, "0.0.f501": false, "0.1.1234": true, "0.2.0000": false} {
		if l.Contains(ccw.MustParse(id)) != want {
			t.Errorf("%s: want %v", id, want)
		}
	}
	if _, err := ParseIgnoreList("0.0.zzzz\n"); err == nil {
		t.Error("want error")
	}
}

func TestParseNetDevPath(t *testing.T) {
	for p, want := range map[string]string{
		"/devices/qeth/0.0.f500/net/encf500":               "0.0.f500 encf500",
		"/devices/qeth/0.1.0600/net/eth0":                  "0.1.0600 eth0",
		"/devices/virtual/net/veth0":                       "",
		"/devices/css0/0.0.0000/0.0.0001/virtio0/net/enc1": "",
		"/devices/qeth/0.0.f500/net":                       "",
	} {
		id, name, ok := ParseNetDevPath(p)
		got := ""
		if ok {
			got = id + " " + name
		}
		if got != want {
			t.Errorf("%s: %q, want %q", p, got, want)
		}
	}
}
