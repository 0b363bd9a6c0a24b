// Package configdrive turns instance data into the file tree OpenStack nova
// puts on a config drive, validates it, and writes it as an ISO 9660 or vfat
// image labelled config-2.
//
// The tree matches nova's metadata_for_config_drive(): openstack/<version>/
// for every nova metadata version through 2025-04-04 plus openstack/latest,
// each with meta_data.json, user_data when there is user data,
// vendor_data.json (from 2013-10-17), network_data.json (from 2015-10-15)
// and vendor_data2.json (from 2016-10-06); openstack/content/NNNN for
// injected files; ec2/2009-04-04 and ec2/latest with meta-data.json and
// user-data. Like nova, no password file is written. An existing tree (what
// nova hands over) is accepted unchanged after the same sanity checks.
//
// Instance is the exported input type; the host daemon fills it in and calls
// Build, or passes it as JSON to `zguest-image configdrive --from-json`.
// Binary fields ([]byte) are base64 in JSON, as in nova's API.
package configdrive

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"path"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/zguest/zguest/builder/fstree"
)

// MaxUserData is the largest user data nova accepts (its API limits the
// field to 64 KiB).
const MaxUserData = 64 << 10

// ErrInvalid is wrapped by every validation error.
var ErrInvalid = errors.New("invalid instance data")

// Key is a public key as nova writes it in meta_data.json "keys".
type Key struct {
	Name string `json:"name"`
	Type string `json:"type"` // "ssh" or "x509"
	Data string `json:"data"`
}

// File is a file nova injects ("personality"): it lands in
// openstack/content/NNNN and is listed in meta_data.json "files"; cloud-init
// writes it to Path on first boot.
type File struct {
	Path     string `json:"path"`
	Contents []byte `json:"contents"`
}

// NetworkData is network_data.json.
type NetworkData struct {
	Links    []Link    `json:"links"`
	Networks []Network `json:"networks"`
	Services []Service `json:"services"`
}

// Link is one layer 2 link: a NIC (type phy or one of nova's VIF types), a
// bond or a VLAN.
type Link struct {
	ID                 string `json:"id"`
	Type               string `json:"type"`
	EthernetMACAddress string `json:"ethernet_mac_address,omitempty"`
	MTU                *int   `json:"mtu"`
	VifID              string `json:"vif_id,omitempty"`
	// Name is not in the OpenStack schema but cloud-init honours it, which
	// spares the guest matching by MAC.
	Name           string   `json:"name,omitempty"`
	BondMode       string   `json:"bond_mode,omitempty"`
	BondLinks      []string `json:"bond_links,omitempty"`
	VlanID         int      `json:"vlan_id,omitempty"`
	VlanLink       string   `json:"vlan_link,omitempty"`
	VlanMACAddress string   `json:"vlan_mac_address,omitempty"`
}

// Network is one layer 3 network on a link.
type Network struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	Link      string    `json:"link"`
	NetworkID string    `json:"network_id,omitempty"`
	IPAddress string    `json:"ip_address,omitempty"`
	Netmask   string    `json:"netmask,omitempty"`
	Routes    []Route   `json:"routes,omitempty"`
	Services  []Service `json:"services,omitempty"`
}

// Route is a static route of a network.
type Route struct {
	Network string `json:"network"`
	Netmask string `json:"netmask"`
	Gateway string `json:"gateway"`
}

// Service is a network service, in practice a DNS server.
type Service struct {
	Type    string `json:"type"`
	Address string `json:"address"`
}

// Instance is everything a config drive carries.
type Instance struct {
	UUID             string            `json:"uuid"`
	Hostname         string            `json:"hostname"`
	Name             string            `json:"name"`
	LaunchIndex      int               `json:"launch_index,omitempty"`
	AvailabilityZone string            `json:"availability_zone,omitempty"`
	ProjectID        string            `json:"project_id,omitempty"`
	Meta             map[string]string `json:"meta,omitempty"`
	Keys             []Key             `json:"keys,omitempty"`
	UserData         []byte            `json:"user_data,omitempty"`
	// VendorData is the static vendor data object (nova's StaticJSON
	// provider); empty means {}.
	VendorData json.RawMessage `json:"vendor_data,omitempty"`
	Network    *NetworkData    `json:"network,omitempty"`
	// NetworkConfig is the legacy injected network template (Debian
	// interfaces(5) text), written as the last content file.
	NetworkConfig string `json:"network_config,omitempty"`
	Files         []File `json:"files,omitempty"`
	// AdminPass goes into meta_data.json as "admin_pass", as nova's libvirt
	// and z/VM drivers do; cloud-init does not use it.
	AdminPass string `json:"admin_pass,omitempty"`
	// RandomSeed is written as base64 "random_seed" when set. Nova draws
	// 512 fresh bytes per drive; the caller must do that to stay
	// reproducible.
	RandomSeed []byte            `json:"random_seed,omitempty"`
	Devices    []json.RawMessage `json:"devices,omitempty"`

	// EC2 metadata fields (ec2/*/meta-data.json).
	EC2InstanceID  string   `json:"ec2_instance_id,omitempty"`
	ImageID        string   `json:"image_id,omitempty"`
	InstanceType   string   `json:"instance_type,omitempty"`
	ReservationID  string   `json:"reservation_id,omitempty"`
	SecurityGroups []string `json:"security_groups,omitempty"`
	LocalIPv4      string   `json:"local_ipv4,omitempty"`
	PublicIPv4     string   `json:"public_ipv4,omitempty"`
}

var (
	uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$`)
	macRE  = regexp.MustCompile(`^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$`)
)

// Link types cloud-init's convert_net_json treats as a physical NIC, plus
// bond and vlan.
var linkTypes = map[string]bool{
	"bgpovs": true, "bridge": true, "cascading": true, "dvs": true, "ethernet": true,
	"hw_veb": true, "hyperv": true, "ovs": true, "phy": true, "tap": true,
	"vhostuser": true, "vif": true, "bond": true, "vlan": true,
}

var networkTypes = map[string]bool{
	"ipv4": true, "ipv4_dhcp": true, "ipv6": true, "ipv6_dhcp": true, "ipv6_slaac": true,
	"ipv6_dhcpv6-stateful": true, "ipv6_dhcpv6-stateless": true,
}

var bondModes = map[string]bool{
	"802.3ad": true, "balance-rr": true, "active-backup": true, "balance-xor": true,
	"broadcast": true, "balance-tlb": true, "balance-alb": true,
}

// Validate checks the instance and returns every problem found, each
// wrapping ErrInvalid and naming the field.
func (in *Instance) Validate() error {
	var errs []error
	bad := func(field, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrInvalid, field, fmt.Sprintf(format, a...)))
	}
	text := func(field, s string) {
		if !utf8.ValidString(s) {
			bad(field, "not valid UTF-8")
		}
	}
	switch {
	case in.UUID == "":
		bad("uuid", "missing; cloud-init needs it as the instance id")
	case !uuidRE.MatchString(in.UUID):
		bad("uuid", "%q is not a UUID", in.UUID)
	}
	text("hostname", in.Hostname)
	text("name", in.Name)
	if strings.ContainsAny(in.Hostname, " /\x00") {
		bad("hostname", "%q contains a space, '/' or NUL", in.Hostname)
	}
	for k, v := range in.Meta {
		text("meta."+k, k)
		text("meta."+k, v)
	}
	for i, k := range in.Keys {
		f := fmt.Sprintf("keys[%d]", i)
		if k.Name == "" || k.Data == "" {
			bad(f, "name and data are required")
		}
		if k.Type != "ssh" && k.Type != "x509" {
			bad(f+".type", "%q is neither ssh nor x509", k.Type)
		}
		text(f, k.Name+k.Data)
	}
	if len(in.UserData) > MaxUserData {
		bad("user_data", "%d bytes, more than nova's limit of %d", len(in.UserData), MaxUserData)
	}
	if len(in.VendorData) > 0 {
		var obj map[string]any
		if err := json.Unmarshal(in.VendorData, &obj); err != nil {
			bad("vendor_data", "must be a JSON object: %v", err)
		}
	}
	for i, f := range in.Files {
		field := fmt.Sprintf("files[%d].path", i)
		switch {
		case !strings.HasPrefix(f.Path, "/"):
			bad(field, "%q must be an absolute path in the guest", f.Path)
		case path.Clean(f.Path) != f.Path || strings.Contains(f.Path, "/../") || strings.HasSuffix(f.Path, "/.."):
			bad(field, "%q is not a clean path", f.Path)
		case !utf8.ValidString(f.Path) || strings.ContainsRune(f.Path, 0):
			bad(field, "%q is not valid UTF-8 or contains NUL", f.Path)
		default:
			for _, c := range strings.Split(f.Path[1:], "/") {
				if len(c) > fstree.MaxNameLen {
					bad(field, "component %.20q... longer than %d bytes", c, fstree.MaxNameLen)
				}
			}
		}
	}
	if len(in.Files) > 9999 {
		bad("files", "%d files; content names have four digits", len(in.Files))
	}
	text("admin_pass", in.AdminPass)
	if in.Network != nil {
		errs = append(errs, in.Network.validate()...)
	}
	for i, d := range in.Devices {
		if !json.Valid(d) {
			bad(fmt.Sprintf("devices[%d]", i), "not valid JSON")
		}
	}
	return errors.Join(errs...)
}

func (nd *NetworkData) validate() []error {
	var errs []error
	bad := func(field, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: network.%s: %s", ErrInvalid, field, fmt.Sprintf(format, a...)))
	}
	links := map[string]*Link{}
	for i := range nd.Links {
		l := &nd.Links[i]
		f := fmt.Sprintf("links[%d]", i)
		if l.ID == "" {
			bad(f+".id", "missing")
		} else if links[l.ID] != nil {
			bad(f+".id", "%q used twice", l.ID)
		}
		links[l.ID] = l
		if !linkTypes[l.Type] {
			bad(f+".type", "unknown link type %q", l.Type)
		}
		if l.EthernetMACAddress != "" && !macRE.MatchString(l.EthernetMACAddress) {
			bad(f+".ethernet_mac_address", "%q is not a MAC address", l.EthernetMACAddress)
		}
		if l.MTU != nil && (*l.MTU < 68 || *l.MTU > 65535) {
			bad(f+".mtu", "%d out of range", *l.MTU)
		}
		switch l.Type {
		case "bond":
			if !bondModes[l.BondMode] {
				bad(f+".bond_mode", "unknown bond mode %q", l.BondMode)
			}
			if len(l.BondLinks) == 0 {
				bad(f+".bond_links", "a bond needs links")
			}
		case "vlan":
			if l.VlanID < 1 || l.VlanID > 4094 {
				bad(f+".vlan_id", "%d out of range 1-4094", l.VlanID)
			}
			if l.VlanLink == "" {
				bad(f+".vlan_link", "missing")
			}
			if l.VlanMACAddress != "" && !macRE.MatchString(l.VlanMACAddress) {
				bad(f+".vlan_mac_address", "%q is not a MAC address", l.VlanMACAddress)
			}
		default:
			if l.EthernetMACAddress == "" && l.Name == "" {
				bad(f+".ethernet_mac_address", "missing; cloud-init finds the NIC by MAC (or by the name key)")
			}
		}
	}
	for i, l := range nd.Links {
		for _, b := range l.BondLinks {
			if links[b] == nil {
				bad(fmt.Sprintf("links[%d].bond_links", i), "unknown link %q", b)
			}
		}
		if l.VlanLink != "" && links[l.VlanLink] == nil {
			bad(fmt.Sprintf("links[%d].vlan_link", i), "unknown link %q", l.VlanLink)
		}
	}
	ids := map[string]bool{}
	for i, n := range nd.Networks {
		f := fmt.Sprintf("networks[%d]", i)
		if n.ID == "" || ids[n.ID] {
			bad(f+".id", "missing or used twice: %q", n.ID)
		}
		ids[n.ID] = true
		if !networkTypes[n.Type] {
			bad(f+".type", "unknown network type %q", n.Type)
		}
		if links[n.Link] == nil {
			bad(f+".link", "unknown link %q", n.Link)
		}
		if n.Type == "ipv4" || n.Type == "ipv6" {
			if net.ParseIP(n.IPAddress) == nil {
				bad(f+".ip_address", "%q is not an IP address", n.IPAddress)
			}
			if n.Netmask != "" && net.ParseIP(n.Netmask) == nil {
				bad(f+".netmask", "%q is not a netmask", n.Netmask)
			}
		}
		for j, r := range n.Routes {
			if net.ParseIP(r.Network) == nil || net.ParseIP(r.Netmask) == nil || net.ParseIP(r.Gateway) == nil {
				bad(fmt.Sprintf("%s.routes[%d]", f, j), "network, netmask and gateway must be IP addresses")
			}
		}
		for j, s := range n.Services {
			if s.Type != "dns" || net.ParseIP(s.Address) == nil {
				bad(fmt.Sprintf("%s.services[%d]", f, j), "want type dns with an IP address, got %q %q", s.Type, s.Address)
			}
		}
	}
	for j, s := range nd.Services {
		if s.Type != "dns" || net.ParseIP(s.Address) == nil {
			bad(fmt.Sprintf("services[%d]", j), "want type dns with an IP address, got %q %q", s.Type, s.Address)
		}
	}
	return errs
}
