package kvm

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func goldenBackend(cfg Config, domType string, cpu *CPU) *Backend {
	if cfg.DomainPrefix == "" {
		cfg.DomainPrefix = "zguest-"
	}
	if cfg.DriveBus == "" {
		cfg.DriveBus = "scsi"
	}
	if cfg.OnCrash == "" {
		cfg.OnCrash = "destroy"
	}
	return &Backend{cfg: cfg, domType: domType, emulator: "/usr/bin/qemu-system-s390x", cpu: cpu}
}

func TestDomainGolden(t *testing.T) {
	maxCPU := &CPU{Mode: "custom", Match: "exact", Check: "none", Model: &CPUModel{Fallback: "forbid", Name: "max"}}
	deployed := &GuestMeta{UserID: "E2E1", VCPUs: 2, MemoryMB: 1024, Created: "2026-11-21T19:00:00Z", Image: "debian12",
		Dir: "/var/lib/zguest/kvm/guests/E2E1", Root: "/var/lib/zguest/kvm/guests/E2E1/root.qcow2",
		Base: "/var/lib/zguest/kvm/images/debian12/disk.qcow2", Drive: "/var/lib/zguest/kvm/guests/E2E1/configdrive.iso",
		NICs: []MetaNIC{{DevNo: "1000", MAC: "0a:00:00:00:00:11", NICID: "5d9ac8e0-port", Coupled: true}}}
	tests := []struct {
		name string
		b    *Backend
		uuid string
		g    *GuestMeta
	}{
		{"created-tcg", goldenBackend(Config{Network: NetworkConfig{Type: "user"}}, "qemu", maxCPU), "0b7f5c2e-3c1a-4f7e-9a53-1d2c3b4a5f60",
			&GuestMeta{UserID: "NEW1", VCPUs: 1, MemoryMB: 512, Dir: "/srv/kvm/guests/NEW1"}},
		{"deployed-tcg-user-scsi", goldenBackend(Config{Network: NetworkConfig{Type: "user"}}, "qemu", maxCPU), "6a1f0c55-7b7e-4d2a-8f43-9e1d2c3b4a50", deployed},
		{"deployed-kvm-bridge-virtio", goldenBackend(Config{Network: NetworkConfig{Type: "bridge", Source: "br0"}, DriveBus: "virtio",
			ConsoleLogDir: "/var/log/zguest/console", DomainPrefix: "os-"}, "kvm", &CPU{Mode: "host-model"}), "9c8b7a6f-5e4d-4c3b-8a29-181716151413",
			&GuestMeta{UserID: "WEB01", VCPUs: 4, MemoryMB: 8192, Image: "rhel9", Dir: "/srv/kvm/guests/WEB01",
				Root: "/srv/kvm/guests/WEB01/root.qcow2", Drive: "/srv/kvm/guests/WEB01/configdrive.iso", RootSize: 10 << 30,
				Disks: []MetaDisk{{DevNo: "0101", File: "/srv/kvm/guests/WEB01/disk-0101.qcow2", Size: 1 << 30}},
				NICs: []MetaNIC{{DevNo: "1000", MAC: "02:00:00:00:0a:01", Coupled: true},
					{DevNo: "1003", MAC: "02:00:00:00:0a:02", Source: "br-storage", Coupled: true},
					{DevNo: "1006", MAC: "02:00:00:00:0a:03"}}}},
		{"deployed-direct-default-cpu", goldenBackend(Config{Network: NetworkConfig{Type: "direct", Source: "enc8000", Mode: "bridge"}, OnCrash: "preserve"}, "kvm", nil),
			"11111111-2222-4333-8444-555555555555", deployed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.b.domainFor(tc.uuid, tc.g).Marshal()
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tc.name+".xml")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the rendering (go test -update rewrites it):\n%s", path, got)
			}
			// The metadata reads back as written.
			g, ok, err := ParseGuestMeta(string(want))
			if err != nil || !ok {
				t.Fatalf("ParseGuestMeta: %v %v", ok, err)
			}
			if !reflect.DeepEqual(g, tc.g) {
				t.Errorf("metadata round trip:\n got %+v\nwant %+v", g, tc.g)
			}
			// Parsing and rendering again is stable.
			d, err := ParseDomain(string(want))
			if err != nil {
				t.Fatal(err)
			}
			again, _ := d.Marshal()
			if !bytes.Equal(again, want) {
				t.Errorf("re-rendering %s is not stable:\n%s", path, again)
			}
		})
	}
}

// TestParseGuestMetaLibvirt reads metadata the way libvirt writes it
// back (prefix and namespace declared on the element, other
// applications' metadata next to it).
func TestParseGuestMetaLibvirt(t *testing.T) {
	x := `<domain type='qemu' id='3'>
  <name>zguest-A1</name>
  <metadata>
    <other:info xmlns:other="http://example.com/other"><userid>EVIL</userid></other:info>
    <zguest:guest xmlns:zguest="https://github.com/zguest/zguest/xmlns/kvm/1">
      <userid>A1</userid>
      <vcpus>1</vcpus>
      <memory>512</memory>
      <dir>/s/guests/A1</dir>
      <nic devno="1000" mac="02:00:00:00:00:01" coupled="true"/>
    </zguest:guest>
  </metadata>
  <devices><emulator>/usr/bin/qemu-system-s390x</emulator></devices>
</domain>`
	g, ok, err := ParseGuestMeta(x)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if g.UserID != "A1" || len(g.NICs) != 1 || g.NICs[0].DevNo != "1000" || !g.NICs[0].Coupled {
		t.Errorf("%+v", g)
	}
	if _, ok, err := ParseGuestMeta(`<domain><name>x</name></domain>`); ok || err != nil {
		t.Errorf("foreign domain: %v %v", ok, err)
	}
	bad := []string{
		`<domain><metadata><zguest:guest xmlns:zguest="https://github.com/zguest/zguest/xmlns/kvm/1"><userid>a1</userid><vcpus>1</vcpus><memory>1</memory><dir>/x</dir></zguest:guest></metadata></domain>`,
		`<domain><metadata><zguest:guest xmlns:zguest="https://github.com/zguest/zguest/xmlns/kvm/1"><userid>A1</userid><vcpus>1</vcpus><memory>1</memory><dir>x/../y</dir></zguest:guest></metadata></domain>`,
		`<domain><metadata><zguest:guest xmlns:zguest="https://github.com/zguest/zguest/xmlns/kvm/1"><userid>A1</userid><vcpus>1</vcpus><memory>1</memory><dir>/x</dir><nic devno="1000" mac="01:00:00:00:00:01"/></zguest:guest></metadata></domain>`,
		`<domain><metadata><zguest:guest xmlns:zguest="https://github.com/zguest/zguest/xmlns/kvm/1"><userid>A1</userid><vcpus>0</vcpus><memory>1</memory><dir>/x</dir></zguest:guest></metadata></domain>`,
		`<domain><metadata><zguest:guest`,
	}
	for _, x := range bad {
		if _, _, err := ParseGuestMeta(x); err == nil {
			t.Errorf("accepted %s", x)
		}
	}
}

func FuzzParseGuestMeta(f *testing.F) {
	for _, name := range []string{"created-tcg", "deployed-tcg-user-scsi", "deployed-kvm-bridge-virtio"} {
		if b, err := os.ReadFile(filepath.Join("testdata", name+".xml")); err == nil {
			f.Add(string(b))
		}
	}
	f.Add(`<domain><metadata><zguest:guest xmlns:zguest="` + MetaNS + `"><userid>A</userid></zguest:guest></metadata></domain>`)
	f.Fuzz(func(t *testing.T, s string) {
		g, ok, err := ParseGuestMeta(s)
		if err != nil || !ok {
			return
		}
		// What passed the checks renders and reads back the same.
		b := goldenBackend(Config{Network: NetworkConfig{Type: "user"}}, "qemu", nil)
		x, err := b.domainFor("", g).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		g2, ok, err := ParseGuestMeta(string(x))
		if err != nil || !ok || !reflect.DeepEqual(g, g2) {
			t.Fatalf("round trip: %v %v\n%+v\n%+v", ok, err, g, g2)
		}
	})
}

func FuzzParseDomainCaps(f *testing.F) {
	f.Add(`<domainCapabilities><path>/usr/bin/qemu-system-s390x</path><cpu><mode name='custom' supported='yes'><model usable='yes'>max</model></mode></cpu></domainCapabilities>`)
	f.Add(`<domainCapabilities><cpu><mode name='host-model' supported='yes'/></cpu></domainCapabilities>`)
	f.Fuzz(func(t *testing.T, s string) {
		c, err := parseDomainCaps(s)
		if err != nil {
			return
		}
		cpu, err := chooseCPU(c, "")
		if err == nil && cpu != nil && cpu.Mode != "host-model" && (cpu.Model == nil || cpu.Model.Name != "max") {
			t.Fatalf("chose %+v", cpu)
		}
	})
}

func TestChooseCPU(t *testing.T) {
	tcg := `<domainCapabilities><cpu><mode name='host-model' supported='no'/><mode name='custom' supported='yes'>
<model usable='no'>z14</model><model usable='yes'>z900</model><model usable='yes'>max</model></mode></cpu></domainCapabilities>`
	kvmCaps := `<domainCapabilities><cpu><mode name='host-model' supported='yes'/></cpu></domainCapabilities>`
	none := `<domainCapabilities><cpu><mode name='custom' supported='yes'><model usable='yes'>qemu</model></mode></cpu></domainCapabilities>`
	tests := []struct {
		caps, configured, want, err string
	}{
		{kvmCaps, "", "host-model", ""},
		{kvmCaps, "z900", "host-model", ""},
		{tcg, "", "max", ""},
		{tcg, "z900", "z900", ""},
		{tcg, "z14", "", "not usable"},
		{none, "", "", ""},
	}
	for _, tc := range tests {
		c, err := parseDomainCaps(tc.caps)
		if err != nil {
			t.Fatal(err)
		}
		cpu, err := chooseCPU(c, tc.configured)
		got := ""
		if cpu != nil {
			got = cpu.Mode
			if cpu.Model != nil {
				got = cpu.Model.Name
			}
		}
		if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && !bytes.Contains([]byte(err.Error()), []byte(tc.err))) {
			t.Errorf("%q with %q: got %q %v, want %q %q", tc.caps[:40], tc.configured, got, err, tc.want, tc.err)
		}
	}
}
