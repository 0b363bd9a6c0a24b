package hmcsim

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Inventory is what the simulated HMC manages, loaded from YAML
// (testdata/hmc/*.yaml). Field names follow the HMC property names.
type Inventory struct {
	// User and Password are the only credentials Logon accepts.
	User     string `yaml:"user"`
	Password string `yaml:"password"`
	// HMCName and HMCVersion are reported by GET /api/version.
	HMCName    string `yaml:"hmc-name"`
	HMCVersion string `yaml:"hmc-version"`
	// APIVersion is the HMC WS API version "major.minor", e.g. "2.20"
	// (HMC 2.14.0, z14: NIC mac-address writable) or "2.13" (z13 class:
	// mac-address read-only). Writable iff >= 2.20.
	APIVersion string `yaml:"api-version"`
	CPCs       []CPC  `yaml:"cpcs"`
}

// CPC is one managed system.
type CPC struct {
	ObjectID   string `yaml:"object-id"`
	Name       string `yaml:"name"`
	DPMEnabled bool   `yaml:"dpm-enabled"`
	// Status defaults to "active".
	Status            string `yaml:"status"`
	SEVersion         string `yaml:"se-version"`
	MachineType       string `yaml:"machine-type"`
	ProcessorCountIFL int    `yaml:"processor-count-ifl"`
	StorageCustomer   int    `yaml:"storage-customer"` // MiB
	// StorageManagement is the "dpm-storage-management" feature (z14 and
	// later): FCP storage through storage groups, no HBAs on partitions.
	StorageManagement bool             `yaml:"dpm-storage-management"`
	Adapters          []Adapter        `yaml:"adapters"`
	VirtualSwitches   []VirtualSwitch  `yaml:"virtual-switches"`
	StorageGroups     []StorageGroupIn `yaml:"storage-groups"`
}

// Adapter is an I/O adapter. Type is "osd", "hipersockets", "fcp",
// "roce" (HMC type names); Ports is the number of ports (default 1 for
// hipersockets and fcp... see defaults).
type Adapter struct {
	ObjectID  string `yaml:"object-id"`
	Name      string `yaml:"name"`
	AdapterID string `yaml:"adapter-id"` // PCHID/CHPID, e.g. "128"
	Type      string `yaml:"type"`
	Ports     int    `yaml:"ports"`
	// WWPNPrefix (fcp only) is the 10-hex-digit prefix for generated
	// HBA WWPNs; default "C05076FFE5".
	WWPNPrefix string `yaml:"wwpn-prefix"`
}

// VirtualSwitch is backed by one port of an osd/hipersockets adapter.
type VirtualSwitch struct {
	ObjectID string `yaml:"object-id"`
	Name     string `yaml:"name"`
	Adapter  string `yaml:"adapter"` // adapter object-id
	Port     int    `yaml:"port"`
}

// StorageGroupIn is an FCP storage group (dpm-storage-management).
type StorageGroupIn struct {
	ObjectID string          `yaml:"object-id"`
	Name     string          `yaml:"name"`
	Type     string          `yaml:"type"` // default "fcp"
	Volumes  []StorageVolume `yaml:"volumes"`
}

// StorageVolume is a volume of a storage group.
type StorageVolume struct {
	ObjectID string `yaml:"object-id"`
	Name     string `yaml:"name"`
	Size     int    `yaml:"size"`  // GiB
	Usage    string `yaml:"usage"` // "boot" or "data" (default)
	UUID     string `yaml:"uuid"`
}

var (
	reAPIVersion = regexp.MustCompile(`^[0-9]+\.[0-9]+$`)
	reObjectID   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
)

// LoadInventoryFile reads and validates an inventory YAML file.
func LoadInventoryFile(path string) (*Inventory, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("hmcsim: inventory: %w", err)
	}
	inv, err := ParseInventory(b)
	if err != nil {
		return nil, fmt.Errorf("hmcsim: inventory %s: %w", path, err)
	}
	return inv, nil
}

// ParseInventory decodes and validates inventory YAML. Unknown keys are
// errors, so a typo does not silently drop a resource.
func ParseInventory(b []byte) (*Inventory, error) {
	var inv Inventory
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&inv); err != nil {
		return nil, fmt.Errorf("bad YAML: %w", err)
	}
	if err := inv.normalize(); err != nil {
		return nil, err
	}
	return &inv, nil
}

func (inv *Inventory) normalize() error {
	if inv.User == "" || inv.Password == "" {
		return fmt.Errorf("user and password are required")
	}
	if inv.APIVersion == "" {
		inv.APIVersion = "2.20"
	}
	if !reAPIVersion.MatchString(inv.APIVersion) {
		return fmt.Errorf("api-version %q: want MAJOR.MINOR", inv.APIVersion)
	}
	if inv.HMCName == "" {
		inv.HMCName = "HMCSIM"
	}
	if inv.HMCVersion == "" {
		inv.HMCVersion = "2.14.0"
	}
	if len(inv.CPCs) == 0 {
		return fmt.Errorf("no cpcs")
	}
	ids := map[string]string{}
	claim := func(kind, id string) error {
		if !reObjectID.MatchString(id) {
			return fmt.Errorf("%s object-id %q: missing or not a plain identifier", kind, id)
		}
		if prev, ok := ids[id]; ok {
			return fmt.Errorf("%s object-id %q already used by a %s", kind, id, prev)
		}
		ids[id] = kind
		return nil
	}
	for ci := range inv.CPCs {
		c := &inv.CPCs[ci]
		if err := claim("cpc", c.ObjectID); err != nil {
			return err
		}
		if c.Name == "" {
			return fmt.Errorf("cpc %s: name is required", c.ObjectID)
		}
		if c.Status == "" {
			c.Status = "active"
		}
		if c.SEVersion == "" {
			c.SEVersion = "2.14.0"
		}
		if c.ProcessorCountIFL == 0 {
			c.ProcessorCountIFL = 16
		}
		if c.StorageCustomer == 0 {
			c.StorageCustomer = 256 * 1024
		}
		ads := map[string]*Adapter{}
		for ai := range c.Adapters {
			a := &c.Adapters[ai]
			if err := claim("adapter", a.ObjectID); err != nil {
				return err
			}
			switch a.Type {
			case "osd", "hipersockets", "fcp", "roce":
			default:
				return fmt.Errorf("adapter %s: type %q: want osd, hipersockets, fcp or roce", a.ObjectID, a.Type)
			}
			if a.Ports == 0 {
				a.Ports = 1
				if a.Type == "osd" || a.Type == "roce" {
					a.Ports = 2
				}
			}
			if a.Ports < 0 || a.Ports > 4 {
				return fmt.Errorf("adapter %s: ports %d: want 1-4", a.ObjectID, a.Ports)
			}
			if a.Name == "" {
				a.Name = a.Type + " " + a.ObjectID
			}
			if a.WWPNPrefix == "" {
				a.WWPNPrefix = "C05076FFE5"
			}
			a.WWPNPrefix = strings.ToUpper(a.WWPNPrefix)
			if _, err := strconv.ParseUint(a.WWPNPrefix, 16, 64); err != nil || len(a.WWPNPrefix) != 10 {
				return fmt.Errorf("adapter %s: wwpn-prefix %q: want 10 hex digits", a.ObjectID, a.WWPNPrefix)
			}
			ads[a.ObjectID] = a
		}
		for vi := range c.VirtualSwitches {
			v := &c.VirtualSwitches[vi]
			if err := claim("virtual switch", v.ObjectID); err != nil {
				return err
			}
			a, ok := ads[v.Adapter]
			if !ok {
				return fmt.Errorf("virtual switch %s: adapter %q is not an adapter of cpc %s", v.ObjectID, v.Adapter, c.ObjectID)
			}
			if a.Type != "osd" && a.Type != "hipersockets" {
				return fmt.Errorf("virtual switch %s: adapter %s has type %s, want osd or hipersockets", v.ObjectID, a.ObjectID, a.Type)
			}
			if v.Port < 0 || v.Port >= a.Ports {
				return fmt.Errorf("virtual switch %s: port %d: adapter %s has %d ports", v.ObjectID, v.Port, a.ObjectID, a.Ports)
			}
			if v.Name == "" {
				v.Name = fmt.Sprintf("%s.%d", a.Name, v.Port)
			}
		}
		if len(c.StorageGroups) > 0 && !c.StorageManagement {
			return fmt.Errorf("cpc %s: storage-groups need dpm-storage-management: true", c.ObjectID)
		}
		for si := range c.StorageGroups {
			g := &c.StorageGroups[si]
			if err := claim("storage group", g.ObjectID); err != nil {
				return err
			}
			if g.Name == "" {
				return fmt.Errorf("storage group %s: name is required", g.ObjectID)
			}
			if g.Type == "" {
				g.Type = "fcp"
			}
			for vi := range g.Volumes {
				v := &g.Volumes[vi]
				if err := claim("storage volume", v.ObjectID); err != nil {
					return err
				}
				if v.Usage == "" {
					v.Usage = "data"
				}
				if v.Usage != "boot" && v.Usage != "data" {
					return fmt.Errorf("storage volume %s: usage %q: want boot or data", v.ObjectID, v.Usage)
				}
				if v.Name == "" {
					v.Name = v.ObjectID
				}
			}
		}
	}
	return nil
}

// macWritable reports whether the API version allows writing a NIC's
// mac-address (API 2.20 / HMC 2.14.0 and later).
func (inv *Inventory) macWritable() bool {
	maj, min := inv.apiVersion()
	return maj > 2 || (maj == 2 && min >= 20)
}

func (inv *Inventory) apiVersion() (int, int) {
	a, b, _ := strings.Cut(inv.APIVersion, ".")
	maj, _ := strconv.Atoi(a)
	min, _ := strconv.Atoi(b)
	return maj, min
}
