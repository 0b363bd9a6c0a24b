package kvm

import (
	"encoding/xml"
	"fmt"
	"strings"
)

// The libvirt domain XML this backend writes, as typed structures
// (https://libvirt.org/formatdomain.html). Only the elements we set are
// modelled; libvirt fills in the rest (machine version, clock, panic
// device, console ports) and reading a domain back ignores what is not
// modelled here.

// Domain is <domain>.
type Domain struct {
	XMLName    xml.Name  `xml:"domain"`
	Type       string    `xml:"type,attr"` // kvm or qemu (TCG)
	Name       string    `xml:"name"`
	UUID       string    `xml:"uuid,omitempty"`
	Metadata   *Metadata `xml:"metadata"`
	Memory     Memory    `xml:"memory"`
	VCPU       int       `xml:"vcpu"`
	OS         OS        `xml:"os"`
	CPU        *CPU      `xml:"cpu"`
	OnPoweroff string    `xml:"on_poweroff,omitempty"`
	OnReboot   string    `xml:"on_reboot,omitempty"`
	OnCrash    string    `xml:"on_crash,omitempty"`
	Devices    Devices   `xml:"devices"`
}

// Metadata is <metadata>; it carries zguest's own element.
type Metadata struct {
	Guest *GuestMeta
}

// Memory is <memory unit='MiB'>.
type Memory struct {
	Unit  string `xml:"unit,attr"`
	Value int    `xml:",chardata"`
}

// OS is <os>.
type OS struct {
	Type OSType `xml:"type"`
	Boot []Boot `xml:"boot"`
}

// OSType is <os><type arch machine>hvm</type>.
type OSType struct {
	Arch    string `xml:"arch,attr"`
	Machine string `xml:"machine,attr"`
	Value   string `xml:",chardata"`
}

// Boot is <boot dev='hd'/>.
type Boot struct {
	Dev string `xml:"dev,attr"`
}

// CPU is <cpu>: mode host-model, host-passthrough, maximum, or custom
// with a model.
type CPU struct {
	Mode  string    `xml:"mode,attr"`
	Match string    `xml:"match,attr,omitempty"`
	Check string    `xml:"check,attr,omitempty"`
	Model *CPUModel `xml:"model"`
}

// CPUModel is <cpu><model fallback>name</model>.
type CPUModel struct {
	Fallback string `xml:"fallback,attr,omitempty"`
	Name     string `xml:",chardata"`
}

// Devices is <devices>.
type Devices struct {
	Emulator    string       `xml:"emulator,omitempty"`
	Disks       []Disk       `xml:"disk"`
	Controllers []Controller `xml:"controller"`
	Interfaces  []Interface  `xml:"interface"`
	Consoles    []Console    `xml:"console"`
	MemBalloon  *MemBalloon  `xml:"memballoon"`
}

// Disk is <disk type='file' device='disk|cdrom'>.
type Disk struct {
	Type     string      `xml:"type,attr"`
	Device   string      `xml:"device,attr"`
	Driver   DiskDriver  `xml:"driver"`
	Source   DiskSource  `xml:"source"`
	Target   DiskTarget  `xml:"target"`
	ReadOnly *struct{}   `xml:"readonly"`
	Serial   string      `xml:"serial,omitempty"`
	Address  *Address    `xml:"address"`
	Boot     *DeviceBoot `xml:"boot"`
}

// DiskDriver is <driver name='qemu' type='qcow2'/>.
type DiskDriver struct {
	Name  string `xml:"name,attr"`
	Type  string `xml:"type,attr"`
	Cache string `xml:"cache,attr,omitempty"`
}

// DiskSource is <source file=.../>.
type DiskSource struct {
	File string `xml:"file,attr"`
}

// DiskTarget is <target dev bus/>.
type DiskTarget struct {
	Dev string `xml:"dev,attr"`
	Bus string `xml:"bus,attr"`
}

// DeviceBoot is a device's <boot order/>.
type DeviceBoot struct {
	Order int `xml:"order,attr"`
}

// Address is a device address: type ccw (cssid, ssid, devno) or drive
// (controller, bus, target, unit).
type Address struct {
	Type       string `xml:"type,attr"`
	CSSID      string `xml:"cssid,attr,omitempty"`
	SSID       string `xml:"ssid,attr,omitempty"`
	DevNo      string `xml:"devno,attr,omitempty"`
	Controller string `xml:"controller,attr,omitempty"`
	Bus        string `xml:"bus,attr,omitempty"`
	Target     string `xml:"target,attr,omitempty"`
	Unit       string `xml:"unit,attr,omitempty"`
}

// Controller is <controller type='scsi' model='virtio-scsi'>.
type Controller struct {
	Type    string   `xml:"type,attr"`
	Index   int      `xml:"index,attr"`
	Model   string   `xml:"model,attr,omitempty"`
	Address *Address `xml:"address"`
}

// Interface is <interface type='user|network|bridge|direct'>.
type Interface struct {
	Type    string           `xml:"type,attr"`
	MAC     InterfaceMAC     `xml:"mac"`
	Source  *InterfaceSource `xml:"source"`
	Model   InterfaceModel   `xml:"model"`
	Link    *InterfaceLink   `xml:"link"`
	Address *Address         `xml:"address"`
}

// InterfaceMAC is <mac address/>.
type InterfaceMAC struct {
	Address string `xml:"address,attr"`
}

// InterfaceSource is <source network|bridge|dev mode/>.
type InterfaceSource struct {
	Network string `xml:"network,attr,omitempty"`
	Bridge  string `xml:"bridge,attr,omitempty"`
	Dev     string `xml:"dev,attr,omitempty"`
	Mode    string `xml:"mode,attr,omitempty"`
}

// InterfaceModel is <model type='virtio'/>.
type InterfaceModel struct {
	Type string `xml:"type,attr"`
}

// InterfaceLink is <link state='up|down'/>.
type InterfaceLink struct {
	State string `xml:"state,attr"`
}

// Console is <console type='pty|file'>.
type Console struct {
	Type   string         `xml:"type,attr"`
	Source *ConsoleSource `xml:"source"`
	Log    *ConsoleLog    `xml:"log"`
	Target ConsoleTarget  `xml:"target"`
}

// ConsoleSource is a file console's <source path append/>.
type ConsoleSource struct {
	Path   string `xml:"path,attr,omitempty"`
	Append string `xml:"append,attr,omitempty"`
}

// ConsoleLog is <log file append/>: a copy of a pty console's output.
type ConsoleLog struct {
	File   string `xml:"file,attr"`
	Append string `xml:"append,attr,omitempty"`
}

// ConsoleTarget is <target type='sclp|sclplm'/>.
type ConsoleTarget struct {
	Type string `xml:"type,attr"`
	Port *int   `xml:"port,attr"`
}

// MemBalloon is <memballoon model='none'/>.
type MemBalloon struct {
	Model string `xml:"model,attr"`
}

// MetaNS is the XML namespace of zguest's <metadata> element; the
// element is written with the prefix MetaPrefix.
const (
	MetaNS     = "https://github.com/zguest/zguest/xmlns/kvm/1"
	MetaPrefix = "zguest"
)

// GuestMeta is zguest's record of a guest, kept in the domain's
// <metadata> so that a restarted daemon knows its guests from libvirt
// alone. Paths are absolute; device numbers are 4 lower-case hex digits.
type GuestMeta struct {
	UserID   string `xml:"userid"`
	VCPUs    int    `xml:"vcpus"`
	MemoryMB int    `xml:"memory"`            // MiB
	Created  string `xml:"created,omitempty"` // RFC 3339
	Image    string `xml:"image,omitempty"`   // deployed image name
	Dir      string `xml:"dir"`               // the guest's storage directory
	RootSize int64  `xml:"rootsize,omitempty"`
	Root     string `xml:"root,omitempty"` // root disk file once deployed
	Base     string `xml:"base,omitempty"` // the image the root disk is an overlay on
	Drive    string `xml:"drive,omitempty"`
	// Hostname is set when the daemon built the config drive (deploy
	// without transportfiles): the drive is then rebuilt when NICs change.
	Hostname string     `xml:"hostname,omitempty"`
	Disks    []MetaDisk `xml:"disk"`
	NICs     []MetaNIC  `xml:"nic"`
}

// MetaDisk is a data disk made at create from disk_list.
type MetaDisk struct {
	DevNo string `xml:"devno,attr"`
	File  string `xml:"file,attr"`
	Size  int64  `xml:"size,attr"`
}

// MetaNIC is one NIC: device number, MAC, nova's port id, the network
// source it is coupled to ("" = the configured default) and whether it
// is coupled (link up).
type MetaNIC struct {
	DevNo   string `xml:"devno,attr"`
	MAC     string `xml:"mac,attr"`
	NICID   string `xml:"nicid,attr,omitempty"`
	Source  string `xml:"source,attr,omitempty"`
	Coupled bool   `xml:"coupled,attr"`
	// Static IPv4 configuration from the interface request, for a config
	// drive the daemon builds: address/prefix, gateway, DNS servers
	// (space separated), MTU (0: default).
	IP      string `xml:"ip,attr,omitempty"`
	Gateway string `xml:"gateway,attr,omitempty"`
	DNS     string `xml:"dns,attr,omitempty"`
	MTU     int    `xml:"mtu,attr,omitempty"`
}

// MarshalXML writes <metadata> with zguest's element under its prefix
// (libvirt keeps custom metadata only in a namespace of its own, and
// writes it back with the prefix it was given).
func (m *Metadata) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	if err := e.EncodeToken(start); err != nil {
		return err
	}
	if m.Guest != nil {
		type plain GuestMeta // no methods: default encoding of the fields
		g := struct {
			XMLName xml.Name
			NS      string `xml:"xmlns:zguest,attr"`
			plain
		}{XMLName: xml.Name{Local: MetaPrefix + ":guest"}, NS: MetaNS, plain: plain(*m.Guest)}
		if err := e.Encode(g); err != nil {
			return err
		}
	}
	return e.EncodeToken(start.End())
}

// UnmarshalXML reads <metadata>, keeping zguest's element and skipping
// any other application's.
func (m *Metadata) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	for {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Space == MetaNS && t.Name.Local == "guest" {
				var g GuestMeta
				if err := d.DecodeElement(&g, &t); err != nil {
					return err
				}
				m.Guest = &g
				continue
			}
			if err := d.Skip(); err != nil {
				return err
			}
		case xml.EndElement:
			return nil
		}
	}
}

// Marshal renders the domain as indented XML.
func (d *Domain) Marshal() ([]byte, error) {
	b, err := xml.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("domain %s: render XML: %w", d.Name, err)
	}
	return append(b, '\n'), nil
}

// ParseDomain reads a domain's XML as libvirt returns it.
func ParseDomain(s string) (*Domain, error) {
	var d Domain
	if err := xml.NewDecoder(strings.NewReader(s)).Decode(&d); err != nil {
		return nil, fmt.Errorf("domain XML: %w", err)
	}
	return &d, nil
}

// ParseGuestMeta reads zguest's metadata from a domain's XML and checks
// it; a domain without it is not ours (ok false).
func ParseGuestMeta(s string) (g *GuestMeta, ok bool, err error) {
	d, err := ParseDomain(s)
	if err != nil {
		return nil, false, err
	}
	if d.Metadata == nil || d.Metadata.Guest == nil {
		return nil, false, nil
	}
	g = d.Metadata.Guest
	if err := g.check(); err != nil {
		return nil, true, fmt.Errorf("domain %s: zguest metadata: %w", d.Name, err)
	}
	return g, true, nil
}

// check validates metadata read back from libvirt, which anyone with
// access to libvirt can change: paths must be absolute and clean, device
// numbers and MACs well formed.
func (g *GuestMeta) check() error {
	if !userIDRE.MatchString(g.UserID) {
		return fmt.Errorf("userid %q: want 1-8 upper-case letters and digits", g.UserID)
	}
	for name, p := range map[string]string{"dir": g.Dir, "root": g.Root, "base": g.Base, "drive": g.Drive} {
		if p == "" && name != "dir" {
			continue
		}
		if err := checkPath(p); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	if g.VCPUs < 1 || g.VCPUs > 4096 || g.MemoryMB < 1 || g.MemoryMB > 1<<24 {
		return fmt.Errorf("vcpus %d, memory %d MiB: out of range", g.VCPUs, g.MemoryMB)
	}
	if g.Hostname != "" && !hostnameOK(g.Hostname) {
		return fmt.Errorf("hostname %q: bad", g.Hostname)
	}
	if g.RootSize < 0 {
		return fmt.Errorf("rootsize %d: negative", g.RootSize)
	}
	seen := map[string]bool{}
	for _, d := range g.Disks {
		if _, err := parseDevNo(d.DevNo); err != nil || seen[d.DevNo] {
			return fmt.Errorf("disk devno %q: bad or duplicate", d.DevNo)
		}
		seen[d.DevNo] = true
		if err := checkPath(d.File); err != nil || d.Size <= 0 {
			return fmt.Errorf("disk %s: file %q size %d: bad", d.DevNo, d.File, d.Size)
		}
	}
	for _, n := range g.NICs {
		if _, err := parseDevNo(n.DevNo); err != nil || seen[n.DevNo] {
			return fmt.Errorf("nic devno %q: bad or duplicate", n.DevNo)
		}
		seen[n.DevNo] = true
		if _, err := parseMAC(n.MAC); err != nil {
			return fmt.Errorf("nic %s: %w", n.DevNo, err)
		}
		if n.Source != "" && !sourceRE.MatchString(n.Source) {
			return fmt.Errorf("nic %s: source %q: bad name", n.DevNo, n.Source)
		}
		if _, err := staticIP(n.IP, n.Gateway, n.DNS, n.MTU); err != nil {
			return fmt.Errorf("nic %s: %w", n.DevNo, err)
		}
	}
	return nil
}

func (g *GuestMeta) vcpus() int    { return g.VCPUs }
func (g *GuestMeta) memoryMB() int { return g.MemoryMB }
