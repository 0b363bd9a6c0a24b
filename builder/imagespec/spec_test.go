package imagespec

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func write(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "rootfs"), 0o755)
	os.WriteFile(filepath.Join(dir, "agent"), []byte("x"), 0o755)
	p := filepath.Join(dir, "image.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaults(t *testing.T) {
	for _, tc := range []struct {
		target, table, boot string
		size                int64
	}{{"kvm", "msdos", "zipl", 2 << 30}, {"dpm", "msdos", "zipl", 2 << 30}, {"zvm", "cdl", "zipl", 2913 * CylinderBytes}} {
		s, err := Load(write(t, "source: rootfs\ntarget: "+tc.target+"\nsize: 2GiB\n"))
		if err != nil {
			t.Fatal(err)
		}
		if s.PartitionTable != tc.table || s.Bootloader != tc.boot || s.SizeBytes != tc.size ||
			s.Filesystem.Type != "ext4" || s.Filesystem.Label != "root" || s.CloudInit.Network != "enabled" {
			t.Errorf("%s: %+v", tc.target, s)
		}
		if !filepath.IsAbs(s.Source) {
			t.Errorf("source not made absolute: %s", s.Source)
		}
	}
}

// TestDatasources: dpm asks the metadata service after the config drive,
// zvm and kvm only when the spec opts in.
func TestDatasources(t *testing.T) {
	for _, tc := range []struct {
		target, extra, want string
	}{
		{"dpm", "", "ConfigDrive OpenStack None"},
		{"zvm", "", "ConfigDrive None"},
		{"kvm", "", "ConfigDrive None"},
		{"kvm", "cloud_init:\n  datasources: [ConfigDrive, OpenStack, None]\n", "ConfigDrive OpenStack None"},
		{"zvm", "cloud_init:\n  datasources: [ConfigDrive, OpenStack]\n", "ConfigDrive OpenStack"},
		{"dpm", "cloud_init:\n  datasources: [ConfigDrive, None]\n", "ConfigDrive None"},
		{"dpm", "cloud_init:\n  datasources: [OpenStack, None]\n", "OpenStack None"},
	} {
		s, err := Load(write(t, "source: rootfs\ntarget: "+tc.target+"\nsize: 2GiB\n"+tc.extra))
		if err != nil {
			t.Fatalf("%s %q: %v", tc.target, tc.extra, err)
		}
		if got := strings.Join(s.CloudInit.Datasources, " "); got != tc.want {
			t.Errorf("%s %q: datasources %q, want %q", tc.target, tc.extra, got, tc.want)
		}
	}
	// The defaults are copies: one spec's list is not another's.
	a, _ := Load(write(t, "source: rootfs\ntarget: dpm\nsize: 2GiB\n"))
	a.CloudInit.Datasources[0] = "x"
	if DefaultDatasources["dpm"][0] != "ConfigDrive" {
		t.Error("a spec's datasources alias the package default")
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"empty", "", "is empty"},
		{"unknown key", "source: rootfs\ntarget: kvm\nsize: 2GiB\nkernal:\n  cmdline: x\n", "line 4: field kernal not found"},
		{"missing all", "format: raw\n", "source: missing"},
		{"bad target", "source: rootfs\ntarget: lpar\nsize: 2GiB\n", `:2: target: "lpar" is not one of kvm, zvm, dpm`},
		{"bad size", "source: rootfs\ntarget: kvm\nsize: big\n", `:3: size: "big": want a size`},
		{"tiny", "source: rootfs\ntarget: kvm\nsize: 1MiB\n", "outside 64 MiB"},
		{"no source", "source: nothere\ntarget: kvm\nsize: 2GiB\n", "no such file"},
		{"zipl on bare zvm", "source: rootfs\ntarget: zvm\nsize: 2GiB\npartition_table: none\nbootloader: zipl\n", "needs a DASD layout"},
		{"msdos on zvm", "source: rootfs\ntarget: zvm\nsize: 2GiB\npartition_table: msdos\n", "not a minidisk layout"},
		{"cdl on kvm", "source: rootfs\ntarget: kvm\nsize: 2GiB\npartition_table: cdl\n", "for target zvm only"},
		{"cyl on kvm", "source: rootfs\ntarget: kvm\nsize: 100cyl\n", "cylinders are a DASD size"},
		{"xcat on kvm", "source: rootfs\ntarget: kvm\nsize: 2GiB\nformat: xcat\n", "for target zvm"},
		{"volser", "source: rootfs\ntarget: zvm\nsize: 2GiB\ndasd:\n  volser: LNX-01\n", ":5: dasd.volser"},
		{"vdev", "source: rootfs\ntarget: zvm\nsize: 2GiB\ndasd:\n  vdev: 1.2.3\n", ":5: dasd.vdev"},
		{"gzip", "source: rootfs\ntarget: zvm\nsize: 2GiB\ndasd:\n  gzip: 10\n", ":5: dasd.gzip"},
		{"dasd on kvm", "source: rootfs\ntarget: kvm\nsize: 2GiB\ndasd:\n  vdev: \"0200\"\n", "only for target zvm"},
		{"zipl without table", "source: rootfs\ntarget: kvm\nsize: 2GiB\npartition_table: none\n", "use partition_table: msdos"},
		{"relative kernel", "source: rootfs\ntarget: kvm\nsize: 2GiB\nkernel:\n  image: boot/vmlinuz\n", ":5: kernel.image"},
		{"files both", "source: rootfs\ntarget: kvm\nsize: 2GiB\nfiles:\n  - dst: /etc/a\n    src: agent\n    content: x\n", ":5: files[0]: give exactly one"},
		{"files dst", "source: rootfs\ntarget: kvm\nsize: 2GiB\nfiles:\n  - dst: etc/../a\n    content: x\n", "files[0].dst"},
		{"files mode", "source: rootfs\ntarget: kvm\nsize: 2GiB\nfiles:\n  - dst: /a\n    content: x\n    mode: \"999\"\n", "files[0].mode"},
		{"uuid", "source: rootfs\ntarget: kvm\nsize: 2GiB\nfilesystem:\n  uuid: ABC\n", "filesystem.uuid"},
		{"datasource", "source: rootfs\ntarget: kvm\nsize: 2GiB\ncloud_init:\n  config:\n    datasource_list: [NoCloud]\n", "set by zguest-image"},
		{"senders on kvm", "source: rootfs\ntarget: kvm\nsize: 2GiB\nzvm:\n  authorized_senders: [OPNCLOUD]\n", "zvm.authorized_senders: only for target zvm"},
		{"senders userid", "source: rootfs\ntarget: zvm\nsize: 2GiB\nzvm:\n  authorized_senders: [OPNCLOUD, \"bad user\"]\n", `:5: zvm.authorized_senders[1]: "bad user" is not a z/VM userid`},
		{"senders star", "source: rootfs\ntarget: zvm\nsize: 2GiB\nzvm:\n  authorized_senders: [\"*\", OPNCLOUD]\n", "list it alone"},
		{"datasource unknown", "source: rootfs\ntarget: kvm\nsize: 2GiB\ncloud_init:\n  datasources: [ConfigDrive, openstack]\n", `:5: cloud_init.datasources[1]: "openstack" is not one of ConfigDrive, OpenStack, None`},
		{"datasource twice", "source: rootfs\ntarget: dpm\nsize: 2GiB\ncloud_init:\n  datasources: [ConfigDrive, ConfigDrive]\n", "ConfigDrive is listed twice"},
		{"datasource none first", "source: rootfs\ntarget: dpm\nsize: 2GiB\ncloud_init:\n  datasources: [None, OpenStack]\n", "None must come last"},
		{"datasource order", "source: rootfs\ntarget: zvm\nsize: 2GiB\ncloud_init:\n  datasources: [OpenStack, ConfigDrive, None]\n", "put ConfigDrive first"},
		{"datasource empty", "source: rootfs\ntarget: kvm\nsize: 2GiB\ncloud_init:\n  datasources: []\n", "cloud_init.datasources: empty"},
		{"compress raw", "source: rootfs\ntarget: kvm\nsize: 2GiB\nformat: raw\ncompress: true\n", "only qcow2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(write(t, tc.body))
			if !errors.Is(err, ErrInvalid) && tc.name != "no source" {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestZVMSenders(t *testing.T) {
	s, err := Load(write(t, "source: rootfs\ntarget: zvm\nsize: 2GiB\nzvm:\n  authorized_senders: [opncloud, \"ZVM$ADM\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.ZVM.AuthorizedSenders, " "); got != "OPNCLOUD ZVM$ADM" {
		t.Errorf("senders %q", got)
	}
}

// TestREADMEKeys keeps README.md's example in step with the Spec fields.
func TestREADMEKeys(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindSubmatch(b)
	if m == nil {
		t.Fatal("README.md has no yaml example")
	}
	var doc map[string]any
	if err := yaml.Unmarshal(m[1], &doc); err != nil {
		t.Fatal(err)
	}
	// Every key of the example must decode strictly into a Spec.
	dec := yaml.NewDecoder(strings.NewReader(string(m[1])))
	dec.KnownFields(true)
	var s Spec
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("README example has a key Spec does not: %v", err)
	}
	for _, k := range []string{"source", "target", "size", "format", "compress", "partition_table", "filesystem",
		"bootloader", "kernel", "agent", "files", "cloud_init", "sysprep"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("README example lacks %s:", k)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("source: /\ntarget: kvm\nsize: 2GiB\n"))
	f.Add([]byte("files:\n  - dst: /a\n    content: x\n"))
	f.Add([]byte("kernel: [1, 2]\nsize: 99999999999999999999T\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Parse(b, "/spec.yaml")
		if err == nil && (s.Target == "" || s.SizeBytes == 0) {
			t.Fatalf("accepted a spec without target or size: %q", b)
		}
	})
}

func TestDASDSize(t *testing.T) {
	for _, tc := range []struct {
		size string
		want int64
	}{{"1113cyl", 1113 * CylinderBytes}, {"3338 CYL", 3338 * CylinderBytes}, {"512MiB", 729 * CylinderBytes}, {"737280", CylinderBytes}} {
		s, err := Load(write(t, "source: rootfs\ntarget: zvm\nsize: "+tc.size+"\ndasd:\n  vdev: 1A0\n  gzip: 0\n"))
		if tc.want < MinSize {
			if err == nil {
				t.Errorf("%s: no error for a disk under %d bytes", tc.size, MinSize)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if s.SizeBytes != tc.want || s.DASD.Vdev != "0.0.01a0" || *s.DASD.Gzip != 0 || s.DASD.Volser != "LNX001" {
			t.Errorf("%s: size %d vdev %s gzip %d volser %s, want %d 0.0.01a0 0 LNX001", tc.size, s.SizeBytes, s.DASD.Vdev, *s.DASD.Gzip, s.DASD.Volser, tc.want)
		}
	}
}
