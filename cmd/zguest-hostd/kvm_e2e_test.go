package main

// End-to-end test of the kvm backend: a real libvirtd with the QEMU
// driver (internal/libvirttest), the built daemon, and a zipl-bootable
// s390x image built by the image pipeline (internal/imagefixture),
// driven over REST the way nova's z/VM driver spawns an instance.

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"

	"github.com/zguest/zguest/builder/configdrive"
	"github.com/zguest/zguest/hostside/api/apitest"
	"github.com/zguest/zguest/internal/imagefixture"
	"github.com/zguest/zguest/internal/libvirttest"
	"github.com/zguest/zguest/internal/tools/hostdproc"
)

const (
	kvmE2EUser     = "E2E1"
	kvmE2EPrefix   = "zguest-e2e-"
	kvmE2EHostname = "zguest-kvm-e2e"
	kvmE2EMAC      = "0a:00:00:00:00:11"
	kvmE2EBootWait = 8 * time.Minute
)

// TestKVMEndToEnd boots a guest from an image made by zguest-image
// under libvirt through zguest-hostd's REST API and checks in its
// console that zguest-agent ran before cloud-init and that cloud-init
// applied the config drive (hostname, static network on the NIC found
// by MAC at device 0.0.1000, runcmd); then it stops and deletes the
// guest and checks that nothing is left.
func TestKVMEndToEnd(t *testing.T) {
	sock := libvirttest.Start(t)
	image := imagefixture.Image(t, "kvm")
	bin := build(t)
	ctx := context.Background()
	dir := t.TempDir()
	storage := filepath.Join(dir, "storage")

	lv := libvirt.NewWithDialer(dialers.NewLocal(dialers.WithSocket(sock), dialers.WithLocalTimeout(10*time.Second)))
	if err := lv.ConnectToURI(libvirt.QEMUSystem); err != nil {
		t.Fatal(err)
	}
	// Whatever happens, leave no domain behind (cleanups run before
	// libvirttest stops libvirtd; a qemu outlives a stopped libvirtd).
	t.Cleanup(func() {
		defer lv.Disconnect()
		d, err := lv.DomainLookupByName(kvmE2EPrefix + kvmE2EUser)
		if err != nil {
			return
		}
		t.Logf("cleanup: removing domain %s", d.Name)
		_ = lv.DomainDestroy(d)
		_ = lv.DomainUndefineFlags(d, 0)
	})

	type netOpts struct {
		Type string `json:"type"`
	}
	type kvmOpts struct {
		Socket       string  `json:"socket"`
		StorageDir   string  `json:"storage_dir"`
		DomainPrefix string  `json:"domain_prefix"`
		Network      netOpts `json:"network"`
		StopTimeout  string  `json:"stop_timeout"`
	}
	d, err := hostdproc.Start(ctx, hostdproc.Options{Binary: bin, Dir: dir, Backend: "kvm", SourceDirs: []string{dir, filepath.Dir(image)},
		BackendOptions: kvmOpts{Socket: sock, StorageDir: storage, DomainPrefix: kvmE2EPrefix, Network: netOpts{Type: "user"}, StopTimeout: "30s"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Stop)
	cl := d.Client
	ok := func(what string, r *apitest.Reply, err error) *apitest.Reply {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v%s", what, err, d.LogTail())
		}
		if r.Status != 200 || r.OverallRC != 0 {
			t.Fatalf("%s: %s%s", what, r.Err(), d.LogTail())
		}
		return r
	}

	r, err := cl.ImageImport(ctx, "debian12-kvm", "file://"+image, map[string]any{"os_version": "ubuntu22.04"}, "")
	ok("image import", r, err)
	drive := e2eConfigDrive(t, dir)

	start := time.Now()
	r, err = cl.GuestCreate(ctx, kvmE2EUser, 2, 1024, nil)
	ok("create", r, err)
	r, err = cl.GuestDeploy(ctx, kvmE2EUser, "debian12-kvm", drive, "")
	ok("deploy", r, err)
	r, err = cl.GuestCreateNetworkInterface(ctx, kvmE2EUser, "ubuntu22.04", []map[string]any{{
		"ip_addr": "10.0.2.15", "cidr": "10.0.2.0/24", "gateway_addr": "10.0.2.2",
		"mac_addr": kvmE2EMAC, "nic_vdev": "1000", "nic_id": "e2e-port-1"}})
	ok("create network interface", r, err)
	r, err = cl.GuestAction(ctx, kvmE2EUser, "start", nil)
	ok("start", r, err)
	t.Logf("create to start: %v", time.Since(start).Round(time.Millisecond))
	r, err = cl.GuestGetPowerState(ctx, kvmE2EUser)
	if ok("power_state", r, err); string(r.Output) != `"on"` {
		t.Errorf("power_state after start: %s", r.Output)
	}

	marker := e2eMarker
	checks := []struct {
		name string
		seen func(lines []string) bool
	}{
		{"zguest-agent ran before cloud-init's init-local", func(l []string) bool {
			a, c := indexAny(l, agentMarks...), indexAny(l, "running 'init-local'")
			return a >= 0 && c >= 0 && a < c
		}},
		{"cloud-init finished from the config drive", func(l []string) bool {
			return indexAll(l, "finished at", "DataSourceConfigDrive") >= 0
		}},
		{"static network on enc1000 (devno 0.0.1000, matched by MAC)", func(l []string) bool {
			return indexAll(l, "enc1000", "10.0.2.15") >= 0
		}},
		{"hostname " + kvmE2EHostname, func(l []string) bool { return indexAny(l, kvmE2EHostname+" login:") >= 0 }},
		{"runcmd marker", func(l []string) bool { return indexAny(l, marker) >= 0 }},
	}
	var lines []string
	deadline := start.Add(kvmE2EBootWait)
	for {
		r, err = cl.GuestAction(ctx, kvmE2EUser, "get_console_output", nil)
		ok("console output", r, err)
		var out string
		if err := r.Out(&out); err != nil {
			t.Fatalf("console output: %v", err)
		}
		lines = strings.Split(strings.ReplaceAll(out, "\r", ""), "\n")
		missing := []string{}
		for _, c := range checks {
			if !c.seen(lines) {
				missing = append(missing, c.name)
			}
		}
		if len(missing) == 0 {
			t.Logf("all checks seen %v after create", time.Since(start).Round(time.Second))
			break
		}
		if time.Now().After(deadline) {
			// A wrong order is reported as such.
			if a, c := indexAny(lines, agentMarks...), indexAny(lines, "running 'init-local'"); a > c && c >= 0 {
				t.Errorf("zguest-agent's first console line (%d) comes after cloud-init's init-local (%d)", a, c)
			}
			t.Fatalf("after %v the console lacks: %s\nlast 60 console lines:\n%s%s", kvmE2EBootWait,
				strings.Join(missing, "; "), strings.Join(tailLines(lines, 60), "\n"), d.LogTail())
		}
		time.Sleep(2 * time.Second)
	}

	stopStart := time.Now()
	r, err = cl.GuestAction(ctx, kvmE2EUser, "softstop", map[string]any{"timeout": 30, "poll_interval": 1})
	ok("softstop", r, err)
	t.Logf("softstop took %v (30 s and more: the guest ignored the shutdown request and was destroyed)", time.Since(stopStart).Round(time.Millisecond))
	r, err = cl.GuestGetPowerState(ctx, kvmE2EUser)
	if ok("power_state", r, err); string(r.Output) != `"off"` {
		t.Errorf("power_state after softstop: %s", r.Output)
	}
	r, err = cl.GuestDelete(ctx, kvmE2EUser)
	ok("delete", r, err)
	r, err = cl.ImageDelete(ctx, "debian12-kvm")
	ok("image delete", r, err)

	if _, err := lv.DomainLookupByName(kvmE2EPrefix + kvmE2EUser); !libvirt.IsNotFound(err) {
		t.Errorf("domain still defined after delete: %v", err)
	}
	for _, p := range []string{
		filepath.Join(storage, "guests", kvmE2EUser),                    // root disk and console logs
		filepath.Join(storage, "guests", kvmE2EUser, "configdrive.iso"), // the drive copy
		filepath.Join(storage, "images", "debian12-kvm"),
	} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s left behind (%v)", p, err)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(storage, "guests")); len(ents) != 0 {
		t.Errorf("guest storage left: %v", ents)
	}
}

// agentMarks are console texts that show zguest-agent's unit ran: its
// own lines (journald forwards them as "zguest-agent[pid]: ..."), the
// unit name, or systemd's status line with the unit's description.
var agentMarks = []string{"zguest-agent", "zguest-activate", "zguest: activate"}

// e2eMarker is printed by the guest's runcmd; unique per run so that
// an old console log cannot satisfy the test.
var e2eMarker = func() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("ZGUEST-KVM-E2E-OK-%x", b)
}()

// e2eConfigDrive writes the config drive nova would hand over as
// transportfiles: hostname, an ssh key, a static network on the NIC's
// MAC and a runcmd marker on the console.
func e2eConfigDrive(t *testing.T, dir string) string {
	t.Helper()
	mtu := 1500
	in := &configdrive.Instance{
		UUID:     "7c0e3a52-2f4e-4b8e-9d7f-0a1b2c3d4e5f",
		Hostname: kvmE2EHostname,
		Name:     kvmE2EHostname,
		Keys: []configdrive.Key{{Name: "e2e", Type: "ssh",
			Data: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPnD7w2bn3I4qk6c1m6l0Bq6hQ0mKQ7kQ5p2m0q1yX3Z e2e@zguest"}},
		UserData: []byte("#cloud-config\nruncmd:\n  - [sh, -c, 'echo " + e2eMarker + " > /dev/console']\n"),
		Network: &configdrive.NetworkData{
			Links: []configdrive.Link{{ID: "tap-e2e", Type: "phy", EthernetMACAddress: kvmE2EMAC, MTU: &mtu, VifID: "e2e-port-1"}},
			Networks: []configdrive.Network{{ID: "network0", Type: "ipv4", Link: "tap-e2e", NetworkID: "e2e-net",
				IPAddress: "10.0.2.15", Netmask: "255.255.255.0",
				Routes: []configdrive.Route{{Network: "0.0.0.0", Netmask: "0.0.0.0", Gateway: "10.0.2.2"}}}},
			Services: []configdrive.Service{{Type: "dns", Address: "10.0.2.3"}},
		},
	}
	tree, err := configdrive.Build(in)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "cfgdrive.iso")
	if err := configdrive.WriteImage(p, tree, configdrive.ImageOptions{Format: configdrive.ISO9660, SourceDate: time.Unix(1700000000, 0)}); err != nil {
		t.Fatal(err)
	}
	return p
}

// indexAny returns the first line containing any of subs, or -1.
func indexAny(lines []string, subs ...string) int {
	for i, l := range lines {
		for _, s := range subs {
			if strings.Contains(l, s) {
				return i
			}
		}
	}
	return -1
}

// indexAll returns the first line containing all of subs, or -1.
func indexAll(lines []string, subs ...string) int {
	for i, l := range lines {
		all := true
		for _, s := range subs {
			all = all && strings.Contains(l, s)
		}
		if all {
			return i
		}
	}
	return -1
}

func tailLines(lines []string, n int) []string {
	if len(lines) > n {
		return lines[len(lines)-n:]
	}
	return lines
}
