package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/zguest/zguest/internal/zkernel"
	"github.com/zguest/zguest/internal/zkernel/zkerneltest"
)

// benchZVM measures `zguest-agent activate` on an emulated z/VM guest
// whose reader holds a 1 MiB config drive and a NIC list of n z/VM VNICs:
// the time to bring the reader online, receive both files, stage the
// drive for cloud-init and bring the NICs up, and the agent's peak RSS.
func benchZVM(agent string, n, runs int) error {
	if _, err := exec.LookPath("genisoimage"); err != nil {
		return fmt.Errorf("needs genisoimage to build the config drive: %w", err)
	}
	iso, err := bigDrive()
	if err != nil {
		return err
	}
	var ss []sample
	for i := 0; i < runs; i++ {
		s, err := zvmOnce(agent, n, iso)
		if err != nil {
			return fmt.Errorf("run %d: %w", i+1, err)
		}
		ss = append(ss, s)
	}
	o := median(ss)
	r := func(d time.Duration) time.Duration { return d.Round(100 * time.Microsecond) }
	fmt.Printf("zguest-agent activate on z/VM: receive and stage a %d KiB config drive plus a %d-NIC list from the reader, bring the NICs up; median of %d runs\n", len(iso)>>10, n, runs)
	fmt.Printf("  %-26s %10s %16s %10s %10s %10s\n", "", "wall", "wall - kernel", "CPU", "user CPU", "peak RSS")
	fmt.Printf("  %-26s %10s %16s %10s %10s %6.1f MiB\n", "zguest-agent", r(o.wall), r(o.kernel), r(o.cpu), r(o.user), float64(o.maxRSS)/1024)
	fmt.Printf("  (wall - kernel subtracts the emulated kernel's sysfs busy time only; CP, spool pages and FUSE /dev are in it)\n")
	fmt.Printf("  the original (zvmguestconfigure: bash + vmur + losetup) cannot run here: s390-tools' vmur and vmcp\n")
	fmt.Printf("  need the s390 vmur/vmcp kernel drivers and are not built for amd64, so there is no ratio\n")
	return nil
}

// bigDrive builds a config drive of about 1 MiB (incompressible vendor
// data).
func bigDrive() ([]byte, error) {
	dir, err := os.MkdirTemp("", "benchagent-iso")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	pad := make([]byte, 330<<10) // hex-encoded: about 1 MiB of image
	rand.Read(pad)
	files := map[string]string{
		"openstack/latest/meta_data.json":   `{"uuid": "0b5e1d2c-1111-4222-8333-444455556666", "hostname": "bench"}`,
		"openstack/latest/vendor_data.json": `{"pad": "` + hex.EncodeToString(pad) + `"}`,
		"openstack/latest/user_data":        "#cloud-config\n{}\n",
	}
	for name, body := range files {
		p := filepath.Join(dir, "src", name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			return nil, err
		}
	}
	out := filepath.Join(dir, "cfgdrive.iso")
	if b, err := exec.Command("genisoimage", "-quiet", "-o", out, "-V", "config-2", "-J", "-r", filepath.Join(dir, "src")).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("genisoimage: %v: %s", err, b)
	}
	return os.ReadFile(out)
}

func zvmOnce(agent string, n int, iso []byte) (sample, error) {
	var devs []zkernel.Device
	var entries []string
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("0.0.%04x", 0x1000+3*i)
		d, err := zkernel.QethDevices(zkernel.KindOSD, 1, id)
		if err != nil {
			return sample{}, err
		}
		for j := range d {
			d[j].VNIC, d[j].ForcedLayer = true, 1
		}
		devs = append(devs, d...)
		entries = append(entries, fmt.Sprintf(`{"read": %q, "mac": "02:00:00:00:%02x:%02x"}`, id, (0x1000+3*i)>>8, (0x1000+3*i)&0xff))
	}
	root, err := os.MkdirTemp("", "benchagent")
	if err != nil {
		return sample{}, err
	}
	defer os.RemoveAll(root)
	env, err := zkerneltest.Boot(zkerneltest.ZVMConfig("LINUX01", devs...), root)
	defer func() {
		if env != nil {
			if err := env.Close(); err != nil {
				fmt.Fprintln(os.Stderr, "benchagent: teardown:", err)
			}
		}
	}()
	if err != nil {
		return sample{}, err
	}
	if _, err := env.SendToReader(iso, "cfgdrive", "iso"); err != nil {
		return sample{}, err
	}
	if _, err := env.SendToReader([]byte(`{"version": 1, "nics": [`+strings.Join(entries, ", ")+"]}\n"), "nics", "json"); err != nil {
		return sample{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, agent, "--root", env.Root, "activate")
	s, out, err := measure(env, cmd, func() error { return env.RunInGuest(cmd.Start) })
	if err != nil {
		return sample{}, err
	}
	if _, err := os.Stat(filepath.Join(env.Root, "var/lib/cloud/seed/config_drive/openstack/latest/meta_data.json")); err != nil {
		return sample{}, fmt.Errorf("config drive not staged: %v\n%s", err, out)
	}
	m := rssRe.FindStringSubmatch(out)
	if m == nil {
		return sample{}, fmt.Errorf("no peak_rss_kib in the output:\n%s", out)
	}
	s.maxRSS, _ = strconv.ParseInt(m[1], 10, 64)
	return s, nil
}
