package zvm_test

// The demo in one test: the backend creates and deploys a guest
// as nova drives it (image import, create, deploy with a config drive,
// two NICs, start) against the simulator, whose CP spool is the same
// spool.System the emulated guest kernel reads from; the built agent then
// receives cfgdrive.iso and nics.json and brings both NICs up with their
// MACs.

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zguest/zguest/agent/cfgdrive"
	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/internal/testutil"
	"github.com/zguest/zguest/internal/zkernel"
	"github.com/zguest/zguest/internal/zkernel/zkerneltest"
	"github.com/zguest/zguest/internal/zvm/spool"
)

func buildAgent(t *testing.T) string {
	t.Helper()
	return testutil.GoBuild(t, filepath.Join(t.TempDir(), "zguest-agent"), "../../cmd/zguest-agent", "netgo,osusergo", "CGO_ENABLED=1")
}

func configDrive(t *testing.T, dir, uuid string) string {
	t.Helper()
	testutil.RequireTool(t, "genisoimage")
	src := filepath.Join(dir, "cd")
	md := `{"uuid": "` + uuid + `", "hostname": "vm-e2e", "name": "vm-e2e"}`
	for name, body := range map[string]string{"openstack/latest/meta_data.json": md, "openstack/latest/network_data.json": `{"links": [], "networks": [], "services": []}`} {
		p := filepath.Join(src, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(body), 0o644)
	}
	iso := filepath.Join(dir, "cfgdrive.iso")
	if out, err := exec.Command("genisoimage", "-quiet", "-o", iso, "-V", "config-2", "-J", "-r", src).CombinedOutput(); err != nil {
		t.Fatalf("genisoimage: %v\n%s", err, out)
	}
	return iso
}

func vnic(t *testing.T, read string) []zkernel.Device {
	t.Helper()
	d, err := zkernel.QethDevices(zkernel.KindOSD, 0x01, read)
	if err != nil {
		t.Fatal(err)
	}
	for i := range d {
		d[i].VNIC, d[i].ForcedLayer = true, 1
	}
	return d
}

func TestEndToEndDeployToAgent(t *testing.T) {
	testutil.RequireRoot(t, "FUSE mounts and network namespaces for the emulated guest")
	const guest = "E2E01"
	sp := spool.New(spool.Options{})
	r := newRig(t, sp)
	ctx := context.Background()
	dir := t.TempDir()

	img := filepath.Join(dir, "image.raw")
	os.WriteFile(img, bytes.Repeat([]byte{0x5a}, 1<<20), 0o644)
	if err := r.b.ImportImage(ctx, api.ImageImport{ImageName: "ubuntu", URL: "file://" + img, ImageMeta: map[string]string{"os_version": "ubuntu22.04"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.b.CreateGuest(ctx, api.GuestSpec{UserID: guest, VCPUs: 1, Memory: 1024, DiskList: []api.Disk{{Size: "10m", IsBootDisk: true}}}); err != nil {
		t.Fatal(err)
	}
	iso := configDrive(t, dir, "e2e00000-1111-4222-8333-444444444444")
	if err := r.b.Deploy(ctx, guest, api.DeploySpec{Image: "ubuntu", TransportFiles: iso}); err != nil {
		t.Fatal(err)
	}
	macs := map[string]string{"0.0.1000": "02:00:00:e2:e0:01", "0.0.1003": "02:00:00:e2:e0:02"}
	nets, err := r.b.CreateNetworkInterface(ctx, guest, api.InterfaceSpec{OSVersion: "ubuntu22.04", GuestNetworks: []api.GuestNetwork{
		{IPAddr: "10.0.0.5", MACAddr: macs["0.0.1000"]}, {IPAddr: "10.0.1.5", MACAddr: macs["0.0.1003"]}}})
	if err != nil || nets[1].NICVdev != "1003" {
		t.Fatalf("%+v %v", nets, err)
	}
	if err := r.b.Action(ctx, guest, api.PowerAction{Name: "start"}); err != nil {
		t.Fatal(err)
	}
	if st, _ := r.b.PowerState(ctx, guest); st != "on" {
		t.Fatalf("power %s", st)
	}

	cfg := zkerneltest.ZVMConfig(guest, append(vnic(t, "0.0.1000"), vnic(t, "0.0.1003")...)...)
	cfg.Spool = sp
	env := zkerneltest.Start(t, cfg)
	bin := buildAgent(t)
	actx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	cmd := env.Command(actx, bin, "--root", env.Root, "--timeout", "30s", "activate")
	out, err := cmd.CombinedOutput()
	t.Logf("zguest-agent activate: %v\n%s", err, out)
	if err != nil {
		t.Fatalf("agent failed: %v", err)
	}
	if !strings.Contains(string(out), "cfgdrive.iso") || !strings.Contains(string(out), "nics.json") {
		t.Error("the agent's log does not name both files")
	}
	if left, _ := sp.List(guest); len(left) != 0 {
		t.Errorf("files left in the guest's reader: %+v", left)
	}
	if _, err := os.Stat(filepath.Join(env.Root, cfgdrive.ISOPath)); err != nil {
		t.Errorf("config drive not staged: %v", err)
	}
	for id, mac := range macs {
		g, ok := env.Kernel.Group(id)
		if !ok || !g.Online || g.Layer2 != 1 {
			t.Errorf("%s: group %+v", id, g)
			continue
		}
		l, err := env.Link(zkernel.SystemdName(id))
		if err != nil || l.MAC != mac {
			t.Errorf("%s: link %+v %v, want MAC %s", id, l, err, mac)
		}
	}
}
