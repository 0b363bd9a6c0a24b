package imagebuild_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/zguest/zguest/builder/configdrive"
	"github.com/zguest/zguest/internal/imagefixture"
	"github.com/zguest/zguest/internal/testutil"
)

// TestBootKVMImage is the image pipeline end to end: a Debian 12 s390x
// root file system (debootstrap, cached), `zguest-image build` for kvm,
// a config drive from `zguest-image configdrive`, and a boot under
// qemu-system-s390x (TCG) from the disk through the firmware, with a
// virtio-net-ccw NIC and DPM-style NIC tokens on the kernel command line.
// The console must show that the agent ran before cloud-init-local, said
// that the listed NIC is virtio and not qeth without failing the boot,
// and that cloud-init took the ConfigDrive datasource, set the hostname
// and configured enc1 statically.
func TestBootKVMImage(t *testing.T) {
	testutil.RequireTool(t, "qemu-system-s390x")
	const mac = "0a:00:00:00:00:11"
	// DPM's boot-os-specific-parameters form: <devno>,<port>,<mac>;
	img := imagefixture.BuildImage(t, "kvm", "0001,0,0a0000000011;")
	dir := t.TempDir()

	marker := doneMarker()
	// The user script runs in cloud-init's final stage and prints what the
	// test checks to the console, then the marker.
	script := `#!/bin/sh
exec >/dev/console 2>&1
echo "ZGUEST-FACT hostname=$(hostname)"
echo "ZGUEST-FACT enc1=$(ip -4 -o addr show dev enc1 | awk '{print $4}')"
echo "ZGUEST-FACT activate=$(systemctl is-active zguest-activate.service)"
echo "ZGUEST-FACT activate_done=$(systemctl show -p ActiveEnterTimestampMonotonic --value zguest-activate.service)"
echo "ZGUEST-FACT cloud_init_local_start=$(systemctl show -p InactiveExitTimestampMonotonic --value cloud-init-local.service)"
echo "ZGUEST-FACT cloud_id=$(cloud-id)"
echo "ZGUEST-FACT machine_id_first_boot=$(systemctl show -p ConditionResult --value systemd-firstboot.service 2>/dev/null)"
echo ` + marker + `
`
	mtu := 1500
	inst := configdrive.Instance{
		UUID:     "6f1c7c6e-3c9e-4c8e-9b7e-0e2f7d8a1b2c",
		Hostname: "zguest-e2e",
		Name:     "zguest-e2e",
		Keys:     []configdrive.Key{{Name: "e2e", Type: "ssh", Data: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBvZ8u0r0x9o8JjqZr0b8Wc8S1Yb8Vt0wQ4kz2Z3p1Ya e2e@zguest"}},
		UserData: []byte(script),
		Network: &configdrive.NetworkData{
			Links: []configdrive.Link{{ID: "tap0", Type: "phy", EthernetMACAddress: mac, MTU: &mtu}},
			Networks: []configdrive.Network{{ID: "network0", Type: "ipv4", Link: "tap0", IPAddress: "10.0.2.15",
				Netmask: "255.255.255.0", Routes: []configdrive.Route{{Network: "0.0.0.0", Netmask: "0.0.0.0", Gateway: "10.0.2.2"}}}},
		},
	}
	js, err := json.Marshal(inst)
	if err != nil {
		t.Fatal(err)
	}
	instFile := filepath.Join(dir, "instance.json")
	if err := os.WriteFile(instFile, js, 0o644); err != nil {
		t.Fatal(err)
	}
	drive := filepath.Join(dir, "cfgdrive.iso")
	if b, err := exec.Command(imagefixture.ImageTool(t), "configdrive", "--from-json", instFile, "-o", drive).CombinedOutput(); err != nil {
		t.Fatalf("zguest-image configdrive: %v\n%s", err, b)
	}

	args := []string{"-m", "1024", "-smp", "2",
		"-drive", "file=" + img + ",if=none,id=root,format=qcow2",
		"-device", "virtio-blk-ccw,drive=root,devno=fe.0.0010,bootindex=1",
		// nova's choice on s390x: the config drive as a SCSI cdrom.
		"-device", "virtio-scsi-ccw,id=scsi0,devno=fe.0.0003",
		"-drive", "file=" + drive + ",if=none,id=cfg,media=cdrom,readonly=on,format=raw",
		"-device", "scsi-cd,bus=scsi0.0,drive=cfg",
		"-netdev", "user,id=n0,restrict=on",
		"-device", "virtio-net-ccw,netdev=n0,devno=fe.0.0001,mac=" + mac,
	}
	logFile := filepath.Join(dir, "console.log")
	start := time.Now()
	con, err := imagefixture.BootQEMU(t, args, logFile, 12*time.Minute, func(lines []imagefixture.Line) bool {
		// The user script runs in cloud-init's final stage; its
		// "finished" line comes after.
		return imagefixture.Index(lines, marker) >= 0 && imagefixture.Index(lines, "Datasource DataSource") >= 0
	})
	lines := con.Lines()
	if err != nil {
		t.Fatalf("boot: %v (console in %s); last lines:\n%s", err, logFile, imagefixture.Tail(lines, 80))
	}
	t.Logf("marker after %s", time.Since(start).Round(time.Second))
	fail := func(format string, a ...any) {
		t.Helper()
		t.Errorf(format, a...)
	}
	fact := func(name string) string { return guestFact(lines, name) }

	// Booted through the firmware from the disk's boot record; the agent
	// ran first, said why it has nothing to do, and did not fail.
	checkBootAndAgent(t, lines, "0001,0,0a0000000011;")
	// cloud-init took the config drive and applied it.
	if i := imagefixture.Index(lines, "Datasource DataSourceConfigDrive"); i < 0 {
		fail("cloud-init did not finish with the ConfigDrive datasource")
	}
	if got := fact("cloud_id"); got != "configdrive" {
		fail("cloud-id = %q, want configdrive", got)
	}
	if got := fact("hostname"); got != "zguest-e2e" {
		fail("hostname = %q, want zguest-e2e", got)
	}
	if got := fact("enc1"); got != "10.0.2.15/24" {
		fail("enc1 address = %q, want 10.0.2.15/24 from network_data.json", got)
	}
	if t.Failed() {
		t.Logf("console (%s), last lines:\n%s", logFile, imagefixture.Tail(lines, 120))
		return
	}
	// What the test saw, for the record.
	t.Logf("console lines checked:\n%s", checkedLines(lines, "Using SCSI scheme", "Kernel command line", "zguest-agent:", "zguest-activate",
		"running 'init-local'", "Datasource DataSource", "ZGUEST-FACT", marker))
}
