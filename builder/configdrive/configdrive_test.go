package configdrive

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/zguest/zguest/builder/fstree"
	"github.com/zguest/zguest/builder/internal/tooltest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var testDate = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func loadInstance(t *testing.T, name string) *Instance {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var in Instance
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		t.Fatal(err)
	}
	return &in
}

// treeFiles reads every file of t into a map.
func treeFiles(t *testing.T, tr *fstree.Tree) map[string][]byte {
	t.Helper()
	m := map[string][]byte{}
	err := tr.Walk(func(p string, n *fstree.Node) error {
		if n.Dir {
			return nil
		}
		b, err := tr.ReadFile(p, 1<<30)
		m[p] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// render prints a tree in a txtar-like form for golden files.
func render(files map[string][]byte) []byte {
	var paths []string
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var b bytes.Buffer
	for _, p := range paths {
		fmt.Fprintf(&b, "-- %s (%d bytes) --\n%s\n", p, len(files[p]), files[p])
	}
	return b.Bytes()
}

func TestGoldenTrees(t *testing.T) {
	for _, name := range []string{"full", "minimal"} {
		t.Run(name, func(t *testing.T) {
			tr, err := Build(loadInstance(t, name))
			if err != nil {
				t.Fatal(err)
			}
			got := render(treeFiles(t, tr))
			golden := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("tree differs from %s (run go test -update and review the diff):\n%s", golden, got)
			}
		})
	}
}

func TestTreeShape(t *testing.T) {
	tr, err := Build(loadInstance(t, "minimal"))
	if err != nil {
		t.Fatal(err)
	}
	files := treeFiles(t, tr)
	for _, v := range OpenStackVersions {
		if _, ok := files["openstack/"+v+"/meta_data.json"]; !ok {
			t.Errorf("openstack/%s/meta_data.json missing", v)
		}
	}
	for p, want := range map[string]bool{
		"openstack/2013-04-04/vendor_data.json":  false,
		"openstack/2013-10-17/vendor_data.json":  true,
		"openstack/2013-10-17/network_data.json": false,
		"openstack/2015-10-15/network_data.json": true,
		"openstack/2016-06-30/vendor_data2.json": false,
		"openstack/2016-10-06/vendor_data2.json": true,
		"openstack/latest/vendor_data2.json":     true,
		"openstack/latest/user_data":             false,
		"openstack/latest/password":              false,
		"ec2/2009-04-04/meta-data.json":          true,
		"ec2/latest/meta-data.json":              true,
		"ec2/latest/user-data":                   false,
	} {
		if _, ok := files[p]; ok != want {
			t.Errorf("%s present = %v, want %v", p, ok, want)
		}
	}
	if s := string(files["openstack/latest/network_data.json"]); s != "{}" {
		t.Errorf("network_data.json without network = %s", s)
	}
	if s := string(files["openstack/latest/vendor_data2.json"]); s != `{"static":{}}` {
		t.Errorf("vendor_data2.json = %s", s)
	}
}

func TestBadInput(t *testing.T) {
	base := func() *Instance {
		return &Instance{UUID: "00000000-0000-4000-8000-000000000001", Hostname: "h"}
	}
	cases := map[string]struct {
		mod  func(*Instance)
		want string
	}{
		"missing uuid":   {func(i *Instance) { i.UUID = "" }, "uuid: missing"},
		"bad uuid":       {func(i *Instance) { i.UUID = "nope" }, "not a UUID"},
		"user data":      {func(i *Instance) { i.UserData = make([]byte, MaxUserData+1) }, "more than nova's limit"},
		"relative file":  {func(i *Instance) { i.Files = []File{{Path: "etc/x"}} }, "absolute path"},
		"escaping file":  {func(i *Instance) { i.Files = []File{{Path: "/etc/../../x"}} }, "not a clean path"},
		"long component": {func(i *Instance) { i.Files = []File{{Path: "/" + strings.Repeat("x", 256)}} }, "longer than 255"},
		"non-UTF-8 name": {func(i *Instance) { i.Name = "\xff\xfe" }, "name: not valid UTF-8"},
		"non-UTF-8 path": {func(i *Instance) { i.Files = []File{{Path: "/a\xff"}} }, "not valid UTF-8"},
		"vendor not obj": {func(i *Instance) { i.VendorData = json.RawMessage(`[1]`) }, "must be a JSON object"},
		"unknown link": {func(i *Instance) {
			i.Network = &NetworkData{Networks: []Network{{ID: "n", Type: "ipv4_dhcp", Link: "x"}}}
		}, `unknown link "x"`},
		"bad mac": {func(i *Instance) {
			i.Network = &NetworkData{Links: []Link{{ID: "a", Type: "phy", EthernetMACAddress: "zz"}}}
		}, "not a MAC"},
		"bad static ip": {func(i *Instance) {
			i.Network = &NetworkData{Links: []Link{{ID: "a", Type: "phy", EthernetMACAddress: "0a:00:00:00:00:01"}}, Networks: []Network{{ID: "n", Type: "ipv4", Link: "a", IPAddress: "1.2.3"}}}
		}, "not an IP"},
		"key type": {func(i *Instance) { i.Keys = []Key{{Name: "k", Type: "rsa", Data: "x"}} }, "neither ssh nor x509"},
		"unknown net typ": {func(i *Instance) {
			i.Network = &NetworkData{Links: []Link{{ID: "a", Type: "phy", Name: "eth0"}}, Networks: []Network{{ID: "n", Type: "ipv5", Link: "a"}}}
		}, "unknown network type"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			in := base()
			c.mod(in)
			_, err := Build(in)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want ErrInvalid containing %q", err, c.want)
			}
		})
	}
}

func TestCheckTree(t *testing.T) {
	mk := func(files map[string]string) *fstree.Tree {
		tr := fstree.New()
		for p, c := range files {
			if err := tr.AddBytes(p, []byte(c)); err != nil {
				t.Fatal(err)
			}
		}
		return tr
	}
	good := mk(map[string]string{"openstack/latest/meta_data.json": `{"uuid":"u"}`})
	if err := CheckTree(good); err != nil {
		t.Errorf("good tree: %v", err)
	}
	for name, files := range map[string]map[string]string{
		"no openstack": {"ec2/latest/meta-data.json": "{}"},
		"no uuid":      {"openstack/latest/meta_data.json": `{"hostname":"h"}`},
		"bad json":     {"openstack/latest/meta_data.json": `{`},
		"big userdata": {"openstack/latest/meta_data.json": `{"uuid":"u"}`, "openstack/latest/user_data": strings.Repeat("x", MaxUserData+1)},
	} {
		if err := CheckTree(mk(files)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}

// extract reads an image back with an independent tool into a directory.
func extract(t *testing.T, img string, f Format) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "x")
	tooltest.Writable(t, out)
	switch f {
	case ISO9660:
		tooltest.Run(t, "xorriso", "-abort_on", "WARNING", "-indev", img, "-osirrox", "on", "-extract", "/", out)
	case VFAT:
		os.Mkdir(out, 0o755)
		tooltest.Run(t, "mcopy", "-s", "-n", "-i", img, "::/*", out)
	}
	return out
}

func dirFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	m := map[string][]byte{}
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		m[filepath.ToSlash(rel)], err = os.ReadFile(p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func writeDrive(t *testing.T, tr *fstree.Tree, f Format) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "drive."+f.String())
	if err := WriteImage(p, tr, ImageOptions{Format: f, SourceDate: testDate, Publisher: "zguest test"}); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("output dir holds %d entries, want only the image", len(ents))
	}
	return p
}

// TestImagesReadBack writes both formats and reads them back with
// xorriso/isoinfo or mtools, plus blkid and fsck.vfat, comparing every file.
func TestImagesReadBack(t *testing.T) {
	for _, f := range []Format{ISO9660, VFAT} {
		t.Run(f.String(), func(t *testing.T) {
			tr, err := Build(loadInstance(t, "full"))
			if err != nil {
				t.Fatal(err)
			}
			want := treeFiles(t, tr)
			img := writeDrive(t, tr, f)
			got := dirFiles(t, extract(t, img, f))
			if !bytes.Equal(render(got), render(want)) {
				t.Errorf("read back tree differs:\n%s\nwant:\n%s", render(got), render(want))
			}
			blk := string(tooltest.Run(t, "blkid", "-p", "-o", "export", img))
			if !strings.Contains(blk, "LABEL=config-2\n") || !strings.Contains(blk, "TYPE="+f.String()+"\n") {
				t.Errorf("blkid:\n%s", blk)
			}
			switch f {
			case VFAT:
				tooltest.Run(t, "fsck.vfat", "-n", img)
				if st, _ := os.Stat(img); st.Size() != 64<<20 {
					t.Errorf("vfat size %d, want 64 MiB", st.Size())
				}
			case ISO9660:
				c := tooltest.Run(t, "isoinfo", "-R", "-i", img, "-x", "/openstack/latest/meta_data.json")
				if !bytes.Equal(c, want["openstack/latest/meta_data.json"]) {
					t.Errorf("isoinfo -R -x meta_data.json = %s", c)
				}
			}
			// Reproducible: a second build is byte-identical.
			tr2, _ := Build(loadInstance(t, "full"))
			img2 := writeDrive(t, tr2, f)
			a, _ := os.ReadFile(img)
			b, _ := os.ReadFile(img2)
			if !bytes.Equal(a, b) {
				t.Error("two builds of the same input differ")
			}
		})
	}
}

// TestCloudInitReadsDrive runs cloud-init's own ConfigDrive reader on the
// tree extracted from each image and checks what it derives.
func TestCloudInitReadsDrive(t *testing.T) {
	const py = "/usr/bin/python3"
	tooltest.RequireTool(t, py)
	if _, _, err := tooltest.RunErr(py, "-c", "import cloudinit.sources.DataSourceConfigDrive"); err != nil {
		t.Skipf("needs tool: cloud-init (python3 module cloudinit: %v)", err)
	}
	script := `
import json, sys
from cloudinit.sources import DataSourceConfigDrive as ds
from cloudinit.sources.helpers import openstack
r = ds.read_config_drive(sys.argv[1])
md = r["metadata"]
macs = {"0a:00:00:00:00:11": "enc1", "0a:00:00:00:00:12": "enc2", "0a:00:00:00:00:13": "enc3"}
net = openstack.convert_net_json(r.get("networkdata"), known_macs=macs)
ud = r["userdata"]
if isinstance(ud, bytes):
    ud = ud.decode()
print(json.dumps({
  "instance_id": md["instance-id"], "hostname": md["local-hostname"],
  "keys": md.get("public_keys"), "userdata": ud, "dsmode": r.get("dsmode"),
  "files": {k: (v.decode() if isinstance(v, bytes) else v) for k, v in r["files"].items()},
  "network": net, "network_config": r.get("network_config"),
  "vendordata": r.get("vendordata"), "ec2_id": r["ec2-metadata"].get("instance-id"),
}, sort_keys=True))
`
	for _, f := range []Format{ISO9660, VFAT} {
		t.Run(f.String(), func(t *testing.T) {
			tr, err := Build(loadInstance(t, "full"))
			if err != nil {
				t.Fatal(err)
			}
			dir := extract(t, writeDrive(t, tr, f), f)
			out := tooltest.Run(t, py, "-c", script, dir)
			var got struct {
				InstanceID    string            `json:"instance_id"`
				Hostname      string            `json:"hostname"`
				Keys          map[string]string `json:"keys"`
				Userdata      string            `json:"userdata"`
				Dsmode        string            `json:"dsmode"`
				Files         map[string]string `json:"files"`
				NetworkConfig string            `json:"network_config"`
				EC2ID         string            `json:"ec2_id"`
				Network       struct {
					Version int `json:"version"`
					Config  []struct {
						Type       string `json:"type"`
						Name       string `json:"name"`
						MacAddress string `json:"mac_address"`
						MTU        int    `json:"mtu"`
						VlanID     int    `json:"vlan_id"`
						Address    string `json:"address"`
						Subnets    []struct {
							Type           string   `json:"type"`
							Address        string   `json:"address"`
							Netmask        string   `json:"netmask"`
							DNSNameservers []string `json:"dns_nameservers"`
							Routes         []struct {
								Gateway string `json:"gateway"`
							} `json:"routes"`
						} `json:"subnets"`
					} `json:"config"`
				} `json:"network"`
			}
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if got.InstanceID != "6f1c2a5e-3b7d-4c8e-9a0f-1d2e3f4a5b6c" || got.Hostname != "web-1.example.org" {
				t.Errorf("instance id %q hostname %q", got.InstanceID, got.Hostname)
			}
			if got.Keys["ops"] == "" || !strings.HasPrefix(got.Keys["ops"], "ssh-ed25519 ") {
				t.Errorf("keys %v", got.Keys)
			}
			if got.Userdata != "#cloud-config\nruncmd:\n  - echo hello\n" || got.Dsmode != "local" {
				t.Errorf("userdata %q dsmode %q", got.Userdata, got.Dsmode)
			}
			if got.Files["/etc/motd"] != "Welcome to web-1\n" || got.Files["/opt/app/config with spaces.ini"] == "" {
				t.Errorf("files %v", got.Files)
			}
			if !strings.Contains(got.NetworkConfig, "iface enc1 inet dhcp") || got.EC2ID != "i-0000002a" {
				t.Errorf("network_config %q ec2 id %q", got.NetworkConfig, got.EC2ID)
			}
			summary := map[string]string{}
			for _, c := range got.Network.Config {
				var subs []string
				for _, s := range c.Subnets {
					d := s.Type
					if s.Address != "" {
						d += " " + s.Address + "/" + s.Netmask
					}
					if len(s.Routes) > 0 {
						d += " via " + s.Routes[0].Gateway
					}
					if len(s.DNSNameservers) > 0 {
						d += " dns " + strings.Join(s.DNSNameservers, ",")
					}
					subs = append(subs, d)
				}
				key := c.Type + " " + c.Name
				summary[key] = fmt.Sprintf("mac=%s mtu=%d vlan=%d %s %s", c.MacAddress, c.MTU, c.VlanID, strings.Join(subs, "; "), c.Address)
			}
			want := map[string]string{
				"physical enc1": "mac=0a:00:00:00:00:11 mtu=1500 vlan=0 static 192.0.2.10/255.255.255.0 via 192.0.2.1 ",
				"physical enc2": "mac=0a:00:00:00:00:12 mtu=0 vlan=0 dhcp4 ",
				"physical enc3": "mac=0a:00:00:00:00:13 mtu=9000 vlan=0  ",
				"vlan enc3.42":  "mac=0a:00:00:00:00:13 mtu=0 vlan=42 static6 2001:db8::10/ffff:ffff:ffff:ffff:: ",
				"nameserver ":   "mac= mtu=0 vlan=0  198.51.100.53",
			}
			if fmt.Sprint(summary) != fmt.Sprint(want) {
				t.Errorf("cloud-init network config:\n got %v\nwant %v\nraw: %s", summary, want, out)
			}
		})
	}
}
