package imagebuild_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zguest/zguest/builder/configdrive"
	"github.com/zguest/zguest/builder/dasd"
	"github.com/zguest/zguest/hostside/zvmsim"
	"github.com/zguest/zguest/internal/imagefixture"
	"github.com/zguest/zguest/internal/testutil"
	"github.com/zguest/zguest/internal/tools/hostdproc"
)

// zvmImageSize is the DASD the zvm boot tests build: 2 GiB rounded up to
// whole 3390 cylinders.
const (
	zvmImageSize = "2913cyl"
	zvmImageCyls = 2913
	zvmGuest     = "ZGE2E01"
)

// TestBootZVMDeployed is the z/VM image pipeline end to end: the Debian 12
// s390x fixture built by `zguest-image build` as a CDL ECKD DASD image in
// the cloud connector's xCAT CKD format; imported into zguest-hostd (the
// zvm backend on the z/VM simulator) with POST /images; a guest created
// with a root minidisk and deployed with a config drive; then the
// minidisk's backing file IPLed by qemu-system-s390x as a virtio-blk-ccw
// disk with 3390 geometry at the deploy vdev 0100. The firmware must take
// the ECKD path (CDL), the kernel mount root by UUID, the initramfs run
// the rd.dasd step, zguest-activate finish before cloud-init, and
// cloud-init take the config drive and set the hostname.
func TestBootZVMDeployed(t *testing.T) {
	testutil.RequireTool(t, "qemu-system-s390x")
	img := imagefixture.BuildImageAs(t, "zvm", "", zvmImageSize, "xcat", "")
	dir := t.TempDir()
	marker, drive := zvmConfigDrive(t, dir)

	sim, err := zvmsim.New(zvmsim.Options{DiskDir: filepath.Join(dir, "disks"),
		Pools: []zvmsim.Pool{{Name: "POOL1", Type: "ECKD", Capacity: 8 << 30}}})
	if err != nil {
		t.Fatal(err)
	}
	smapiLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	smapiSrv := sim.Serve(smapiLn)
	defer smapiSrv.Close()
	cpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cpSrv := sim.ServeCP(cpLn)
	defer cpSrv.Close()
	hostd := testutil.GoBuild(t, filepath.Join(t.TempDir(), "zguest-hostd"), "github.com/zguest/zguest/cmd/zguest-hostd", "", "CGO_ENABLED=0")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := os.MkdirAll(filepath.Join(dir, "hostd"), 0o755); err != nil {
		t.Fatal(err)
	}
	d, err := hostdproc.Start(ctx, hostdproc.Options{Binary: hostd, Dir: filepath.Join(dir, "hostd"), SMAPIAddr: smapiSrv.Addr(), CPAddr: cpSrv.Addr(),
		// What nova's image_tmp_path and instances directory are on a
		// compute host: where the image and the config drive are.
		SourceDirs: []string{filepath.Dir(img), filepath.Dir(drive)}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	cl := d.Client
	call := func(what string, r interface {
		Err() string
	}, status int, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v%s", what, err, d.LogTail())
		}
		if status != 200 {
			t.Fatalf("%s: HTTP %d %s%s", what, status, r.Err(), d.LogTail())
		}
	}
	// The connector knows no Debian (rhel, sles, ubuntu, rhcos): Ubuntu is
	// the Debian family. It only selects network scripts, and this guest
	// has no NIC.
	r, err := cl.ImageImport(ctx, "zvm-e2e", "file://"+img, map[string]any{"os_version": "ubuntu22.04"}, "")
	call("POST /images", r, r.Status, err)
	r, err = cl.ImageQuery(ctx, "zvm-e2e")
	call("GET /images", r, r.Status, err)
	var ims []struct {
		DiskSizeUnits string `json:"disk_size_units"`
	}
	if err := r.Out(&ims); err != nil || len(ims) != 1 || ims[0].DiskSizeUnits != strconv.Itoa(zvmImageCyls)+":CYL" {
		t.Fatalf("image query: %+v %v, want disk_size_units %d:CYL", ims, err, zvmImageCyls)
	}
	// nova asks for the flavor's root_gb; 3g is more than the image.
	r, err = cl.GuestCreate(ctx, zvmGuest, 2, 1024, []map[string]any{{"size": "3g", "is_boot_disk": true}})
	call("POST /guests", r, r.Status, err)
	r, err = cl.GuestDeploy(ctx, zvmGuest, "zvm-e2e", drive, "")
	call("deploy", r, r.Status, err)
	backing, size, err := sim.DiskPath(zvmGuest, "0100")
	if err != nil {
		t.Fatal(err)
	}
	if size%dasd.CylinderBytes != 0 {
		t.Fatalf("minidisk of %d bytes is not whole cylinders", size)
	}
	d.Stop()
	bootZVM(t, backing, size/dasd.CylinderBytes, drive, marker, filepath.Join(dir, "console.log"))
}

// TestBootZVMRawImage boots the raw DASD image the same way, without the
// daemon.
func TestBootZVMRawImage(t *testing.T) {
	testutil.RequireTool(t, "qemu-system-s390x")
	img := imagefixture.BuildImageAs(t, "zvm", "", zvmImageSize, "raw", "")
	dir := t.TempDir()
	marker, drive := zvmConfigDrive(t, dir)
	bootZVM(t, img, zvmImageCyls, drive, marker, filepath.Join(dir, "console.log"))
}

// zvmConfigDrive writes a config drive with `zguest-image configdrive`
// whose user data prints the facts the test checks and then a marker.
func zvmConfigDrive(t *testing.T, dir string) (marker, drive string) {
	t.Helper()
	nonce := make([]byte, 6)
	_, _ = rand.Read(nonce)
	marker = "ZGUEST-E2E-DONE-" + hex.EncodeToString(nonce)
	script := `#!/bin/sh
exec >/dev/console 2>&1
echo "ZGUEST-FACT hostname=$(hostname)"
echo "ZGUEST-FACT root=$(findmnt -n -o SOURCE /)"
echo "ZGUEST-FACT root_uuid=$(findmnt -n -o UUID /)"
echo "ZGUEST-FACT activate=$(systemctl is-active zguest-activate.service)"
echo "ZGUEST-FACT activate_done=$(systemctl show -p ActiveEnterTimestampMonotonic --value zguest-activate.service)"
echo "ZGUEST-FACT cloud_init_local_start=$(systemctl show -p InactiveExitTimestampMonotonic --value cloud-init-local.service)"
echo "ZGUEST-FACT cloud_id=$(cloud-id)"
echo ` + marker + `
`
	inst := configdrive.Instance{
		UUID:     "7a2d9c1e-4b3f-4d8e-8c6a-1f2e3d4c5b6a",
		Hostname: "zguest-zvm-e2e",
		Name:     "zguest-zvm-e2e",
		UserData: []byte(script),
	}
	js, err := json.Marshal(inst)
	if err != nil {
		t.Fatal(err)
	}
	instFile := filepath.Join(dir, "instance.json")
	if err := os.WriteFile(instFile, js, 0o644); err != nil {
		t.Fatal(err)
	}
	drive = filepath.Join(dir, "cfgdrive.iso")
	if b, err := exec.Command(imagefixture.ImageTool(t), "configdrive", "--from-json", instFile, "-o", drive).CombinedOutput(); err != nil {
		t.Fatalf("zguest-image configdrive: %v\n%s", err, b)
	}
	return marker, drive
}

// bootZVM IPLs a DASD image file of cyls cylinders through the firmware's
// ECKD path and checks the boot.
func bootZVM(t *testing.T, disk string, cyls int64, drive, marker, logFile string) {
	t.Helper()
	args := []string{"-m", "1024", "-smp", "2",
		"-drive", "file=" + disk + ",if=none,id=root,format=raw",
		// The deploy vdev 0100, with the geometry of a 3390 at 4 KiB
		// blocks: the firmware converts zipl's cylinder/head/record
		// pointers with it.
		"-device", "virtio-blk-ccw,drive=root,devno=fe.0.0100,bootindex=1,logical_block_size=4096,physical_block_size=4096,heads=15,secs=12,cyls=" +
			strconv.FormatInt(cyls, 10),
		"-device", "virtio-scsi-ccw,id=scsi0,devno=fe.0.0003",
		"-drive", "file=" + drive + ",if=none,id=cfg,media=cdrom,readonly=on,format=raw",
		"-device", "scsi-cd,bus=scsi0.0,drive=cfg",
	}
	start := time.Now()
	con, err := imagefixture.BootQEMU(t, args, logFile, 12*time.Minute, func(lines []imagefixture.Line) bool {
		return imagefixture.Index(lines, marker) >= 0 && imagefixture.Index(lines, "Datasource DataSource") >= 0
	})
	lines := con.Lines()
	if err != nil {
		t.Fatalf("boot: %v (console in %s); last lines:\n%s", err, logFile, imagefixture.Tail(lines, 80))
	}
	t.Logf("marker after %s", time.Since(start).Round(time.Second))
	fact := func(name string) string {
		i := imagefixture.Index(lines, "ZGUEST-FACT "+name+"=")
		if i < 0 {
			return ""
		}
		s := lines[i].Text
		return strings.TrimSpace(s[strings.Index(s, "ZGUEST-FACT "+name+"=")+len("ZGUEST-FACT "+name+"="):])
	}
	// The firmware read zipl's ECKD boot records from a CDL disk.
	if i := imagefixture.Index(lines, "Using ECKD scheme"); i < 0 || !strings.Contains(lines[i].Text, "CDL") {
		t.Errorf("the firmware did not report the ECKD scheme on a CDL disk")
	}
	i := imagefixture.Index(lines, "Kernel command line:")
	if i < 0 || !strings.Contains(lines[i].Text, "root=UUID=") || !strings.Contains(lines[i].Text, "rd.dasd=0.0.0100") {
		t.Errorf("kernel command line from the boot map missing or wrong: %q", lines[max(i, 0)].Text)
	}
	if imagefixture.Index(lines, "vda:VOL1/  LNX001: vda1") < 0 {
		t.Errorf("the kernel did not find the VTOC partition (no \"vda:VOL1/  LNX001: vda1\")")
	}
	// The initramfs' rd.dasd step ran: under QEMU 0.0.0100 is the virtio
	// disk, online already.
	if imagefixture.Index(lines, "zguest_dasd: 0.0.0100 is online (driver virtio_ccw)") < 0 {
		t.Errorf("the initramfs did not run the rd.dasd step for 0.0.0100")
	}
	if got := fact("root"); got != "/dev/vda1" {
		t.Errorf("root mounted from %q, want /dev/vda1", got)
	}
	if got := fact("root_uuid"); got == "" || !strings.Contains(lines[max(i, 0)].Text, "root=UUID="+got) {
		t.Errorf("root file system UUID %q is not the command line's root=UUID=", got)
	}
	if got := fact("activate"); got != "active" {
		t.Errorf("zguest-activate.service is %q, want active", got)
	}
	done, _ := strconv.ParseInt(fact("activate_done"), 10, 64)
	cil, _ := strconv.ParseInt(fact("cloud_init_local_start"), 10, 64)
	if done == 0 || cil == 0 || done > cil {
		t.Errorf("zguest-activate finished at %d µs, cloud-init-local started at %d µs: want the agent first", done, cil)
	}
	if imagefixture.Index(lines, "Datasource DataSourceConfigDrive") < 0 {
		t.Errorf("cloud-init did not finish with the ConfigDrive datasource")
	}
	if got := fact("cloud_id"); got != "configdrive" {
		t.Errorf("cloud-id = %q, want configdrive", got)
	}
	if got := fact("hostname"); got != "zguest-zvm-e2e" {
		t.Errorf("hostname = %q, want zguest-zvm-e2e", got)
	}
	if t.Failed() {
		t.Logf("console (%s), last lines:\n%s", logFile, imagefixture.Tail(lines, 150))
		return
	}
	var seen []imagefixture.Line
	for _, l := range lines {
		for _, k := range []string{"Using virtio-blk", "Using ECKD scheme", "VOLSER=", "Linux version", "Kernel command line", "vda:VOL1",
			"zguest_dasd:", "EXT4-fs (vda1)", "zguest-agent:", "zguest-activate", "running 'init-local'", "Datasource DataSource", "ZGUEST-FACT", marker} {
			if strings.Contains(l.Text, k) {
				seen = append(seen, l)
				break
			}
		}
	}
	t.Logf("console lines checked:\n%s", imagefixture.Tail(seen, 50))
}

// TestBootZVMLDL builds the DASD with the Linux disk layout (LNX1 label,
// partition from block 3) and IPLs it until the kernel has mounted the
// root file system from the partition.
func TestBootZVMLDL(t *testing.T) {
	testutil.RequireTool(t, "qemu-system-s390x")
	img := imagefixture.BuildImageAs(t, "zvm", "", zvmImageSize, "raw", "partition_table: ldl\n")
	args := []string{"-m", "1024", "-smp", "2",
		"-drive", "file=" + img + ",if=none,id=root,format=raw",
		"-device", "virtio-blk-ccw,drive=root,devno=fe.0.0100,bootindex=1,logical_block_size=4096,physical_block_size=4096,heads=15,secs=12,cyls=" +
			strconv.Itoa(zvmImageCyls),
	}
	logFile := filepath.Join(t.TempDir(), "console.log")
	con, err := imagefixture.BootQEMU(t, args, logFile, 6*time.Minute, func(lines []imagefixture.Line) bool {
		return imagefixture.Index(lines, "EXT4-fs (vda1): mounted") >= 0
	})
	lines := con.Lines()
	if err != nil {
		t.Fatalf("boot: %v (console in %s); last lines:\n%s", err, logFile, imagefixture.Tail(lines, 60))
	}
	for _, want := range []string{"Using ECKD scheme (block size  4096), LDL version 2.", "VOLSER=[LNX001]", "vda:LNX1/  LNX001: vda1",
		"zguest_dasd: 0.0.0100 is online (driver virtio_ccw)"} {
		if imagefixture.Index(lines, want) < 0 {
			t.Errorf("console lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("console:\n%s", imagefixture.Tail(lines, 80))
	}
}
