package conformance

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zguest/zguest/hostside/hmc"
	"github.com/zguest/zguest/hostside/hmcsim"
	"github.com/zguest/zguest/internal/imagefixture"
	"github.com/zguest/zguest/internal/testutil"
)

// TestDPMSpawnBootsUnderQEMU: nova's driver spawns a partition from the
// image pipeline's dpm image (qcow2, not imported yet); the boot volume
// the daemon wrote (the simulator's backing file) then boots under
// qemu-system-s390x from its SCSI boot record, on virtio-scsi.
//
// QEMU cannot hand a disk IPL the load parameters the HMC appends to the
// kernel command line (boot-os-specific-parameters), so the image is
// built with the tokens the partition is expected to get on its command
// line, and the test checks that the partition, read back from the
// simulator, got exactly those. cloud-init finds the config drive nova
// built where the deploy put it: partition 2 at the volume's end.
func TestDPMSpawnBootsUnderQEMU(t *testing.T) {
	requireNova(t)
	testutil.RequireTool(t, "qemu-system-s390x")
	// The NIC nova's first instance gets: devno 0001, port 1 of the
	// mapped virtual switch, the harness's MAC 02:00:00:c0:00:01.
	const tokens = "0001,1,020000c00001;"
	const mac = "02:00:00:c0:00:01"
	img := imagefixture.BuildImage(t, "dpm", tokens)
	r := startDPM(t)
	runDriver(t, r.d.Client.Base, map[string]image{mainImage: {Path: img, OSDistro: "ubuntu22.04"}},
		[]step{{name: "construct"}, {name: "init_host"}, {name: "spawn"}})
	if t.Failed() {
		return
	}
	ctx := context.Background()
	ps, err := r.hc.ListPartitions(ctx, hmc.CPCURI("1f5b4c7e-0a4a-4c1a-9f1e-5a0c2b7d9e01"), "OpenStack-confhost-ABC00001")
	if err != nil || len(ps) != 1 {
		t.Fatalf("the spawned partition: %v %v", ps, err)
	}
	p, err := r.hc.GetPartition(ctx, ps[0].URI)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(p.BootOSSpecificParameters) != tokens || p.BootDevice != "storage-volume" {
		t.Fatalf("partition boots from %q with boot-os-specific-parameters %q; want storage-volume and %q (the image's command line)", p.BootDevice, p.BootOSSpecificParameters, tokens)
	}

	if !strings.Contains(r.d.LogTail(), "config drive written as partition 2 of the boot volume") {
		t.Fatal("the daemon did not write nova's config drive onto the boot volume")
	}
	dir := t.TempDir()
	vol := hmcsim.VolumeFile(r.volDir, bootVolume1)
	args := []string{"-m", "1024", "-smp", "2",
		"-device", "virtio-scsi-ccw,id=scsi0,devno=fe.0.0003",
		"-drive", "file=" + vol + ",if=none,id=root,format=raw",
		"-device", "scsi-hd,bus=scsi0.0,drive=root,bootindex=1",
		"-netdev", "user,id=n0,restrict=on",
		"-device", "virtio-net-ccw,netdev=n0,devno=fe.0.0001,mac=" + mac,
	}
	logFile := filepath.Join(dir, "console.log")
	start := time.Now()
	con, err := imagefixture.BootQEMU(t, args, logFile, 6*time.Minute, func(lines []imagefixture.Line) bool {
		return imagefixture.Index(lines, "Datasource DataSource") >= 0
	})
	lines := con.Lines()
	if err != nil {
		t.Fatalf("boot: %v; last lines:\n%s", err, imagefixture.Tail(lines, 80))
	}
	t.Logf("cloud-init finished %s after qemu started", time.Since(start).Round(time.Second))
	if imagefixture.Index(lines, "Using SCSI scheme") < 0 {
		t.Error("the firmware did not report the SCSI boot scheme (no zipl boot record on the volume?)")
	}
	if i := imagefixture.Index(lines, "Kernel command line:"); i < 0 || !strings.Contains(lines[i].Text, tokens) {
		t.Errorf("kernel command line without the partition's tokens %q", tokens)
	}
	if imagefixture.Index(lines, "not a qeth NIC") < 0 {
		t.Error("the agent did not report the token's NIC (virtio under QEMU) as not qeth")
	}
	if i := imagefixture.Index(lines, "Datasource DataSource"); i < 0 || !strings.Contains(lines[i].Text, "DataSourceConfigDrive") {
		t.Error("cloud-init did not finish with the ConfigDrive data source (nova's drive on the volume)")
	}
	if t.Failed() {
		t.Logf("console, last lines:\n%s", imagefixture.Tail(lines, 120))
	}
}
