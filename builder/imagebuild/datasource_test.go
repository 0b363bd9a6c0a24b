package imagebuild

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zguest/zguest/internal/testutil"
)

// writeCloudInit runs the customizer's cloud-init step for a spec body
// into a fresh tree and returns the tree's directory.
func writeCloudInit(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	s := writeSpec(t, dir, "source: rootfs\nsize: 256MiB\n"+body)
	root, err := os.OpenRoot(filepath.Join(dir, "rootfs"))
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	c := &customizer{root: root, mtime: time.Unix(1700000000, 0)}
	if err := c.cloudInit(s); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "rootfs")
}

func readOr(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

// TestCloudInitDatasources checks the written settings per target: dpm
// lists the metadata service after the config drive and says how
// ds-identify must rate it; zvm and kvm list it only when the spec opts in.
func TestCloudInitDatasources(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		list       string
		openstack  bool
	}{
		{"dpm", "target: dpm\n", "datasource_list: [ ConfigDrive, OpenStack, None ]", true},
		{"kvm", "target: kvm\n", "datasource_list: [ ConfigDrive, None ]", false},
		{"zvm", "target: zvm\n", "datasource_list: [ ConfigDrive, None ]", false},
		{"kvm opt-in", "target: kvm\ncloud_init:\n  datasources: [ConfigDrive, OpenStack, None]\n", "datasource_list: [ ConfigDrive, OpenStack, None ]", true},
		{"dpm opt-out", "target: dpm\ncloud_init:\n  datasources: [ConfigDrive, None]\n", "datasource_list: [ ConfigDrive, None ]", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := writeCloudInit(t, tc.body)
			cfg := readOr(t, filepath.Join(root, cloudCfgFile))
			if !strings.Contains(cfg, tc.list+"\n") || !strings.Contains(cfg, "  ConfigDrive:\n    dsmode: local\n") {
				t.Errorf("%s lacks %q or the ConfigDrive settings:\n%s", cloudCfgFile, tc.list, cfg)
			}
			hasOS := strings.Contains(cfg, "  OpenStack:\n    metadata_urls: [ \"http://169.254.169.254\" ]\n")
			policy := readOr(t, filepath.Join(root, dsIdentifyFile))
			if hasOS != tc.openstack || (policy != "") != tc.openstack {
				t.Errorf("OpenStack settings %v, ds-identify policy %q; want OpenStack %v:\n%s", hasOS, policy, tc.openstack, cfg)
			}
			if tc.openstack && !strings.Contains(policy, "\npolicy: search,found=all,maybe=all,notfound=enabled\n") {
				t.Errorf("ds-identify.cfg = %q", policy)
			}
		})
	}
}

// TestDSIdentify runs Debian's real ds-identify (cloud-init's systemd
// generator calls it before anything else) against trees written for
// each target, on an s390x KVM guest (uname and systemd-detect-virt are
// stubbed, as cloud-init's own tests do; blkid reports a config-2 file
// system or none), and checks the datasource_list it leaves for
// cloud-init in /run/cloud-init/cloud.cfg.
func TestDSIdentify(t *testing.T) {
	const dsIdentify = "/usr/lib/cloud-init/ds-identify"
	if _, err := os.Stat(dsIdentify); err != nil {
		t.Skipf("needs %s (Debian package cloud-init)", dsIdentify)
	}
	testutil.RequireTool(t, "sh")
	for _, tc := range []struct {
		name, body string
		drive      bool
		want       string // the run-time list, "" for none written
		rc         int
	}{
		// No config drive: the metadata service is a "maybe" on s390x
		// and the policy keeps it.
		{"dpm without drive", "target: dpm\n", false, "datasource_list: [ OpenStack, None ]", 0},
		// A config drive wins; ds-identify drops OpenStack when one exists.
		{"dpm with drive", "target: dpm\n", true, "datasource_list: [ ConfigDrive, None ]", 0},
		{"kvm with drive", "target: kvm\n", true, "datasource_list: [ ConfigDrive, None ]", 0},
		// A single datasource is taken as it is, drive or not.
		{"kvm without drive", "target: kvm\n", false, "datasource_list: [ ConfigDrive, None ]", 0},
		{"kvm opt-in without drive", "target: kvm\ncloud_init:\n  datasources: [ConfigDrive, OpenStack, None]\n", false, "datasource_list: [ OpenStack, None ]", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := writeCloudInit(t, tc.body)
			// The distribution's cloud.cfg (it has no datasource_list;
			// ours is in cloud.cfg.d).
			must(t, os.WriteFile(filepath.Join(root, "etc/cloud/cloud.cfg"), []byte("users:\n  - default\n"), 0o644))
			must(t, os.MkdirAll(filepath.Join(root, "proc/1"), 0o755))
			must(t, os.WriteFile(filepath.Join(root, "proc/cmdline"), []byte("root=UUID=x console=ttysclp0 0001,0,0a0000000011;\n"), 0o644))
			must(t, os.WriteFile(filepath.Join(root, "proc/1/environ"), []byte("HOME=/\x00"), 0o644))
			must(t, os.WriteFile(filepath.Join(root, "proc/uptime"), []byte("5.00 8.00\n"), 0o644))
			must(t, os.MkdirAll(filepath.Join(root, "run"), 0o755))
			bin := t.TempDir()
			blkid := "#!/bin/sh\necho DEVNAME=/dev/vda1\necho UUID=0d9b4e5a-7c1e-4f0e-9a51-3c8d2e6f1a20\necho TYPE=ext4\necho\n"
			if tc.drive {
				blkid += "echo DEVNAME=/dev/sr0\necho LABEL=config-2\necho TYPE=iso9660\necho\n"
			}
			stubs := map[string]string{
				"uname":               "#!/bin/sh\necho Linux zguest 6.1.0-28-s390x '#1 SMP Debian 6.1.119-1' s390x GNU/Linux\n",
				"systemd-detect-virt": "#!/bin/sh\nfor a; do [ \"$a\" = --container ] && { echo none; exit 1; }; done\necho kvm\n",
				"blkid":               blkid,
			}
			for name, body := range stubs {
				must(t, os.WriteFile(filepath.Join(bin, name), []byte(body), 0o755))
			}
			cmd := exec.Command("sh", dsIdentify, "--force")
			cmd.Env = append(os.Environ(), "PATH="+bin+":/usr/sbin:/usr/bin:/sbin:/bin", "PATH_ROOT="+root, "DI_LOG=stderr")
			out, err := cmd.CombinedOutput()
			rc := 0
			if ee, ok := err.(*exec.ExitError); ok {
				rc = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			got := strings.TrimSpace(readOr(t, filepath.Join(root, "run/cloud-init/cloud.cfg")))
			if rc != tc.rc || got != tc.want {
				t.Errorf("ds-identify returned %d and wrote %q; want %d and %q\n%s", rc, got, tc.rc, tc.want, out)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
