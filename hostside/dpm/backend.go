package dpm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/hmc"
	"github.com/zguest/zguest/hostside/imagerepo"
	"github.com/zguest/zguest/hostside/source"
	"github.com/zguest/zguest/hostside/store"
)

// Network is a physical network's virtual switch.
type Network struct {
	VSwitch string // virtual switch object id
	// Port is the adapter port written into the NIC tokens; nil reads it
	// from the virtual switch's port property at start.
	Port *int
}

// StorageMapping is an FCP adapter port HBAs are created on (z13 class).
type StorageMapping struct {
	Adapter string // adapter object id
	Port    int    // 0-3
}

// Config configures the backend.
type Config struct {
	HMC           *hmc.Client
	CPC           string // CPC object id
	Host          string // host identifier, 1-45 of [A-Za-z0-9_-]
	MaxProcessors int
	MaxMemoryMB   int
	// Networks maps physical network names to virtual switches;
	// DefaultNetwork ("" = the only one) is used when a request names none.
	Networks       map[string]Network
	DefaultNetwork string
	// Storage lists FCP adapter ports; with any, CreateGuest creates one
	// HBA per entry (z13-class machines; later ones use storage groups).
	Storage []StorageMapping
	// JobTimeout bounds waiting for a start or stop job (default 120s),
	// StatusTimeout waiting for the status after it (default 60s), Poll
	// is the first poll interval (default 100ms).
	JobTimeout    time.Duration
	StatusTimeout time.Duration
	Poll          time.Duration
	Log           *slog.Logger
	// Timeouts bound each operation kind as a whole (zero fields:
	// defaults, see api.OpTimeouts): import (scp and the copy), deploy
	// (the image onto the boot volume), create, power (on top of
	// JobTimeout and StatusTimeout, which bound each wait).
	Timeouts api.OpTimeouts

	// Store is the daemon's state store (images, boot volume
	// assignments); ImageDir holds the imported images; SCP copies
	// images from nova's remote_host. Without Store and ImageDir the
	// image calls answer "not implemented".
	Store    *store.Store
	ImageDir string
	SCP      imagerepo.SCP
	// Sources opens the host files requests name (file:// imports,
	// transportfiles) under the daemon's source_dirs, with os.Root, at
	// the moment they are read; nil opens any regular file.
	Sources *source.Policy
	// BootPool lists the object ids of the storage groups reserved for
	// this host's boot volumes (pool.go); each must be an FCP group of
	// the CPC, fulfilled, with one boot volume.
	BootPool []string
	// OwnPartition is the name of the partition this daemon runs in: the
	// deploy writes images through its FCP access (volume.go). DeviceDir
	// is where the LUNs' device links appear (default /dev/disk/by-id),
	// DeviceTimeout how long to wait for one (default 60s).
	OwnPartition  string
	DeviceDir     string
	DeviceTimeout time.Duration
	// Volumes replaces the HMC volume writer (tests).
	Volumes VolumeWriter
}

// Backend is the DPM backend.
type Backend struct {
	c      *hmc.Client
	cfg    Config
	cpcURI string
	names  *regexp.Regexp // this host's partition names; group 1 = userid
	nets   map[string]network
	log    *slog.Logger

	mu     sync.Mutex
	guests map[string]*guest // by userid; nil entries are creates in progress

	pool    []poolVolume // boot volume pool, smallest first
	volumes VolumeWriter
}

type network struct {
	vswitchURI string
	port       int
}

// guest is what the backend knows of one partition.
type guest struct {
	uri   string
	procs int
	mem   int // MiB
	bosp  string
	nics  map[string]string // device number (upper case) -> NIC URI
	hba   string            // boot HBA URI (z13 class)
}

var hostRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,45}$`)

// New checks cfg against the HMC (the CPC must be in DPM mode and large
// enough, the virtual switches must exist) and adopts the partitions
// whose names say they belong to this host (see the package doc).
func New(ctx context.Context, cfg Config) (*Backend, error) {
	if cfg.HMC == nil {
		return nil, errors.New("dpm: no HMC client")
	}
	if !hostRE.MatchString(cfg.Host) {
		return nil, fmt.Errorf("dpm: host identifier %q: want 1-45 of A-Z a-z 0-9 _ - (the partition name is OpenStack-<host>-<userid>, at most 64 characters)", cfg.Host)
	}
	if cfg.CPC == "" {
		return nil, errors.New("dpm: the CPC object id is required")
	}
	if cfg.MaxProcessors < 1 || cfg.MaxMemoryMB < 512 {
		return nil, fmt.Errorf("dpm: max processors %d, max memory %d MiB: want at least 1 and 512", cfg.MaxProcessors, cfg.MaxMemoryMB)
	}
	if cfg.DefaultNetwork == "" && len(cfg.Networks) == 1 {
		for k := range cfg.Networks {
			cfg.DefaultNetwork = k
		}
	}
	if _, ok := cfg.Networks[cfg.DefaultNetwork]; len(cfg.Networks) > 0 && !ok {
		return nil, fmt.Errorf("dpm: default physical network %q is not mapped", cfg.DefaultNetwork)
	}
	for _, s := range cfg.Storage {
		if s.Adapter == "" || s.Port < 0 || s.Port > 3 {
			return nil, fmt.Errorf("dpm: storage mapping %s:%d: want an adapter object id and port 0-3", s.Adapter, s.Port)
		}
	}
	if cfg.JobTimeout == 0 {
		cfg.JobTimeout = 120 * time.Second
	}
	if cfg.StatusTimeout == 0 {
		cfg.StatusTimeout = 60 * time.Second
	}
	cfg.Timeouts = cfg.Timeouts.OrDefaults()
	if cfg.Poll == 0 {
		cfg.Poll = 100 * time.Millisecond
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	b := &Backend{
		c: cfg.HMC, cfg: cfg, cpcURI: hmc.CPCURI(cfg.CPC), log: cfg.Log,
		names:  regexp.MustCompile(`^OpenStack-` + regexp.QuoteMeta(cfg.Host) + `-([A-Z0-9]{1,8})$`),
		nets:   map[string]network{},
		guests: map[string]*guest{},
	}
	cpc, err := b.c.GetCPC(ctx, cfg.CPC)
	if err != nil {
		return nil, fmt.Errorf("dpm: CPC %s: %w", cfg.CPC, err)
	}
	if !cpc.DPMEnabled {
		return nil, fmt.Errorf("dpm: CPC %s (%s) is not in DPM mode", cfg.CPC, cpc.Name)
	}
	if cpc.ProcessorCountIFL > 0 && cfg.MaxProcessors > cpc.ProcessorCountIFL {
		return nil, fmt.Errorf("dpm: max processors %d exceeds the CPC's %d IFLs", cfg.MaxProcessors, cpc.ProcessorCountIFL)
	}
	if cpc.StorageCustomer > 0 && cfg.MaxMemoryMB > cpc.StorageCustomer {
		return nil, fmt.Errorf("dpm: max memory %d MiB exceeds the CPC's %d MiB", cfg.MaxMemoryMB, cpc.StorageCustomer)
	}
	for name, n := range cfg.Networks {
		vs, err := b.c.GetVirtualSwitch(ctx, n.VSwitch)
		if err != nil {
			return nil, fmt.Errorf("dpm: physical network %s: virtual switch %s: %w", name, n.VSwitch, err)
		}
		port := vs.Port
		if n.Port != nil {
			port = *n.Port
		}
		if port < 0 || port > 9 {
			return nil, fmt.Errorf("dpm: physical network %s: port %d: want one digit", name, port)
		}
		b.nets[name] = network{vswitchURI: hmc.VirtualSwitchURI(n.VSwitch), port: port}
	}
	if err := b.reconcile(ctx); err != nil {
		return nil, err
	}
	if err := b.loadPool(ctx); err != nil {
		return nil, err
	}
	return b, nil
}

// Close logs off the HMC.
func (b *Backend) Close(ctx context.Context) error { return b.c.Close(ctx) }

// PartitionName is the partition name of userid on this host.
func (b *Backend) PartitionName(userid string) string {
	return "OpenStack-" + b.cfg.Host + "-" + userid
}

func (b *Backend) description() string { return "OpenStack CPCSubset=" + b.cfg.Host }

// reconcile adopts this host's partitions and deletes NICs left by
// interrupted interface calls.
func (b *Backend) reconcile(ctx context.Context) error {
	parts, err := b.c.ListPartitions(ctx, b.cpcURI, "")
	if err != nil {
		return fmt.Errorf("dpm: list partitions: %w", err)
	}
	for _, p := range parts {
		m := b.names.FindStringSubmatch(p.Name)
		if m == nil {
			continue
		}
		g, err := b.load(ctx, p.URI)
		if err != nil {
			return fmt.Errorf("dpm: adopt %s: %w", p.Name, err)
		}
		b.guests[m[1]] = g
		b.log.Info("adopted partition", "userid", m[1], "partition", p.Name, "nics", len(g.nics))
		inString := map[string]bool{}
		for _, t := range parseTokens(g.bosp) {
			inString[strings.ToUpper(t.devno)] = true
		}
		for devno, uri := range g.nics {
			if inString[devno] {
				continue
			}
			b.log.Warn("deleting a NIC left by an interrupted interface call", "userid", m[1], "devno", devno)
			if err := b.c.Delete(ctx, uri); err != nil && !hmc.IsStatus(err, 404) {
				return fmt.Errorf("dpm: clean up NIC %s of %s: %w", devno, p.Name, err)
			}
			delete(g.nics, devno)
		}
	}
	return nil
}

// load reads a partition and its NICs.
func (b *Backend) load(ctx context.Context, uri string) (*guest, error) {
	p, err := b.c.GetPartition(ctx, uri)
	if err != nil {
		return nil, err
	}
	g := &guest{uri: uri, procs: p.IFLProcessors, mem: p.InitialMemory, bosp: p.BootOSSpecificParameters, nics: map[string]string{}}
	for _, n := range p.NICURIs {
		nic, err := b.c.GetNIC(ctx, n)
		if err != nil {
			return nil, err
		}
		g.nics[strings.ToUpper(nic.DeviceNumber)] = n
	}
	if len(p.HBAURIs) > 0 {
		g.hba = p.HBAURIs[0]
	}
	return g, nil
}

// lookup finds userid's partition, from the cache or the HMC.
func (b *Backend) lookup(ctx context.Context, userid string) (*guest, error) {
	b.mu.Lock()
	g := b.guests[userid]
	b.mu.Unlock()
	if g != nil {
		return g, nil
	}
	name := b.PartitionName(userid)
	parts, err := b.c.ListPartitions(ctx, b.cpcURI, name)
	if err != nil {
		return nil, hmcErr(api.ModGuest, "look up "+userid, err)
	}
	for _, p := range parts {
		if p.Name != name {
			continue
		}
		g, err := b.load(ctx, p.URI)
		if err != nil {
			return nil, hmcErr(api.ModGuest, "read "+userid, err)
		}
		b.mu.Lock()
		b.guests[userid] = g
		b.mu.Unlock()
		return g, nil
	}
	return nil, guestNotFound(userid)
}

// forget drops userid from the cache (after delete, or a 404).
func (b *Backend) forget(userid string) {
	b.mu.Lock()
	delete(b.guests, userid)
	b.mu.Unlock()
}

// partition reads userid's partition properties, dropping the cache
// entry if the partition is gone.
func (b *Backend) partition(ctx context.Context, userid string) (*guest, *hmc.Partition, error) {
	g, err := b.lookup(ctx, userid)
	if err != nil {
		return nil, nil, err
	}
	p, err := b.c.GetPartition(ctx, g.uri)
	if hmc.IsStatus(err, 404) {
		b.forget(userid)
		return nil, nil, guestNotFound(userid)
	}
	if err != nil {
		return nil, nil, hmcErr(api.ModGuest, "read "+userid, err)
	}
	return g, p, nil
}

// HostInfo reports the subset as nova-dpm does: vcpus = the subset's
// maximum, vcpus_used = the largest guest (processors are shared),
// memory used = the sum of the guests' memory; disk figures are the
// CPC's storage-group volumes (hostdisk.go).
func (b *Backend) HostInfo(ctx context.Context) (api.HostInfo, error) {
	cpc, err := b.c.GetCPC(ctx, b.cfg.CPC)
	if err != nil {
		return api.HostInfo{}, hmcErr(api.ModGuest, "read the CPC", err)
	}
	procs, mem := b.used()
	total, used, _, err := b.diskGB(ctx, cpc)
	if err != nil {
		return api.HostInfo{}, hmcErr(api.ModGuest, "read the CPC's storage groups", err)
	}
	return api.HostInfo{
		DiskTotal:          total,
		DiskUsed:           used,
		DiskAvailable:      max(total-used, 0),
		HypervisorHostname: b.cfg.Host,
		HypervisorType:     "PRSM",
		HypervisorVersion:  seVersion(cpc.SEVersion),
		VCPUs:              b.cfg.MaxProcessors,
		VCPUsUsed:          float64(procs),
		MemoryMB:           b.cfg.MaxMemoryMB,
		MemoryMBUsed:       float64(mem),
		CPUInfo:            api.CPUInfo{CECModel: cpc.MachineType, Architecture: "s390x"},
		ZVMHost:            cpc.Name,
	}, nil
}

// used is the largest guest's processors and the guests' memory sum.
func (b *Backend) used() (procs, mem int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, g := range b.guests {
		if g == nil {
			continue
		}
		procs = max(procs, g.procs)
		mem += g.mem
	}
	return procs, mem
}

// seVersion turns "2.13.1" into 2013001 as nova-dpm does.
func seVersion(s string) int {
	v := 0
	for i, f := range strings.SplitN(s, ".", 3) {
		n, _ := strconv.Atoi(f)
		if i == 0 {
			v = n
		} else {
			v = v*1000 + n
		}
	}
	return v
}

// ListGuests lists this host's partitions by their userids.
func (b *Backend) ListGuests(ctx context.Context) ([]string, error) {
	parts, err := b.c.ListPartitions(ctx, b.cpcURI, "")
	if err != nil {
		return nil, hmcErr(api.ModGuest, "list partitions", err)
	}
	ids := []string{}
	for _, p := range parts {
		if m := b.names.FindStringSubmatch(p.Name); m != nil {
			ids = append(ids, m[1])
		}
	}
	sort.Strings(ids)
	return ids, nil
}
