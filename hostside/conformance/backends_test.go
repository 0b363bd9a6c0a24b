package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zguest/zguest/hostside/hmc"
	"github.com/zguest/zguest/hostside/hmcsim"
	"github.com/zguest/zguest/internal/imagefixture"
	"github.com/zguest/zguest/internal/libvirttest"
	"github.com/zguest/zguest/internal/sshdtest"
	"github.com/zguest/zguest/internal/tools/hostdproc"
)

// TestNovaDriverKVM: the steps that apply on the kvm backend against a
// real libvirtd, spawning the image pipeline's s390x image under
// qemu-system-s390x. The steps do not wait for the guest to finish
// booting: power_off's shutdown request then times out after the
// backend's stop_timeout (5 s here) and the domain is destroyed, as
// the backend documents.
func TestNovaDriverKVM(t *testing.T) {
	requireNova(t)
	sock := libvirttest.Start(t)
	ssh := sshdtest.Start(t)
	useSSH(t, ssh)
	qcow := imagefixture.Image(t, "kvm")
	bin := buildDaemon(t)
	dir := t.TempDir()
	type netOpts struct {
		Type string `json:"type"`
	}
	opts := struct {
		Socket       string  `json:"socket"`
		StorageDir   string  `json:"storage_dir"`
		DomainPrefix string  `json:"domain_prefix"`
		Network      netOpts `json:"network"`
		StopTimeout  string  `json:"stop_timeout"`
		SSHPort      int     `json:"remotehost_sshd_port"`
	}{sock, filepath.Join(dir, "storage"), "zguest-conf-", netOpts{"user"}, "5s", ssh.Port}
	// The KVM backend reads nova's config drive on this host (nova and
	// the daemon share it): nova's instances directory, which the harness
	// makes beside dir, must be in source_dirs as /var/lib/nova/instances
	// is by default.
	d, err := hostdproc.Start(context.Background(), hostdproc.Options{Binary: bin, Dir: dir, Backend: "kvm", BackendOptions: opts,
		SourceDirs: []string{filepath.Dir(dir)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Stop)
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(d.LogTail())
		}
	})
	// Whatever a failed step left, no qemu may outlive the test (cleanups
	// run before the daemon stops and before libvirtd stops).
	t.Cleanup(func() {
		r, err := d.Client.GuestList(context.Background())
		if err != nil {
			return
		}
		var ids []string
		if json.Unmarshal(r.Output, &ids) != nil {
			return
		}
		for _, id := range ids {
			t.Logf("cleanup: deleting guest %s", id)
			d.Client.GuestDelete(context.Background(), id)
		}
	})
	steps := []step{}
	for _, n := range allSteps {
		s := step{name: n}
		switch n {
		case "spawn_gzip0", "destroy_gzip0":
			s.na = "an xCAT disk image is z/VM's minidisk format; the kvm backend imports qcow2 and raw images"
		}
		steps = append(steps, s)
	}
	runDriver(t, d.Client.Base, map[string]image{mainImage: {Path: qcow, OSDistro: "ubuntu22.04"}}, steps)
}

// TestNovaDriverDPM: the steps that apply on the dpm backend against the
// HMC simulator. spawn imports the glance image into the daemon's
// repository, takes a boot volume of the pool (the two boot storage
// groups of the z14 inventory), writes the image onto it through the
// daemon's own partition's FCP access (the simulator's sparse volume
// files) and boots the partition from it; destroy returns the volume.
// dpmRig is the daemon on the dpm backend against the HMC simulator with
// the z14 inventory, a boot pool of its two boot storage groups and the
// volumes as sparse files in volDir reached from the partition ZGHOSTD.
type dpmRig struct {
	d      *hostdproc.Daemon
	hc     *hmc.Client
	dir    string
	volDir string
}

const bootVolume1 = "600507680C8080B11000000000000001" // SG-BOOT-1's boot volume

func startDPM(t *testing.T) *dpmRig {
	t.Helper()
	ssh := sshdtest.Start(t)
	useSSH(t, ssh)
	bin := buildDaemon(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	dir := t.TempDir()
	volDir := filepath.Join(dir, "by-id")
	if err := os.Mkdir(volDir, 0o755); err != nil {
		t.Fatal(err)
	}
	sim, err := hmcsim.Start(ctx, hmcsim.Options{Listen: "127.0.0.1:0", InventoryFile: "../../testdata/hmc/dpm-z14.yaml",
		JobDuration: 20 * time.Millisecond, DeferredStatus: 50 * time.Millisecond, VolumeDir: volDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	ca, pw := filepath.Join(dir, "hmc-ca.pem"), filepath.Join(dir, "hmc.pw")
	if err := os.WriteFile(ca, sim.CACertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pw, []byte("hmcpass-sim\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const cpcID = "1f5b4c7e-0a4a-4c1a-9f1e-5a0c2b7d9e01"
	// The partition the daemon runs in: its FCP access writes the images.
	hc, err := hmc.New(hmc.Config{URL: sim.URL(), CA: sim.CACertPEM(), UserID: "hmcuser", Password: "hmcpass-sim"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hc.Create(ctx, hmc.CPCURI(cpcID)+"/partitions", map[string]any{"name": "ZGHOSTD", "ifl-processors": 1, "initial-memory": 4096, "maximum-memory": 4096}); err != nil {
		t.Fatal(err)
	}
	type hmcOpts struct {
		URL          string `json:"url"`
		CAFile       string `json:"ca_file"`
		UserID       string `json:"userid"`
		PasswordFile string `json:"password_file"`
	}
	type network struct {
		VSwitch string `json:"virtual_switch"`
	}
	opts := struct {
		HMC           hmcOpts            `json:"hmc"`
		CPC           string             `json:"cpc_object_id"`
		Host          string             `json:"host"`
		MaxProcessors int                `json:"max_processors"`
		MaxMemoryMB   int                `json:"max_memory_mb"`
		Networks      map[string]network `json:"networks"`
		BootPool      []string           `json:"boot_pool"`
		OwnPartition  string             `json:"own_partition"`
		DeviceDir     string             `json:"device_dir"`
		SSHPort       int                `json:"remotehost_sshd_port"`
	}{hmcOpts{sim.URL(), ca, "hmcuser", pw}, cpcID, "confhost", 8, 65536,
		map[string]network{"physnet1": {"5e000002-0000-4000-8000-000000000002"}},
		[]string{"56000001-0000-4000-8000-000000000001", "56000002-0000-4000-8000-000000000002"}, "ZGHOSTD", volDir, ssh.Port}
	d, err := hostdproc.Start(context.Background(), hostdproc.Options{Binary: bin, Dir: dir, Backend: "dpm", BackendOptions: opts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Stop)
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(d.LogTail())
		}
	})
	return &dpmRig{d: d, hc: hc, dir: dir, volDir: volDir}
}

func TestNovaDriverDPM(t *testing.T) {
	requireNova(t)
	r := startDPM(t)
	d, dir, volDir := r.d, r.dir, r.volDir
	raw := filepath.Join(dir, "glance-main.raw")
	data := make([]byte, 8<<20)
	copy(data, "zguest conformance: raw root disk for DPM\n")
	if err := os.WriteFile(raw, data, 0o644); err != nil {
		t.Fatal(err)
	}
	notImpl := "'overallRC': 501"
	steps := []step{}
	for _, n := range allSteps {
		s := step{name: n}
		switch n {
		case "get_host_uptime":
			s.fails = "the DPM backend reports no ipl_time: the HMC's CPC object has no IPL time in z/VM's form"
			s.failsWith = "ipl_time ''"
		case "spawn_ephemeral":
			s.fails = "an ephemeral disk is a z/VM minidisk (guest_config_minidisks); a DPM partition has none"
			s.failsWith = notImpl
		case "spawn_gzip0", "destroy_gzip0":
			s.na = "an xCAT disk image is z/VM's minidisk format"
		case "get_console_output":
			s.fails, s.failsWith = "the HMC has no console log of a partition to return", notImpl
		case "pause", "unpause":
			s.fails, s.failsWith = "a DPM partition cannot be paused: the original's not-implemented answer", "guest_"+n+" has not been implemented"
		case "snapshot":
			s.fails, s.failsWith = "nova-dpm had no snapshot; capture of a partition is not supported", notImpl
		case "destroy_ephemeral":
			s.na = "spawn_ephemeral made no instance (see spawn_ephemeral)"
		}
		steps = append(steps, s)
	}
	runDriver(t, d.Client.Base, map[string]image{mainImage: {Path: raw, OSDistro: "ubuntu22.04"}}, steps)
	// destroy returned both volumes: the written one reads back zeros.
	got := make([]byte, len(data))
	f, err := os.Open(hmcsim.VolumeFile(volDir, bootVolume1))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.ReadAt(got, 0); err != nil || !bytes.Equal(got, make([]byte, len(got))) {
		t.Errorf("boot volume 1 not wiped after destroy (%v)", err)
	}
	for _, want := range []string{"image written onto the boot volume", "boot volume wiped"} {
		if !strings.Contains(d.LogTail(), want) {
			t.Errorf("the daemon did not log %q", want)
		}
	}
}
