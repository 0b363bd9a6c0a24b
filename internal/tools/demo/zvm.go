package main

// Part 2 of the demo: z/VM. One spool.System is shared by the in-process
// z/VM simulator (what the daemon punches into) and the emulated guest
// kernel (whose reader the agent reads), as on a real z/VM system.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/zguest/zguest/builder/configdrive"
	"github.com/zguest/zguest/hostside/zvmsim"
	"github.com/zguest/zguest/internal/tools/hostdproc"
	"github.com/zguest/zguest/internal/zkernel"
	"github.com/zguest/zguest/internal/zkernel/zkerneltest"
	"github.com/zguest/zguest/internal/zvm/spool"
)

const (
	demoGuest = "DEMO01"
	demoImage = "demo-image"
	demoOS    = "ubuntu22.04"
	demoUUID  = "d3e0c0de-1111-4222-8333-444455556666"
)

// demoNICs are the two NICs nova asks for, in order: the daemon defines
// them at 1000 and 1003 (+3 each) with MACIDs from the MACs.
var demoNICs = []struct{ ip, cidr, gateway, mac, busID string }{
	{"10.0.0.5", "10.0.0.0/24", "10.0.0.1", "02:00:00:de:00:01", "0.0.1000"},
	{"10.0.1.5", "10.0.1.0/24", "", "02:00:00:de:00:02", "0.0.1003"},
}

// runZVM is part 2.
func runZVM(agent, hostd string) error {
	if _, err := os.Stat(hostd); err != nil {
		return fmt.Errorf("the daemon binary (build it with 'make build'): %w", err)
	}
	dir, err := os.MkdirTemp("", "zguest-demo-zvm")
	if err != nil {
		return fmt.Errorf("temporary directory: %w", err)
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// The z/VM system: SMAPI on one loopback port, the simulation CP
	// endpoint (what /dev/vmcp and the punch device are on a real
	// system) on another.
	sp := spool.New(spool.Options{})
	sim, err := zvmsim.New(zvmsim.Options{Spool: sp, DiskDir: filepath.Join(dir, "disks"),
		Pools: []zvmsim.Pool{{Name: "POOL1", Type: "ECKD", Capacity: 2 << 30}}})
	if err != nil {
		return fmt.Errorf("z/VM simulator: %w", err)
	}
	smapiLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("SMAPI listener: %w", err)
	}
	smapiSrv := sim.Serve(smapiLn)
	defer smapiSrv.Close()
	cpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("CP listener: %w", err)
	}
	cpSrv := sim.ServeCP(cpLn)
	defer cpSrv.Close()
	fmt.Printf("z/VM simulator (in this process): SMAPI on %s, CP and spool on %s, connector userid %s\n",
		smapiSrv.Addr(), cpSrv.Addr(), sim.HostID())

	d, err := hostdproc.Start(ctx, hostdproc.Options{Binary: hostd, Dir: dir, SMAPIAddr: smapiSrv.Addr(), CPAddr: cpSrv.Addr()})
	if err != nil {
		return err
	}
	defer d.Stop()
	fmt.Printf("zguest-hostd --config %s:\n%s\n", d.ConfigPath, indent(string(d.Config), "  "))
	fmt.Printf("zguest-hostd (pid %d) serving the cloud connector REST API on %s, log in %s\n\n", d.Cmd.Process.Pid, d.Client.Base, d.LogPath())

	// What nova has at hand before spawning: an image from glance and a
	// config drive it built for the instance.
	img := filepath.Join(dir, "image.raw")
	if err := os.WriteFile(img, bytes.Repeat([]byte{0x5a}, 1<<20), 0o644); err != nil {
		return fmt.Errorf("image: %w", err)
	}
	iso := filepath.Join(dir, "cfgdrive.iso")
	if err := buildConfigDrive(iso); err != nil {
		return err
	}
	fmt.Printf("nova's config drive: %s (built with builder/configdrive: uuid %s, hostname demo01, 2 networks)\n\n", iso, demoUUID)

	fmt.Println("nova's spawn of an image it has not imported yet, one REST call at a time (nova.virt.zvm.driver:")
	fmt.Println("the image query answers overallRC 404, so the driver imports the image and queries it again):")
	nets := make([]map[string]any, len(demoNICs))
	for i, n := range demoNICs {
		nets[i] = map[string]any{"ip_addr": n.ip, "cidr": n.cidr, "mac_addr": n.mac}
		if n.gateway != "" {
			nets[i]["gateway_addr"] = n.gateway
		}
	}
	calls := []struct {
		method, path string
		body         any
		okStatus     int
	}{
		// _get_image_info: a connector error with overallRC 404 makes the
		// driver download the image from glance and import it.
		{"GET", "/images?imagename=" + demoImage, nil, 404},
		{"POST", "/images", map[string]any{"image": map[string]any{"image_name": demoImage, "url": "file://" + img,
			"image_meta": map[string]any{"os_version": demoOS}}}, 200},
		{"GET", "/images?imagename=" + demoImage, nil, 200},
		// _set_disk_list: a flavor with root_gb 0 takes the image's size.
		{"GET", "/images/" + demoImage + "/root_disk_size", nil, 200},
		{"POST", "/guests", map[string]any{"guest": map[string]any{"userid": demoGuest, "vcpus": 1, "memory": 1024,
			"disk_list": []map[string]any{{"size": "2", "is_boot_disk": true}}}}, 200},
		{"POST", "/guests/" + demoGuest + "/action", map[string]any{"action": "deploy", "image": demoImage, "transportfiles": iso}, 200},
		{"POST", "/guests/" + demoGuest + "/interface", map[string]any{"interface": map[string]any{"os_version": demoOS, "guest_networks": nets}}, 200},
		{"POST", "/guests/" + demoGuest + "/action", map[string]any{"action": "start"}, 200},
		{"GET", "/guests/" + demoGuest + "/power_state", nil, 200},
	}
	for _, c := range calls {
		fmt.Printf("  -> %s %s%s\n", c.method, c.path, compactJSON(c.body))
		r, err := d.Client.Call(ctx, c.method, c.path, c.body)
		if err != nil {
			return fmt.Errorf("%s %s: %w%s", c.method, c.path, err, d.LogTail())
		}
		fmt.Printf("  <- HTTP %d %s\n", r.Status, envelope(r.Raw))
		if r.Status != c.okStatus || (c.okStatus == 404 && r.OverallRC != 404) {
			return fmt.Errorf("%s %s: %s%s", c.method, c.path, r.Err(), d.LogTail())
		}
	}

	recs, _ := sim.Directory(demoGuest)
	fmt.Printf("\nThe simulator's directory entry for %s (made through SMAPI):\n", demoGuest)
	for _, r := range recs {
		fmt.Printf("  %s\n", r)
	}
	files, err := sp.List(demoGuest)
	if err != nil {
		return fmt.Errorf("%s's reader: %w", demoGuest, err)
	}
	fmt.Printf("%s's reader (what the daemon punched and transferred):\n", demoGuest)
	for _, f := range files {
		fmt.Printf("  %04d %-8s %-8s class %c from %s, %d records\n", f.ID, f.Name, f.Type, f.Class, f.Origin, len(f.Records))
	}
	fmt.Println()

	// The guest logs on: the emulated kernel boots as DEMO01 on the same
	// spool, with its reader at 000c and two qeth VNICs at 1000 and 1003.
	var devs []zkernel.Device
	for _, n := range demoNICs {
		v, err := vnic(n.busID)
		if err != nil {
			return err
		}
		devs = append(devs, v...)
	}
	cfg := zkerneltest.ZVMConfig(demoGuest, devs...)
	cfg.Spool = sp
	root, err := os.MkdirTemp("", "zguest-demo-guest")
	if err != nil {
		return fmt.Errorf("temporary root: %w", err)
	}
	defer os.RemoveAll(root)
	env, err := zkerneltest.Boot(cfg, root)
	if env != nil {
		defer env.Close()
	}
	if err != nil {
		return fmt.Errorf("boot the emulated z/VM guest: %w", err)
	}
	fmt.Printf("Emulated z/VM guest %s: reader 0.0.000c, qeth VNICs 0.0.1000 and 0.0.1003, /sys and /proc mounted at %s\n\n", demoGuest, env.Root)
	if err := step(ctx, env, "zguest-agent activate", agent, "--root", env.Root, "--timeout", "30s", "activate"); err != nil {
		return err
	}
	if err := step(ctx, env, "ip -br link   (in the guest's network namespace)", "ip", "-br", "link"); err != nil {
		return err
	}
	left, err := sp.List(demoGuest)
	if err != nil {
		return fmt.Errorf("%s's reader: %w", demoGuest, err)
	}
	fmt.Printf("%s's reader after the agent: %d files left\n", demoGuest, len(left))
	return nil
}

// vnic returns the three subchannels of a z/VM guest LAN VNIC (a qeth
// OSD NIC in layer 2, as the NICDEF defines it).
func vnic(read string) ([]zkernel.Device, error) {
	d, err := zkernel.QethDevices(zkernel.KindOSD, 0x01, read)
	if err != nil {
		return nil, fmt.Errorf("VNIC %s: %w", read, err)
	}
	for i := range d {
		d[i].VNIC, d[i].ForcedLayer = true, 1
	}
	return d, nil
}

// buildConfigDrive writes nova's config drive for the demo instance.
func buildConfigDrive(path string) error {
	nd := &configdrive.NetworkData{Services: []configdrive.Service{{Type: "dns", Address: "10.0.0.2"}}}
	for i, n := range demoNICs {
		link := fmt.Sprintf("tap%d", i)
		nd.Links = append(nd.Links, configdrive.Link{ID: link, Type: "phy", EthernetMACAddress: n.mac})
		_, ipnet, err := net.ParseCIDR(n.cidr)
		if err != nil {
			return fmt.Errorf("network %s: %w", n.cidr, err)
		}
		nw := configdrive.Network{ID: fmt.Sprintf("network%d", i), Type: "ipv4", Link: link,
			IPAddress: n.ip, Netmask: net.IP(ipnet.Mask).String()}
		if n.gateway != "" {
			nw.Routes = []configdrive.Route{{Network: "0.0.0.0", Netmask: "0.0.0.0", Gateway: n.gateway}}
		}
		nd.Networks = append(nd.Networks, nw)
	}
	in := &configdrive.Instance{UUID: demoUUID, Hostname: "demo01", Name: "demo01", Network: nd}
	t, err := configdrive.Build(in)
	if err != nil {
		return fmt.Errorf("config drive: %w", err)
	}
	if err := configdrive.WriteImage(path, t, configdrive.ImageOptions{Format: configdrive.ISO9660, SourceDate: time.Now()}); err != nil {
		return fmt.Errorf("config drive: %w", err)
	}
	return nil
}

// compactJSON shows a request body on one line after a space ("" for
// none).
func compactJSON(v any) string {
	if v == nil {
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf(" %v", v)
	}
	return " " + string(b)
}

// envelope shows a reply's envelope on one line, long outputs shortened.
func envelope(raw []byte) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	s := b.String()
	if len(s) > 200 {
		s = s[:197] + "..."
	}
	return s
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}
