package zkernel

import (
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
)

func TestForcedLayer(t *testing.T) {
	tests := []struct {
		name      string
		kind      Kind
		vnic      bool
		forced    int
		write     string
		errno     syscall.Errno
		wantLayer string
		cardType  string
		devtype   string // DEVTYPE of the ccwgroup add event
	}{
		{"VNIC QDIO forced layer 2, write 1", KindOSD, true, 1, "1", 0, "1\n", "Virt.NIC QDIO\n", "qeth_layer2"},
		{"VNIC QDIO forced layer 2, write 0", KindOSD, true, 1, "0", syscall.EOPNOTSUPP, "1\n", "Virt.NIC QDIO\n", "qeth_layer2"},
		{"VNIC QDIO forced layer 3, write 1", KindOSD, true, 0, "1", syscall.EOPNOTSUPP, "0\n", "Virt.NIC QDIO\n", "qeth_layer3"},
		{"VNIC Hiper always layer 3", KindIQD, true, -1, "1", syscall.EOPNOTSUPP, "0\n", "Virt.NIC Hiper\n", "qeth_layer3"},
		{"VNIC Hiper write 0", KindIQD, true, -1, "0", 0, "0\n", "Virt.NIC Hiper\n", "qeth_layer3"},
		{"OSM always layer 2", KindOSM, false, -1, "0", syscall.EOPNOTSUPP, "1\n", "OSM_1000\n", "qeth_layer2"},
		{"VNIC QDIO free layer", KindOSD, true, -1, "0", 0, "0\n", "Virt.NIC QDIO\n", "qeth_generic"},
		{"bad value before the enforcement check", KindOSD, true, 1, "5", syscall.EINVAL, "1\n", "Virt.NIC QDIO\n", "qeth_layer2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			devs := triplet(t, tt.kind, 1, "0.0.0600", func(d *Device) { d.VNIC = tt.vnic; d.ForcedLayer = tt.forced })
			k := newKernel(t, Config{Devices: devs})
			mustWrite(t, k, groupFile, "0.0.0600,0.0.0601,0.0.0602")
			g := "sys/bus/ccwgroup/devices/0.0.0600/"
			wantErrno(t, "layer2 write", k.WriteFile(g+"layer2", []byte(tt.write)), tt.errno)
			if got := mustRead(t, k, g+"layer2"); got != tt.wantLayer {
				t.Errorf("layer2 = %q, want %q", got, tt.wantLayer)
			}
			if got := mustRead(t, k, g+"card_type"); got != tt.cardType {
				t.Errorf("card_type = %q, want %q", got, tt.cardType)
			}
			if ev := k.Uevents()[0]; ev.Props["DEVTYPE"] != tt.devtype || ev.Action != "add" {
				t.Errorf("first event %v, want add with DEVTYPE=%s", ev.Env(), tt.devtype)
			}
		})
	}
}

func TestFixtureValidation(t *testing.T) {
	osd := func(mod func(d *Device)) []Device { return triplet(t, KindOSD, 1, "0.0.f500", mod) }
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"bad bus id", Config{Devices: []Device{{BusID: "f500", Kind: KindOSD, ForcedLayer: -1}}}, "bus id"},
		{"bad kind", Config{Devices: []Device{{BusID: "0.0.f500", Kind: "XYZ"}}}, "unknown kind"},
		{"duplicate", Config{Devices: append(osd(nil), osd(nil)[0])}, "twice"},
		{"bad forced layer", Config{Devices: osd(func(d *Device) { d.ForcedLayer = 2 })}, "ForcedLayer"},
		{"OSM layer 3", Config{Devices: []Device{{BusID: "0.0.f500", Kind: KindOSM}}}, "OSM"},
		{"bad MAC", Config{Devices: osd(func(d *Device) { d.HWMAC = "nope" })}, "HWMAC"},
		{"multicast MAC", Config{Devices: osd(func(d *Device) { d.HWMAC = "01:00:5e:00:00:01" })}, "unicast"},
		{"bad in-use MAC", Config{Devices: osd(func(d *Device) { d.MACInUse = []string{"x"} })}, "MACInUse"},
		{"group of unknown", Config{Devices: osd(nil), Groups: []Group{{BusIDs: [3]string{"0.0.f500", "0.0.f501", "0.0.f5ff"}, Layer2: -1}}}, "not a device"},
		{"group of ignored", Config{Devices: osd(func(d *Device) { d.Ignored = true }), Groups: []Group{{BusIDs: [3]string{"0.0.f500", "0.0.f501", "0.0.f502"}, Layer2: -1}}}, "cio_ignore"},
		{"group conflicts with enforced layer", Config{Devices: osd(func(d *Device) { d.ForcedLayer = 1 }), Groups: []Group{{BusIDs: [3]string{"0.0.f500", "0.0.f501", "0.0.f502"}, Layer2: 0}}}, "enforced"},
		{"group portno", Config{Devices: osd(nil), Groups: []Group{{BusIDs: [3]string{"0.0.f500", "0.0.f501", "0.0.f502"}, Layer2: 1, PortNo: 2}}}, "PortNo"},
		{"group online with FailOnline", Config{Devices: osd(func(d *Device) { d.FailOnline = syscall.ENODEV }), Groups: []Group{{BusIDs: [3]string{"0.0.f500", "0.0.f501", "0.0.f502"}, Layer2: 1, Online: true}}}, "FailOnline"},
		{"group without qeth", Config{QethNotLoaded: true, Devices: osd(nil), Groups: []Group{{BusIDs: [3]string{"0.0.f500", "0.0.f501", "0.0.f502"}, Layer2: 1}}}, "not bound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := New(tt.cfg)
			if err == nil {
				k.Close()
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

func TestPreGroupedFixture(t *testing.T) {
	devs := append(triplet(t, KindOSD, 1, "0.0.f500", func(d *Device) { d.HWMAC = "02:00:00:00:00:05" }),
		triplet(t, KindOSD, 2, "0.0.0600", nil)...)
	devs = append(devs, triplet(t, KindIQD, 3, "0.0.7000", nil)...)
	cfg := Config{Devices: devs, Groups: []Group{
		{BusIDs: [3]string{"0.0.F500", "0.0.f501", "0.0.f502"}, Layer2: 1, Online: true},
		{BusIDs: [3]string{"0.0.0600", "0.0.0601", "0.0.0602"}, Layer2: -1, PortNo: 1},
		{BusIDs: [3]string{"0.0.7000", "0.0.7001", "0.0.7002"}, Layer2: -1, Online: true},
	}}
	k := newKernel(t, cfg)
	runSteps(t, k, []step{
		{"r", "sys/bus/ccwgroup/devices/0.0.f500/online", "1\n", 0},
		{"r", "sys/bus/ccwgroup/devices/0.0.f500/if_name", "encf500\n", 0},
		{"r", "sys/bus/ccwgroup/devices/0.0.f500/net/encf500/address", "02:00:00:00:00:05\n", 0},
		{"r", "sys/class/net/encf500/ifindex", "2\n", 0},
		{"r", "sys/bus/ccwgroup/devices/0.0.0600/online", "0\n", 0},
		{"r", "sys/bus/ccwgroup/devices/0.0.0600/layer2", "-1\n", 0},
		{"r", "sys/bus/ccwgroup/devices/0.0.0600/portno", "1\n", 0},
		{"r", "sys/bus/ccwgroup/devices/0.0.0600/if_name", "(unnamed net_device)\n", 0},
		{"r", "sys/bus/ccwgroup/devices/0.0.7000/layer2", "0\n", 0},
		{"r", "sys/bus/ccwgroup/devices/0.0.7000/if_name", "enc7000\n", 0},
		{"w", "sys/bus/ccwgroup/drivers/qeth/group", "0.0.0600,0.0.0601,0.0.0602", syscall.EINVAL},
		{"w", "sys/bus/ccwgroup/devices/0.0.0600/online", "1", 0},
		{"r", "sys/bus/ccwgroup/devices/0.0.0600/if_name", "eth0\n", 0},
	})
	// Boot itself emits nothing: after one online and udevd's rename the
	// log holds exactly the online's add and change and the rename's move.
	settle(t, k)
	var got []string
	for _, e := range k.Uevents() {
		got = append(got, e.Action+" "+e.Subsystem)
	}
	if strings.Join(got, ", ") != "add net, change ccwgroup, move net" {
		t.Errorf("events after boot and one online: %v", got)
	}
	st, ok := k.Group("0.0.F500")
	if !ok || !st.Online || st.Layer2 != 1 || st.IfName != "encf500" || st.MAC != "02:00:00:00:00:05" || st.CardState != "SOFTSETUP" {
		t.Errorf("Group(0.0.F500) = %+v, %v", st, ok)
	}
	settle(t, k)
	st, _ = k.Group("0.0.0600")
	if st.IfName != "enc600" {
		t.Errorf("0.0.0600 not renamed: %+v", st)
	}
}

func TestNoRename(t *testing.T) {
	devs := triplet(t, KindOSD, 1, "0.0.f500", nil)
	k := newKernel(t, Config{Devices: devs, NoRename: true,
		Groups: []Group{{BusIDs: [3]string{"0.0.f500", "0.0.f501", "0.0.f502"}, Layer2: 1, Online: true}}})
	if got := mustRead(t, k, "sys/bus/ccwgroup/devices/0.0.f500/if_name"); got != "eth0\n" {
		t.Errorf("if_name %q", got)
	}
}

func TestFailOnline(t *testing.T) {
	devs := triplet(t, KindIQD, 1, "0.0.7000", func(d *Device) { d.FailOnline = syscall.ENODEV })
	k := newKernel(t, Config{Devices: devs})
	mustWrite(t, k, groupFile, "0.0.7000,0.0.7001,0.0.7002")
	g := "sys/bus/ccwgroup/devices/0.0.7000/"
	err := k.WriteFile(g+"online", []byte("1"))
	wantErrno(t, "online=1", err, syscall.ENODEV)
	var pe interface{ Unwrap() error }
	if !errors.As(err, &pe) {
		t.Errorf("error %T is not a wrapped error", err)
	}
	runSteps(t, k, []step{
		{"r", g + "online", "0\n", 0},
		{"r", g + "state", "DOWN\n", 0},
		{"r", g + "layer2", "0\n", 0}, // the default discipline stays set
		{"r", g + "if_name", "(unnamed net_device)\n", 0},
		{"r", "sys/bus/ccw/devices/0.0.7001/online", "0\n", 0},
		{"w", g + "online", "1", syscall.ENODEV},
		{"w", g + "ungroup", "1", 0},
	})
	if links := k.Links().List(); len(links) != 0 {
		t.Errorf("links after failed online: %+v", links)
	}
}

func TestMemLinksMAC(t *testing.T) {
	cfg := baseConfig(t)
	cfg.Devices = append(cfg.Devices, triplet(t, KindOSM, 0x30, "0.0.3000", nil)...)
	k := newKernel(t, cfg)
	freeAndGroup(t, k)
	ml := k.Links()
	if ml == nil {
		t.Fatal("no MemLinks")
	}
	mac := func(s string) net.HardwareAddr { m, _ := net.ParseMAC(s); return m }
	g := "sys/bus/ccwgroup/devices/0.0.f500/"
	mustWrite(t, k, g+"layer2", "1")
	mustWrite(t, k, g+"online", "1")
	set := func(name, m string, want syscall.Errno) {
		t.Helper()
		err := ml.SetHardwareAddr(name, mac(m))
		if want == 0 && err != nil || want != 0 && !errors.Is(err, want) {
			t.Errorf("SetHardwareAddr(%s, %s) = %v, want %v", name, m, err, want)
		}
	}
	set("eth0", "02:00:00:00:00:99", syscall.EADDRINUSE)
	set("eth0", "01:00:5e:00:00:01", syscall.EADDRNOTAVAIL)
	set("eth0", "00:00:00:00:00:00", syscall.EADDRNOTAVAIL)
	set("eth0", "02:00:00:00:f5:00", 0) // unchanged
	set("eth0", "02:aa:bb:cc:dd:ee", 0)
	set("nope0", "02:aa:bb:cc:dd:ee", syscall.ENODEV)
	if err := ml.SetUp("eth0"); err != nil {
		t.Fatal(err)
	}
	set("eth0", "02:aa:bb:cc:dd:ef", 0) // allowed while up
	if got := mustRead(t, k, g+"state"); got != "UP (LAN ONLINE)\n" {
		t.Errorf("state %q", got)
	}
	if got := mustRead(t, k, g+"net/eth0/address"); got != "02:aa:bb:cc:dd:ef\n" {
		t.Errorf("address %q", got)
	}
	mustWrite(t, k, g+"online", "0")
	set("eth0", "02:aa:bb:cc:dd:01", syscall.ENODEV)
	if err := ml.SetUp("eth0"); !errors.Is(err, syscall.ENODEV) {
		t.Errorf("SetUp detached: %v", err)
	}
	mustWrite(t, k, g+"online", "1")
	if st, _ := k.Group("0.0.f500"); st.MAC != "02:aa:bb:cc:dd:ef" || st.CardState != "UP (LAN ONLINE)" {
		t.Errorf("MAC or IFF_UP lost across offline/online: %+v", st)
	}

	// Layer 3: no MAC changes, even when offline.
	mustWrite(t, k, groupFile, "0.0.7000,0.0.7001,0.0.7002")
	mustWrite(t, k, "sys/bus/ccwgroup/devices/0.0.7000/online", "1")
	set("hsi0", "02:00:00:00:70:01", syscall.EOPNOTSUPP)
	mustWrite(t, k, "sys/bus/ccwgroup/devices/0.0.7000/online", "0")
	set("hsi0", "02:00:00:00:70:01", syscall.EOPNOTSUPP)

	// OSM/OSX: EOPNOTSUPP from the driver, ENODEV first when offline.
	mustWrite(t, k, groupFile, "0.0.3000,0.0.3001,0.0.3002")
	mustWrite(t, k, "sys/bus/ccwgroup/devices/0.0.3000/online", "1")
	set("eth1", "02:00:00:00:30:01", syscall.EOPNOTSUPP)
	mustWrite(t, k, "sys/bus/ccwgroup/devices/0.0.3000/online", "0")
	set("eth1", "02:00:00:00:30:01", syscall.ENODEV)
}

func TestLinkDown(t *testing.T) {
	devs := triplet(t, KindOSD, 1, "0.0.f500", func(d *Device) { d.LinkDown = true })
	k := newKernel(t, Config{Devices: devs, NoRename: true,
		Groups: []Group{{BusIDs: [3]string{"0.0.f500", "0.0.f501", "0.0.f502"}, Layer2: 1, Online: true}}})
	if err := k.Links().SetUp("eth0"); err != nil {
		t.Fatal(err)
	}
	g := "sys/bus/ccwgroup/devices/0.0.f500/"
	runSteps(t, k, []step{
		{"r", g + "state", "UP (LAN OFFLINE)\n", 0},
		{"r", g + "net/eth0/carrier", "0\n", 0},
		{"r", g + "net/eth0/operstate", "down\n", 0},
	})
	// The random MAC is locally administered unicast.
	st, _ := k.Group("0.0.f500")
	m, err := net.ParseMAC(st.MAC)
	if err != nil || m[0]&3 != 2 {
		t.Errorf("random MAC %q is not locally administered unicast", st.MAC)
	}
}
