package metadatasrv

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/zguest/zguest/builder/configdrive"
	"github.com/zguest/zguest/builder/fstree"
	"github.com/zguest/zguest/internal/testutil"
)

const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBvZ8u0r0x9o8JjqZr0b8Wc8S1Yb8Vt0wQ4kz2Z3p1Ya md@zguest"

func instance() *configdrive.Instance {
	return &configdrive.Instance{
		UUID:     "1f0c3b52-8a57-4d1e-9c0e-5b2a7d4e6f10",
		Hostname: "zguest-md",
		Name:     "zguest-md",
		Keys:     []configdrive.Key{{Name: "mykey", Type: "ssh", Data: key}},
		UserData: []byte("#!/bin/sh\necho hi\n"),
		Files:    []configdrive.File{{Path: "/etc/injected", Contents: []byte("injected\n")}},
		Network: &configdrive.NetworkData{
			Links:    []configdrive.Link{{ID: "tap1", Type: "phy", EthernetMACAddress: "0a:00:00:00:00:11"}},
			Networks: []configdrive.Network{{ID: "network0", Type: "ipv4_dhcp", Link: "tap1"}},
		},
	}
}

func server(t *testing.T) *Server {
	t.Helper()
	tree, err := configdrive.Build(instance())
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(tree, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestLayout checks the answers nova's metadata service gives for the
// paths cloud-init and the EC2 clients ask.
func TestLayout(t *testing.T) {
	s := server(t)
	for _, tc := range []struct{ path, want, ctype string }{
		{"/openstack", strings.Join(append(append([]string(nil), configdrive.OpenStackVersions...), "latest"), "\n"), textPlain},
		{"/openstack/", strings.Join(append(append([]string(nil), configdrive.OpenStackVersions...), "latest"), "\n"), textPlain},
		{"/openstack/2012-08-10", "meta_data.json\nuser_data", textPlain},
		{"/openstack/2018-08-27", "meta_data.json\nnetwork_data.json\npassword\nuser_data\nvendor_data.json\nvendor_data2.json", textPlain},
		{"/openstack/latest/password", "", textPlain},
		{"/openstack/latest/user_data", "#!/bin/sh\necho hi\n", textPlain},
		{"/openstack/content/0000", "injected\n", textPlain},
		{"/", "2009-04-04\nlatest", textPlain},
		{"/latest", "meta-data/\nuser-data", textPlain},
		{"/latest/user-data", "#!/bin/sh\necho hi\n", textPlain},
		{"/2009-04-04/meta-data/public-keys/", "0=mykey", textPlain},
		{"/latest/meta-data/public-keys/0", "openssh-key", textPlain},
		{"/latest/meta-data/public-keys/0/openssh-key", key, textPlain},
		{"/ec2/latest/meta-data/hostname", "zguest-md", textPlain},
		{"/latest/meta-data/placement/", "availability-zone", textPlain},
		{"/latest/meta-data/ami-launch-index", "0", textPlain},
		{"/latest/meta-data/local-ipv4", "None", textPlain},
		{"/latest/meta-data/block-device-mapping/root", "/dev/vda", textPlain},
		{"//latest/./meta-data/../meta-data/hostname/", "zguest-md", textPlain},
	} {
		body, ctype, err := s.Lookup(tc.path)
		if err != nil || string(body) != tc.want || ctype != tc.ctype {
			t.Errorf("%s: %q %s %v, want %q %s", tc.path, body, ctype, err, tc.want, tc.ctype)
		}
	}
	body, ctype, err := s.Lookup("/openstack/latest/meta_data.json")
	var md struct {
		UUID       string            `json:"uuid"`
		Hostname   string            `json:"hostname"`
		PublicKeys map[string]string `json:"public_keys"`
	}
	if err != nil || ctype != appJSON || json.Unmarshal(body, &md) != nil || md.UUID != instance().UUID || md.PublicKeys["mykey"] != key {
		t.Errorf("meta_data.json: %s %s %v", body, ctype, err)
	}
	if md, _, _ := s.Lookup("/latest/meta-data/"); !strings.Contains(string(md), "\npublic-keys/\n") || !strings.Contains(string(md), "\ninstance-id\n") {
		t.Errorf("meta-data listing:\n%s", md)
	}
	for _, p := range []string{"/openstack/content", "/openstack/content/0000/x", "/openstack/1999-01-01/meta_data.json",
		"/openstack/latest/nothere", "/openstack/latest/meta_data.json/x", "/2008-01-01/meta-data", "/latest/meta-data/public-keys/0/_name",
		"/latest/meta-data/hostname/x", "/latest/nothere", "/openstack/../../etc/passwd"} {
		if b, _, err := s.Lookup(p); !errors.Is(err, errNotFound) {
			t.Errorf("%s: %q, %v; want not found", p, b, err)
		}
	}
}

func TestHTTP(t *testing.T) {
	s := server(t)
	ts := httptest.NewServer(s)
	defer ts.Close()
	get := func(method, p string) (int, string) {
		req, _ := http.NewRequest(method, ts.URL+p, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("GET", "/openstack/latest/user_data"); code != 200 || body != "#!/bin/sh\necho hi\n" {
		t.Errorf("GET user_data: %d %q", code, body)
	}
	if code, _ := get("GET", "/openstack/nothere"); code != 404 {
		t.Errorf("GET of a missing path: %d", code)
	}
	if code, body := get("HEAD", "/openstack"); code != 200 || body != "" {
		t.Errorf("HEAD: %d %q", code, body)
	}
	if code, _ := get("POST", "/openstack/latest/password"); code != 405 {
		t.Errorf("POST: %d", code)
	}
	reqs := s.Requests()
	if len(reqs) != 4 || reqs[1].Path != "/openstack/nothere" || reqs[1].Status != 404 || reqs[1].Remote == "" {
		t.Errorf("requests recorded: %+v", reqs)
	}
}

func TestNewRefuses(t *testing.T) {
	if _, err := New(fstree.New(), nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty tree: %v", err)
	}
	tree := fstree.New()
	_ = tree.AddBytes("openstack/latest/meta_data.json", []byte(`{"uuid":"x"}`))
	_ = tree.AddBytes("ec2/latest/meta-data.json", []byte(`{not json`))
	if _, err := New(tree, nil); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "ec2/latest/meta-data.json") {
		t.Errorf("broken EC2 JSON: %v", err)
	}
}

// TestCloudInitReads points cloud-init's own metadata service reader (the
// Debian package's Python code) at the server: what it crawls must be
// the instance data, with the version cloud-init 22.4 picks.
func TestCloudInitReads(t *testing.T) {
	if _, err := os.Stat("/usr/lib/python3/dist-packages/cloudinit/sources/helpers/openstack.py"); err != nil {
		t.Skip("needs cloud-init's Python modules (Debian package cloud-init)")
	}
	// Debian's python3: cloud-init's modules are in its dist-packages.
	testutil.RequireTool(t, "/usr/bin/python3")
	s := server(t)
	ts := httptest.NewServer(s)
	defer ts.Close()
	// read_v2 asks the EC2 tree at the fixed 169.254.169.254 in 22.4;
	// that part is read separately from the test server.
	script := `
import json, sys
from cloudinit.sources.helpers import openstack, ec2
url = sys.argv[1]
r = openstack.MetadataReader(url, retries=0, timeout=5)
r._read_ec2_metadata = lambda: ec2.get_instance_metadata(metadata_address=url, retries=0, timeout=5)
res = r.read_v2()
out = {
  "version": r._find_working_version(),
  "uuid": res["metadata"]["uuid"],
  "hostname": res["metadata"]["local-hostname"],
  "keys": res["metadata"]["public_keys"],
  "userdata": res["userdata"].decode(),
  "network": res["networkdata"]["networks"][0]["type"],
  "files": {k: v.decode() for k, v in res["files"].items()},
  "ec2_keys": res["ec2-metadata"]["public-keys"],
  "ec2_hostname": res["ec2-metadata"]["hostname"],
}
print(json.dumps(out))
`
	cmd := exec.Command("/usr/bin/python3", "-c", script, ts.URL)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("cloud-init's reader: %v\n%s", err, stderr)
	}
	var got struct {
		Version, UUID, Hostname, Userdata, Network, EC2Hostname string
		Keys                                                    map[string]string
		Files                                                   map[string]string
		EC2Keys                                                 map[string]any `json:"ec2_keys"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	got.EC2Hostname = gjson(out, "ec2_hostname")
	if got.Version != "2018-08-27" || got.UUID != instance().UUID || got.Hostname != "zguest-md" || got.Keys["mykey"] != key ||
		got.Userdata != "#!/bin/sh\necho hi\n" || got.Network != "ipv4_dhcp" || got.Files["/etc/injected"] != "injected\n" ||
		got.EC2Hostname != "zguest-md" {
		t.Errorf("cloud-init read: %s", out)
	}
	if k, _ := got.EC2Keys["mykey"].(string); k != key {
		t.Errorf("cloud-init's EC2 reader did not follow 0=mykey: %v", got.EC2Keys)
	}
	// The paths asked, for the record.
	var paths []string
	for _, r := range s.Requests() {
		paths = append(paths, r.Path+" "+http.StatusText(r.Status))
	}
	t.Logf("cloud-init 22.4 asked:\n%s", strings.Join(paths, "\n"))
}

func gjson(b []byte, k string) string {
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	s, _ := m[k].(string)
	return s
}

// FuzzLookup: any request path gets an answer or "not found", never a
// panic, and never a file outside the tree.
func FuzzLookup(f *testing.F) {
	s, err := New(mustBuild(f), nil)
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range []string{"/", "/openstack", "/openstack/latest/meta_data.json", "/latest/meta-data/public-keys/0/openssh-key",
		"/../..", "/openstack/content/0000", "//ec2//latest", "/latest/meta-data/public-keys/0/_name", "\x00"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		b, ctype, err := s.Lookup(p)
		if err != nil && !errors.Is(err, errNotFound) {
			t.Fatalf("%q: %v", p, err)
		}
		if err == nil && ctype == "" {
			t.Fatalf("%q: answer without a content type", p)
		}
		if strings.Contains(string(b), "root:x:0:0") {
			t.Fatalf("%q: served a host file", p)
		}
	})
}

func mustBuild(tb testing.TB) *fstree.Tree {
	tree, err := configdrive.Build(instance())
	if err != nil {
		tb.Fatal(err)
	}
	return tree
}
