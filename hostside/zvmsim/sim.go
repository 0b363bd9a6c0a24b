package zvmsim

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zguest/zguest/internal/zvm/cp"
	"github.com/zguest/zguest/internal/zvm/spool"
)

// Byte sizes of the allocation units.
const (
	CylinderBytes = 737280 // a 3390 cylinder as Linux sees it: 15 tracks of 12 4-KiB blocks
	BlockBytes    = 512
)

// Pool is a disk pool (a DirMaint group) with its capacity.
type Pool struct {
	Name     string
	Type     string // "ECKD" (3390, cylinders) or "FBA" (9336, 512-byte blocks)
	Capacity int64  // bytes
}

// Options configure a Sim.
type Options struct {
	// Spool is the CP spool shared with emulated guests; nil makes one.
	Spool *spool.System
	// DiskDir holds the minidisks' sparse backing files (required).
	DiskDir string
	// UserID and Password are the credentials requests must carry. An
	// empty UserID accepts requests with empty credentials only (SMAPI
	// over IUCV trusts the peer).
	UserID, Password string
	// Pools are the disk pools; default one ECKD pool "POOL1" of 100 GiB
	// and one FBA pool "FBAPOOL" of 100 GiB.
	Pools []Pool
	// Profiles are the directory profiles INCLUDE may name; default
	// "OSDFLT".
	Profiles []string
	// VSwitches are the virtual switches NICs may couple to; default
	// none.
	VSwitches []string
	Log       *slog.Logger
	Clock     func() time.Time

	// Host describes the z/VM system for the host queries (hostinfo.go).
	Host HostConfig
	// APILevel is what Query_API_Functional_Level answers in its reason
	// code; default DefaultAPILevel.
	APILevel int
}

// Sim is one simulated z/VM system.
type Sim struct {
	opts  Options
	spool *spool.System
	cp    *cp.CP
	log   *slog.Logger

	mu       sync.Mutex
	dir      map[string]*entry
	pools    map[string]*pool
	profiles map[string]bool
	console  map[string][]string
	vswitch  map[string]*vswitch
	lists    map[string][]string // SMAPI name lists
	faults   faults
	reqID    uint32
	ipl      time.Time
	paused   map[string]bool // Image_Pause'd and still logged on (pause.go)
}

type pool struct {
	Pool
	used int64
}

type entry struct {
	id      string
	records []string // as created (USER first)
	disks   []*minidisk
	nics    []nicdef
}

type minidisk struct {
	vdev    string
	devType string
	pool    string
	units   int64
	bytes   int64
	start   int64
	path    string
}

type nicdef struct {
	vdev    uint16
	typ     string
	devices int
	macid   string
	lan     string // vswitch of LAN SYSTEM in the directory, "" if none
	coupled string // vswitch the running guest's NIC is coupled to
}

// vswitch is a virtual switch with its access list (SET VSWITCH GRANT):
// userid -> VLAN id (0: none given).
type vswitch struct {
	name   string
	grants map[string]int
}

// New returns a simulator.
func New(o Options) (*Sim, error) {
	if o.DiskDir == "" {
		return nil, fmt.Errorf("zvmsim: DiskDir is required")
	}
	if err := os.MkdirAll(o.DiskDir, 0o755); err != nil {
		return nil, fmt.Errorf("zvmsim: disk directory: %w", err)
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Spool == nil {
		o.Spool = spool.New(spool.Options{Clock: o.Clock, Logger: o.Log})
	}
	if o.Pools == nil {
		o.Pools = []Pool{{Name: "POOL1", Type: "ECKD", Capacity: 100 << 30}, {Name: "FBAPOOL", Type: "FBA", Capacity: 100 << 30}}
	}
	o.Host = o.Host.withDefaults()
	if o.Profiles == nil {
		o.Profiles = []string{"OSDFLT"}
	}
	s := &Sim{opts: o, spool: o.Spool, cp: cp.New(o.Spool), log: o.Log,
		dir: map[string]*entry{}, pools: map[string]*pool{}, profiles: map[string]bool{}, console: map[string][]string{}, vswitch: map[string]*vswitch{}, ipl: o.Clock()}
	s.cp.SetSystemName(o.Host.SystemName)
	for _, p := range o.Pools {
		s.pools[strings.ToUpper(p.Name)] = &pool{Pool: p}
	}
	for _, p := range o.Profiles {
		s.profiles[strings.ToUpper(p)] = true
	}
	for _, v := range o.VSwitches {
		n := strings.ToUpper(v)
		s.vswitch[n] = &vswitch{name: n, grants: map[string]int{}}
	}
	return s, nil
}

// Spool returns the CP spool.
func (s *Sim) Spool() *spool.System { return s.spool }

// HostID is the userid of the connector's own guest (the spool's host
// user): CP commands from the daemon run as this user.
func (s *Sim) HostID() string { return s.spool.HostID() }

// Users returns the userids with a directory entry made through SMAPI.
func (s *Sim) Users() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.dir))
	for id := range s.dir {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// Directory returns userid's directory records (Image_Query_DM's output),
// false if there is no entry.
func (s *Sim) Directory(userid string) ([]string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.dir[strings.ToUpper(userid)]
	if !ok {
		return nil, false
	}
	return e.directory(), true
}

// PoolUsage returns a pool's used and total bytes.
func (s *Sim) PoolUsage(name string) (used, capacity int64, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pools[strings.ToUpper(name)]
	if !ok {
		return 0, 0, false
	}
	return p.used, p.Capacity, true
}

// DiskPath returns the backing file and size of userid's minidisk vdev.
func (s *Sim) DiskPath(userid, vdev string) (string, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.dir[strings.ToUpper(userid)]
	if !ok {
		return "", 0, fmt.Errorf("zvmsim: %s not in the directory", strings.ToUpper(userid))
	}
	for _, d := range e.disks {
		if d.vdev == normVdev(vdev) {
			return d.path, d.bytes, nil
		}
	}
	return "", 0, fmt.Errorf("zvmsim: %s has no minidisk %s", strings.ToUpper(userid), vdev)
}

// AppendConsole adds lines to userid's console log (what Image_Console_Get
// spools).
func (s *Sim) AppendConsole(userid string, lines ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := strings.ToUpper(userid)
	s.console[id] = append(s.console[id], lines...)
}

func (e *entry) directory() []string {
	out := append([]string(nil), e.records...)
	for _, d := range e.disks {
		out = append(out, fmt.Sprintf("MDISK %s %s %04d %04d %s MR", d.vdev, d.devType, d.start, d.units, volser(d.pool)))
	}
	for _, n := range e.nics {
		r := fmt.Sprintf("NICDEF %04X TYPE %s DEVICES %d", n.vdev, n.typ, n.devices)
		if n.lan != "" {
			r += " LAN SYSTEM " + n.lan
		}
		if n.macid != "" {
			r += " MACID " + n.macid
		}
		out = append(out, r)
	}
	return out
}

// VSwitchGrants returns the users granted on vswitch with their VLAN ids
// (0: none), false if there is no such vswitch.
func (s *Sim) VSwitchGrants(name string) (map[string]int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.vswitch[strings.ToUpper(name)]
	if !ok {
		return nil, false
	}
	out := make(map[string]int, len(v.grants))
	for u, id := range v.grants {
		out[u] = id
	}
	return out, true
}

// Coupled returns the vswitch the running userid's NIC vdev is coupled
// to ("" if none).
func (s *Sim) Coupled(userid, vdev string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.dir[strings.ToUpper(userid)]
	if !ok {
		return ""
	}
	v, err := strconv.ParseUint(vdev, 16, 16)
	if err != nil {
		return ""
	}
	for _, n := range e.nics {
		if n.vdev == uint16(v) {
			return n.coupled
		}
	}
	return ""
}

// volser invents a volume serial for a pool.
// guess: DirMaint picks a real volume of the group; any 6 characters do.
func volser(pool string) string {
	v := strings.ToUpper(pool)
	if len(v) > 4 {
		v = v[:4]
	}
	return v + "01"
}

func normVdev(v string) string {
	v = strings.ToUpper(v)
	for len(v) < 4 {
		v = "0" + v
	}
	return v
}

func (s *Sim) diskFile(userid, vdev string) string {
	return filepath.Join(s.opts.DiskDir, fmt.Sprintf("%s.%s.img", userid, vdev))
}
