package configdrive

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/zguest/zguest/builder/fstree"
)

// OpenStack metadata versions nova writes to a config drive, oldest first
// (nova/api/metadata/base.py). "latest" is a copy of the newest.
var OpenStackVersions = []string{
	"2012-08-10", // Folsom
	"2013-04-04", // Grizzly: random_seed
	"2013-10-17", // Havana: vendor_data.json
	"2015-10-15", // Liberty: network_data.json, project_id
	"2016-06-30", // Newton one: devices
	"2016-10-06", // Newton two: vendor_data2.json
	"2017-02-22", // Ocata
	"2018-08-27", // Rocky
	"2020-10-14", // Victoria: dedicated_cpus
	"2025-04-04", // Epoxy
}

// EC2Versions are the EC2 metadata versions on a default nova config drive:
// [api] config_drive_skip_versions skips every older one by default.
var EC2Versions = []string{"2009-04-04"}

type fileRef struct {
	Path        string `json:"path"`
	ContentPath string `json:"content_path"`
}

type contentRef struct {
	Name        string `json:"name"`
	ContentPath string `json:"content_path"`
}

// metaData is meta_data.json; field order follows nova's output.
type metaData struct {
	RandomSeed       string             `json:"random_seed,omitempty"`
	UUID             string             `json:"uuid"`
	AvailabilityZone string             `json:"availability_zone"`
	Keys             []Key              `json:"keys,omitempty"`
	Hostname         string             `json:"hostname"`
	LaunchIndex      int                `json:"launch_index"`
	Devices          *[]json.RawMessage `json:"devices,omitempty"`
	Meta             map[string]string  `json:"meta,omitempty"`
	PublicKeys       map[string]string  `json:"public_keys,omitempty"`
	ProjectID        *string            `json:"project_id,omitempty"`
	Name             string             `json:"name"`
	Files            []fileRef          `json:"files,omitempty"`
	NetworkConfig    *contentRef        `json:"network_config,omitempty"`
	AdminPass        string             `json:"admin_pass,omitempty"`
	DedicatedCPUs    *[]int             `json:"dedicated_cpus,omitempty"`
}

func marshal(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err) // only our own plain types are marshalled here
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

func (in *Instance) metaData(version string) []byte {
	md := metaData{
		UUID:             in.UUID,
		AvailabilityZone: in.AvailabilityZone,
		Hostname:         in.Hostname,
		LaunchIndex:      in.LaunchIndex,
		Name:             in.Name,
		AdminPass:        in.AdminPass,
	}
	if len(in.Meta) > 0 {
		md.Meta = in.Meta
	}
	if len(in.Keys) > 0 {
		md.Keys = in.Keys
		md.PublicKeys = map[string]string{}
		for _, k := range in.Keys {
			md.PublicKeys[k.Name] = k.Data
		}
	}
	for i, f := range in.Files {
		md.Files = append(md.Files, fileRef{Path: f.Path, ContentPath: fmt.Sprintf("/content/%04d", i)})
	}
	if in.NetworkConfig != "" {
		md.NetworkConfig = &contentRef{Name: "network_config", ContentPath: fmt.Sprintf("/content/%04d", len(in.Files))}
	}
	if version >= "2013-04-04" && len(in.RandomSeed) > 0 {
		md.RandomSeed = base64.StdEncoding.EncodeToString(in.RandomSeed)
	}
	if version >= "2015-10-15" {
		p := in.ProjectID
		md.ProjectID = &p
	}
	if version >= "2016-06-30" {
		d := in.Devices
		if d == nil {
			d = []json.RawMessage{}
		}
		md.Devices = &d
	}
	if version >= "2020-10-14" {
		c := []int{}
		md.DedicatedCPUs = &c
	}
	return marshal(md)
}

func (in *Instance) ec2MetaData() []byte {
	id := in.EC2InstanceID
	if id == "" {
		// guess: nova maps the uuid to an integer database id ("i-%08x");
		// without a database the first eight hex digits of the uuid stand in.
		id = "i-" + strings.ToLower(strings.ReplaceAll(in.UUID, "-", ""))[:8]
	}
	keys := map[string]map[string]string{}
	if len(in.Keys) > 0 {
		keys["0"] = map[string]string{"openssh-key": in.Keys[0].Data}
	}
	groups := in.SecurityGroups
	if groups == nil {
		groups = []string{}
	}
	// guess: nova fills block-device-mapping from the instance's block
	// device records; a virtio root disk is "vda" on KVM.
	md := map[string]any{
		"ami-id":               in.ImageID,
		"ami-launch-index":     in.LaunchIndex,
		"ami-manifest-path":    "FIXME",
		"block-device-mapping": map[string]string{"ami": "vda", "root": "/dev/vda"},
		"hostname":             in.Hostname,
		"instance-action":      "none",
		"instance-id":          id,
		"instance-type":        in.InstanceType,
		"local-hostname":       in.Hostname,
		"local-ipv4":           nullable(in.LocalIPv4),
		"placement":            map[string]string{"availability-zone": in.AvailabilityZone},
		"public-hostname":      in.Hostname,
		"public-ipv4":          in.PublicIPv4,
		"public-keys":          keys,
		"reservation-id":       in.ReservationID,
		"security-groups":      groups,
	}
	return marshal(md)
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Build validates in and returns nova's config drive tree for it.
func Build(in *Instance) (*fstree.Tree, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	t := fstree.New()
	add := func(p string, b []byte) error { return t.AddBytes(p, b) }

	vendor := []byte("{}")
	if len(in.VendorData) > 0 {
		var obj map[string]any
		_ = json.Unmarshal(in.VendorData, &obj) // validated above
		vendor = marshal(obj)
	}
	vendor2 := marshal(map[string]json.RawMessage{"static": vendor})
	network := []byte("{}")
	if in.Network != nil {
		nd := *in.Network
		if nd.Links == nil {
			nd.Links = []Link{}
		}
		if nd.Networks == nil {
			nd.Networks = []Network{}
		}
		if nd.Services == nil {
			nd.Services = []Service{}
		}
		network = marshal(nd)
	}
	versions := append(append([]string(nil), OpenStackVersions...), "latest")
	newest := OpenStackVersions[len(OpenStackVersions)-1]
	var errs []error
	for _, v := range versions {
		eff := v
		if v == "latest" {
			eff = newest
		}
		dir := "openstack/" + v + "/"
		errs = append(errs, add(dir+"meta_data.json", in.metaData(eff)))
		if in.UserData != nil {
			errs = append(errs, add(dir+"user_data", in.UserData))
		}
		if eff >= "2013-10-17" {
			errs = append(errs, add(dir+"vendor_data.json", vendor))
		}
		if eff >= "2015-10-15" {
			errs = append(errs, add(dir+"network_data.json", network))
		}
		if eff >= "2016-10-06" {
			errs = append(errs, add(dir+"vendor_data2.json", vendor2))
		}
	}
	for i, f := range in.Files {
		errs = append(errs, add(fmt.Sprintf("openstack/content/%04d", i), f.Contents))
	}
	if in.NetworkConfig != "" {
		errs = append(errs, add(fmt.Sprintf("openstack/content/%04d", len(in.Files)), []byte(in.NetworkConfig)))
	}
	ec2 := in.ec2MetaData()
	for _, v := range append(append([]string(nil), EC2Versions...), "latest") {
		errs = append(errs, add("ec2/"+v+"/meta-data.json", ec2))
		if in.UserData != nil {
			errs = append(errs, add("ec2/"+v+"/user-data", in.UserData))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	t.Sort()
	return t, nil
}

// CheckTree checks a tree handed over as a directory: cloud-init needs at
// least one openstack/<version>/meta_data.json with a uuid, and user data
// must stay within nova's limit. The tree itself is not changed.
func CheckTree(t *fstree.Tree) error {
	os := t.Lookup("openstack")
	if os == nil || !os.Dir {
		return fmt.Errorf("%w: no openstack/ directory", ErrInvalid)
	}
	found := false
	for _, v := range os.Children {
		if !v.Dir || v.Name == "content" {
			continue
		}
		p := "openstack/" + v.Name + "/meta_data.json"
		b, err := t.ReadFile(p, 1<<20)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		var md struct {
			UUID string `json:"uuid"`
		}
		if err := json.Unmarshal(b, &md); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrInvalid, p, err)
		}
		if md.UUID == "" {
			return fmt.Errorf("%w: %s: uuid missing; cloud-init needs it as the instance id", ErrInvalid, p)
		}
		found = true
		if ud := t.Lookup("openstack/" + v.Name + "/user_data"); ud != nil && ud.Size > MaxUserData {
			return fmt.Errorf("%w: openstack/%s/user_data: %d bytes, more than nova's limit of %d", ErrInvalid, v.Name, ud.Size, MaxUserData)
		}
	}
	if !found {
		return fmt.Errorf("%w: no openstack/<version>/meta_data.json", ErrInvalid)
	}
	return nil
}
