package main

// Part 3 of the demo: DPM through the daemon. The HMC simulator runs in
// this process over HTTPS with its own CA; the real zguest-hostd binary
// runs the dpm backend against it; the boot-os-specific-parameters the
// daemon wrote into the partition go onto the emulated kernel's command
// line, as the HMC passes them to the guest's kernel at boot.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/zguest/zguest/hostside/hmcsim"
	"github.com/zguest/zguest/internal/tools/hostdproc"
	"github.com/zguest/zguest/internal/zkernel"
	"github.com/zguest/zguest/internal/zkernel/zkerneltest"
)

const (
	dpmInventory = "testdata/hmc/dpm-z14.yaml"
	dpmCPC       = "1f5b4c7e-0a4a-4c1a-9f1e-5a0c2b7d9e01"
	// OSD 0120 A14B-P1 port 1: the NIC tokens must say port 1 (nova-dpm
	// wrote 0 whatever the switch).
	dpmVSwitch  = "5e000002-0000-4000-8000-000000000002"
	dpmBootVol  = "/api/storage-groups/56000001-0000-4000-8000-000000000001/storage-volumes/5f000001-0000-4000-8000-000000000001"
	dpmHost     = "demo-cpcsubset"
	dpmGuest    = "DPMDEMO1"
	dpmUser     = "hmcuser"
	dpmPassword = "hmcpass-sim"
)

// dpmMACs are the MACs neutron assigned to the instance's two ports.
var dpmMACs = []string{"02:00:00:d0:00:01", "02:00:00:d0:00:02"}

// dpmBackendOptions is backend_options for "backend": "dpm"
// (cmd/zguest-hostd/backend_dpm.go), in the order a reader expects.
type dpmBackendOptions struct {
	HMC struct {
		URL          string `json:"url"`
		CAFile       string `json:"ca_file"`
		UserID       string `json:"userid"`
		PasswordFile string `json:"password_file"`
		Timeout      string `json:"timeout"`
	} `json:"hmc"`
	CPC           string `json:"cpc_object_id"`
	Host          string `json:"host"`
	MaxProcessors int    `json:"max_processors"`
	MaxMemoryMB   int    `json:"max_memory_mb"`
	Networks      map[string]struct {
		VSwitch string `json:"virtual_switch"`
	} `json:"networks"`
	JobTimeout    string `json:"job_timeout"`
	StatusTimeout string `json:"status_timeout"`
}

// runDPMHostd is part 3.
func runDPMHostd(agent, hostd string) error {
	if _, err := os.Stat(hostd); err != nil {
		return fmt.Errorf("the daemon binary (build it with 'make build'): %w", err)
	}
	inv, err := findUp(dpmInventory)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "zguest-demo-dpm")
	if err != nil {
		return fmt.Errorf("temporary directory: %w", err)
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// The HMC: a start job runs 200 ms and the partition stays
	// "starting" 300 ms after it (deferred status), so the daemon polls.
	sim, err := hmcsim.Start(ctx, hmcsim.Options{Listen: "127.0.0.1:0", InventoryFile: inv,
		JobDuration: 200 * time.Millisecond, DeferredStatus: 300 * time.Millisecond})
	if err != nil {
		return fmt.Errorf("HMC simulator: %w", err)
	}
	defer sim.Close()
	ca, pw := filepath.Join(dir, "hmc-ca.pem"), filepath.Join(dir, "hmc-password")
	if err := os.WriteFile(ca, sim.CACertPEM(), 0o644); err != nil {
		return fmt.Errorf("HMC CA: %w", err)
	}
	if err := os.WriteFile(pw, []byte(dpmPassword+"\n"), 0o600); err != nil {
		return fmt.Errorf("HMC password file: %w", err)
	}
	fmt.Printf("HMC simulator (in this process): %s, inventory %s (CPC CPCZ14, HMC WS API 2.20), its CA written to %s\n",
		sim.URL(), dpmInventory, ca)

	var o dpmBackendOptions
	o.HMC.URL, o.HMC.CAFile, o.HMC.UserID, o.HMC.PasswordFile, o.HMC.Timeout = sim.URL(), ca, dpmUser, pw, "30s"
	o.CPC, o.Host, o.MaxProcessors, o.MaxMemoryMB = dpmCPC, dpmHost, 4, 8192
	o.Networks = map[string]struct {
		VSwitch string `json:"virtual_switch"`
	}{"physnet1": {VSwitch: dpmVSwitch}}
	o.JobTimeout, o.StatusTimeout = "60s", "30s"
	d, err := hostdproc.Start(ctx, hostdproc.Options{Binary: hostd, Dir: dir, Backend: "dpm", BackendOptions: o})
	if err != nil {
		return err
	}
	defer d.Stop()
	fmt.Printf("zguest-hostd --config %s:\n%s\n", d.ConfigPath, indent(string(d.Config), "  "))
	fmt.Printf("zguest-hostd (pid %d) serving the cloud connector REST API on %s, log in %s\n\n", d.Cmd.Process.Pid, d.Client.Base, d.LogPath())

	fmt.Println("nova's spawn sequence on DPM, one REST call at a time (the image names the boot volume):")
	nets := make([]map[string]any, len(dpmMACs))
	for i, mac := range dpmMACs {
		nets[i] = map[string]any{"mac_addr": mac, "nic_id": fmt.Sprintf("port-%d", i+1)}
	}
	calls := []struct {
		method, path string
		body         any
	}{
		{"GET", "/", nil},
		{"POST", "/guests", map[string]any{"guest": map[string]any{"userid": dpmGuest, "vcpus": 2, "memory": 2048}}},
		{"POST", "/guests/" + dpmGuest + "/interface", map[string]any{"interface": map[string]any{"os_version": "rhel9", "guest_networks": nets}}},
		{"POST", "/guests/" + dpmGuest + "/action", map[string]any{"action": "deploy", "image": "storage-volume:" + dpmBootVol}},
		{"POST", "/guests/" + dpmGuest + "/action", map[string]any{"action": "start"}},
		{"GET", "/guests/" + dpmGuest + "/power_state", nil},
	}
	sim.ResetCounts()
	for _, c := range calls {
		fmt.Printf("  -> %s %s%s\n", c.method, c.path, compactJSON(c.body))
		r, err := d.Client.Call(ctx, c.method, c.path, c.body)
		if err != nil {
			return fmt.Errorf("%s %s: %w%s", c.method, c.path, err, d.LogTail())
		}
		fmt.Printf("  <- HTTP %d %s\n", r.Status, envelope(r.Raw))
		if r.Status != 200 {
			return fmt.Errorf("%s %s: %s%s", c.method, c.path, r.Err(), d.LogTail())
		}
	}
	fmt.Printf("\nHMC requests the daemon made for these calls (simulator counters, %d in all; the logon was at the daemon's start):\n", sim.TotalCount())
	counts := sim.Counts()
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Printf("  %3d  %s\n", counts[k], k)
	}

	name := "OpenStack-" + dpmHost + "-" + dpmGuest
	p, ok := sim.Partition(name)
	if !ok {
		return fmt.Errorf("the simulator has no partition %s%s", name, d.LogTail())
	}
	fmt.Printf("\nThe simulator's partition %s (%s): status %s, boot-device %v, boot-storage-volume %v\n",
		name, p.ObjectID, p.Status, p.Properties["boot-device"], p.Properties["boot-storage-volume"])
	var devs []zkernel.Device
	want := map[string]string{}
	for i, n := range p.NICs {
		devno, _ := n["device-number"].(string)
		fmt.Printf("  NIC %v: device-number %s, mac-address %v, virtual switch %v\n", n["name"], devno, n["mac-address"], n["virtual-switch-uri"])
		id := "0.0." + strings.ToLower(devno)
		q, err := zkernel.QethDevices(zkernel.KindOSD, uint8(0x10+i), id)
		if err != nil {
			return fmt.Errorf("qeth device %s: %w", id, err)
		}
		devs = append(devs, q...)
		if mac, ok := n["mac-address"].(string); ok {
			want[id] = mac
		}
	}
	fmt.Printf("  boot-os-specific-parameters: %q\n\n", p.BootOSSpecificParameters)
	if len(p.NICs) != len(dpmMACs) {
		return fmt.Errorf("partition %s has %d NICs, want %d", name, len(p.NICs), len(dpmMACs))
	}

	// The partition boots: the HMC hands boot-os-specific-parameters to
	// the kernel, appended to the command line of the boot volume.
	cmdline := "root=UUID=5b5c9c6e-3b0f-4a53-9d9e-0c1d2e3f4a5b ro"
	if !strings.HasPrefix(p.BootOSSpecificParameters, " ") {
		cmdline += " "
	}
	cmdline += p.BootOSSpecificParameters
	root, err := os.MkdirTemp("", "zguest-demo-dpm-guest")
	if err != nil {
		return fmt.Errorf("temporary root: %w", err)
	}
	defer os.RemoveAll(root)
	env, err := zkerneltest.Boot(zkernel.Config{Devices: devs, Cmdline: cmdline, RenameDelay: 20 * time.Millisecond, RegistrationDelay: 10 * time.Millisecond}, root)
	if env != nil {
		defer env.Close()
	}
	if err != nil {
		return fmt.Errorf("boot the emulated kernel: %w", err)
	}
	fmt.Printf("Emulated partition %s: qeth OSD NICs at the device numbers the HMC allocated, /sys and /proc mounted at %s\n", dpmGuest, env.Root)
	fmt.Printf("/proc/cmdline: %s\n\n", cmdline)
	if err := step(ctx, env, "zguest-agent activate", agent, "--root", env.Root, "--timeout", "30s", "activate"); err != nil {
		return err
	}
	if err := step(ctx, env, "ip -br link   (in the guest's network namespace)", "ip", "-br", "link"); err != nil {
		return err
	}
	// The verdict, from the emulated kernel itself.
	fmt.Println("What the emulated kernel says about the NICs the daemon created (addresses and link state are the OS's network configuration's job):")
	bad := 0
	for _, id := range sortedKeys(want) {
		mac := strings.ToLower(want[id])
		g, ok := env.Kernel.Group(id)
		l, err := env.Link(zkernel.SystemdName(id))
		switch {
		case !ok || !g.Online:
			fmt.Printf("  %s: qeth group not online\n", id)
			bad++
		case err != nil:
			fmt.Printf("  %s: %v\n", id, err)
			bad++
		case strings.ToLower(l.MAC) != mac:
			fmt.Printf("  %s: %s online, port %d, MAC %s but the daemon was asked for %s\n", id, l.Name, g.PortNo, l.MAC, mac)
			bad++
		default:
			fmt.Printf("  %s: qeth group online (layer2=%d, portno=%d), interface %s with MAC %s as nova asked\n", id, g.Layer2, g.PortNo, l.Name, l.MAC)
		}
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d NICs not as the daemon was asked", bad, len(want))
	}
	fmt.Println("\nHow the guest gets its instance data (hostname, SSH keys, user data, network configuration):\n" +
		"  a partition has no reader and no cdrom, so the daemon hands it no config drive. An image from\n" +
		"  `zguest-image build` with target dpm lists cloud-init's datasources ConfigDrive, OpenStack, None:\n" +
		"  finding no config drive, cloud-init-local runs DHCP on the first NIC (the interface name that\n" +
		"  sorts first), reads nova's metadata service at http://169.254.169.254/openstack/ through it, and\n" +
		"  configures every NIC above from network_data.json by the MACs the agent set. The NICs' network\n" +
		"  needs a DHCP server and a metadata route, as Neutron's DHCP agent gives (builder/imagespec/README.md).")
	return nil
}

// findUp finds rel in the working directory or one of its parents (the
// demo runs from the module root under make, but need not).
func findUp(rel string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, rel)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%s not found in the working directory or its parents", rel)
		}
		dir = parent
	}
}

func sortedKeys(m map[string]string) []string {
	k := make([]string, 0, len(m))
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}
