// Package api serves the REST API of the z/VM cloud connector (the routes,
// JSON bodies and response envelope nova's in-tree z/VM driver uses) over
// any hypervisor backend. The backend is the Backend interface below,
// declared here by its consumer; hostside/zvm implements it for z/VM, and
// later backends (DPM, KVM) implement the same interface.
package api

import "context"

// Backend is one hypervisor host. Every method is called with a userid
// already validated (1-8 alphanumerics) and upper-cased. Errors should be
// *Error values (or wrap one) so that the envelope carries the original's
// overallRC, modID, rc and rs; any other error becomes overallRC 500.
// Calls for one userid are serialized by the caller; calls for different
// userids may run in parallel.
type Backend interface {
	HostInfo(ctx context.Context) (HostInfo, error)
	ListGuests(ctx context.Context) ([]string, error)
	CreateGuest(ctx context.Context, g GuestSpec) ([]Disk, error)
	DeleteGuest(ctx context.Context, userid string) error
	GuestInfo(ctx context.Context, userid string) (GuestInfo, error)
	PowerState(ctx context.Context, userid string) (string, error) // "on" or "off"
	// Action runs start, stop, softstop, reboot, reset, pause, unpause.
	Action(ctx context.Context, userid string, a PowerAction) error
	ConsoleOutput(ctx context.Context, userid string) (string, error)
	Deploy(ctx context.Context, userid string, d DeploySpec) error
	ConfigMinidisks(ctx context.Context, userid string, disks []Disk) error
	CreateNetworkInterface(ctx context.Context, userid string, n InterfaceSpec) ([]GuestNetwork, error)
	DeleteNetworkInterface(ctx context.Context, userid string, osVersion, vdev string, active bool) error
	CreateNIC(ctx context.Context, userid string, n NICSpec) (NICSpec, error)
	CoupleNIC(ctx context.Context, userid, vdev string, c Couple) error
	DeleteNIC(ctx context.Context, userid, vdev string, active bool) error
	ImportImage(ctx context.Context, im ImageImport) error
	QueryImages(ctx context.Context, name string) ([]Image, error) // name "" lists all
	DeleteImage(ctx context.Context, name string) error
	ImageRootDiskSize(ctx context.Context, name string) (string, error) // "3338"
}

// HostInfo is GET /host's output.
type HostInfo struct {
	HypervisorHostname string  `json:"hypervisor_hostname"`
	HypervisorType     string  `json:"hypervisor_type"`
	HypervisorVersion  int     `json:"hypervisor_version"`
	VCPUs              int     `json:"vcpus"`
	VCPUsUsed          float64 `json:"vcpus_used"`
	MemoryMB           int     `json:"memory_mb"`
	MemoryMBUsed       float64 `json:"memory_mb_used"`
	DiskTotal          int     `json:"disk_total"`
	DiskUsed           int     `json:"disk_used"`
	DiskAvailable      int     `json:"disk_available"`
	IPLTime            string  `json:"ipl_time"`
	CPUInfo            CPUInfo `json:"cpu_info"`
	ZVMHost            string  `json:"zvm_host"`
	ZCCUserID          string  `json:"zcc_userid"`
}

// CPUInfo is part of HostInfo.
type CPUInfo struct {
	CECModel     string `json:"cec_model"`
	Architecture string `json:"architecture"`
}

// GuestSpec is POST /guests' "guest" object.
type GuestSpec struct {
	UserID        string   `json:"userid"`
	VCPUs         int      `json:"vcpus"`
	Memory        int      `json:"memory"` // MB
	DiskList      []Disk   `json:"disk_list,omitempty"`
	UserProfile   string   `json:"user_profile,omitempty"`
	MaxCPU        int      `json:"max_cpu,omitempty"`
	MaxMem        string   `json:"max_mem,omitempty"` // "16G"
	IPLFrom       string   `json:"ipl_from,omitempty"`
	IPLParam      string   `json:"ipl_param,omitempty"`
	IPLLoadparm   string   `json:"ipl_loadparam,omitempty"`
	DedicateVdevs []string `json:"dedicate_vdevs,omitempty"`
	Account       string   `json:"account,omitempty"`
	Comments      []string `json:"comments,omitempty"`
}

// Disk is one minidisk of disk_list (sizes like "10g", "512m", "3338:CYL").
type Disk struct {
	Size       string `json:"size"`
	IsBootDisk bool   `json:"is_boot_disk,omitempty"`
	Format     string `json:"format,omitempty"`
	DiskPool   string `json:"disk_pool,omitempty"`
	Vdev       string `json:"vdev,omitempty"`
	MntDir     string `json:"mntdir,omitempty"`
}

// GuestInfo is GET /guests/{userid}/info's output.
type GuestInfo struct {
	PowerState string `json:"power_state"`
	MaxMemKB   int64  `json:"max_mem_kb"`
	MemKB      int64  `json:"mem_kb"`
	NumCPU     int    `json:"num_cpu"`
	CPUTimeUS  int64  `json:"cpu_time_us"`
}

// PowerAction is a power action with its options.
type PowerAction struct {
	Name         string // start, stop, softstop, reboot, reset, pause, unpause
	Timeout      int    // seconds, 0 = default
	PollInterval int    // seconds, 0 = default
}

// DeploySpec is the deploy action's body.
type DeploySpec struct {
	Image          string `json:"image"`
	TransportFiles string `json:"transportfiles,omitempty"` // a local path, or a path on RemoteHost
	RemoteHost     string `json:"remotehost,omitempty"`     // user@host
	Vdev           string `json:"vdev,omitempty"`
	Hostname       string `json:"hostname,omitempty"`
	SkipDiskCopy   bool   `json:"skipdiskcopy,omitempty"`
}

// InterfaceSpec is POST /guests/{userid}/interface's "interface" object.
type InterfaceSpec struct {
	OSVersion     string         `json:"os_version"`
	GuestNetworks []GuestNetwork `json:"guest_networks"`
	Active        bool           `json:"active,omitempty"`
}

// GuestNetwork is one network of an InterfaceSpec; NICVdev is filled in.
type GuestNetwork struct {
	IPAddr      string   `json:"ip_addr,omitempty"`
	GatewayAddr string   `json:"gateway_addr,omitempty"`
	CIDR        string   `json:"cidr,omitempty"`
	MACAddr     string   `json:"mac_addr,omitempty"`
	NICID       string   `json:"nic_id,omitempty"`
	NICVdev     string   `json:"nic_vdev,omitempty"`
	Method      string   `json:"method,omitempty"`
	DNSAddr     []string `json:"dns_addr,omitempty"`
	OSADevice   string   `json:"osa_device,omitempty"`
	MTU         int      `json:"mtu,omitempty"`
	Hostname    string   `json:"hostname,omitempty"`
}

// NICSpec is POST /guests/{userid}/nic's "nic" object.
type NICSpec struct {
	Vdev    string `json:"vdev,omitempty"`
	NICID   string `json:"nic_id,omitempty"`
	MACAddr string `json:"mac_addr,omitempty"`
	Active  bool   `json:"active,omitempty"`
}

// Couple is PUT /guests/{userid}/nic/{vdev}'s "info" object.
type Couple struct {
	Couple  bool   `json:"couple"`
	VSwitch string `json:"vswitch,omitempty"`
	Active  bool   `json:"active,omitempty"`
	VLANID  int    `json:"vlan_id,omitempty"`
}

// ImageImport is POST /images' "image" object.
type ImageImport struct {
	ImageName  string            `json:"image_name"`
	URL        string            `json:"url"`
	ImageMeta  map[string]string `json:"image_meta"`
	RemoteHost string            `json:"remote_host,omitempty"`
}

// Image is one entry of GET /images.
type Image struct {
	ImageName        string  `json:"imagename"`
	ImageOSDistro    string  `json:"imageosdistro"`
	MD5Sum           string  `json:"md5sum"`
	DiskSizeUnits    string  `json:"disk_size_units"` // "3338:CYL"
	ImageSizeInBytes string  `json:"image_size_in_bytes"`
	Type             string  `json:"type"` // "rootonly"
	Comments         string  `json:"comments,omitempty"`
	LastAccessTime   float64 `json:"last_access_time"`
	ImagePath        string  `json:"image_path,omitempty"`
}
