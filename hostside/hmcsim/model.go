package hmcsim

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

type cpc struct {
	CPC
	uri       string
	adapters  []*adapter
	vswitches []*vswitch
	sgroups   []*sgroup
}

type adapter struct {
	Adapter
	uri string
	cpc *cpc
}

func (a *adapter) portKind() string {
	if a.Type == "fcp" {
		return "storage-ports"
	}
	return "network-ports"
}

func (a *adapter) portURI(i int) string { return fmt.Sprintf("%s/%s/%d", a.uri, a.portKind(), i) }

type vswitch struct {
	VirtualSwitch
	uri     string
	cpc     *cpc
	adapter *adapter
	vnics   []string // connected NIC element-uris
}

type sgroup struct {
	StorageGroupIn
	uri     string
	cpc     *cpc
	volumes []*svolume
	parts   []string // attached partition object-ids
}

type svolume struct {
	StorageVolume
	uri   string
	group *sgroup
}

type partition struct {
	id       string
	uri      string
	cpc      *cpc
	props    map[string]any // stored properties, status/nic-uris/... derived
	status   string
	activeAt time.Time // starting → active when reached (deferred status)
	nics     []*nic
	hbas     []*hba
	sgroups  []string // attached storage group object-ids
	devnos   map[int]string
}

type nic struct {
	id    string
	uri   string
	props map[string]any
	vs    *vswitch
}

type hba struct {
	id    string
	uri   string
	props map[string]any
}

type session struct {
	id       string
	user     string
	lastUsed time.Time
	expired  bool
}

type job struct {
	id        string
	uri       string
	op        string // "start" or "stop"
	part      string // partition object-id
	doneAt    time.Time
	status    string
	code      int
	reason    int
	message   string
	fail      *jobFailure
	createdAt time.Time
}

func (s *Sim) load() {
	s.cpcs = map[string]*cpc{}
	s.adapters = map[string]*adapter{}
	s.vswitches = map[string]*vswitch{}
	s.sgroups = map[string]*sgroup{}
	s.volumes = map[string]*svolume{}
	s.partitions = map[string]*partition{}
	s.sessions = map[string]*session{}
	s.jobs = map[string]*job{}
	s.counts = map[string]int{}
	for _, ci := range s.inv.CPCs {
		c := &cpc{CPC: ci, uri: "/api/cpcs/" + ci.ObjectID}
		s.cpcs[c.ObjectID] = c
		s.cpcOrder = append(s.cpcOrder, c)
		for _, ai := range ci.Adapters {
			a := &adapter{Adapter: ai, uri: "/api/adapters/" + ai.ObjectID, cpc: c}
			c.adapters = append(c.adapters, a)
			s.adapters[a.ObjectID] = a
		}
		for _, vi := range ci.VirtualSwitches {
			v := &vswitch{VirtualSwitch: vi, uri: "/api/virtual-switches/" + vi.ObjectID, cpc: c, adapter: s.adapters[vi.Adapter]}
			c.vswitches = append(c.vswitches, v)
			s.vswitches[v.ObjectID] = v
		}
		for _, gi := range ci.StorageGroups {
			g := &sgroup{StorageGroupIn: gi, uri: "/api/storage-groups/" + gi.ObjectID, cpc: c}
			for _, vi := range gi.Volumes {
				v := &svolume{StorageVolume: vi, uri: g.uri + "/storage-volumes/" + vi.ObjectID, group: g}
				g.volumes = append(g.volumes, v)
				s.volumes[v.uri] = v
			}
			c.sgroups = append(c.sgroups, g)
			s.sgroups[g.ObjectID] = g
		}
	}
}

// advance applies the time-driven transitions due at now: job
// completion and deferred partition status. Called with s.mu held at
// the start of every request and every Go API call that reads state.
func (s *Sim) advance(now time.Time) {
	ids := make([]string, 0, len(s.jobs))
	for id, j := range s.jobs {
		if j.status == "running" && !now.Before(j.doneAt) {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(a, b int) bool { return s.jobs[ids[a]].doneAt.Before(s.jobs[ids[b]].doneAt) })
	for _, id := range ids {
		s.completeJob(s.jobs[id])
	}
	for _, p := range s.partitions {
		if p.status == "starting" && !p.activeAt.IsZero() && !now.Before(p.activeAt) {
			p.status = "active"
			p.activeAt = time.Time{}
		}
	}
}

func (s *Sim) completeJob(j *job) {
	j.status = "complete"
	p := s.partitions[j.part]
	if j.fail != nil {
		j.code, j.reason, j.message = j.fail.Status, j.fail.Reason, j.fail.Message
		if p != nil {
			p.status = j.fail.PartitionStatus
		}
		return
	}
	j.code = 200
	if p == nil {
		return
	}
	switch j.op {
	case "start":
		if s.deferred > 0 {
			p.activeAt = j.doneAt.Add(s.deferred)
		} else {
			p.status = "active"
		}
	case "stop":
		p.status = "stopped"
		p.activeAt = time.Time{}
	}
}

// devno allocation: channel devices of a partition share one namespace.
// An OSA/HiperSockets NIC occupies three consecutive device numbers
// (read, write, data: the guest groups devno, devno+1, devno+2), an HBA
// one. Numbers are 4 upper-case hex digits.
func nicSpan(typ string) int {
	if typ == "roce" {
		return 1
	}
	return 3
}

func (p *partition) devnoFree(d, span int) bool {
	if d < 1 || d+span-1 > 0xFFFF {
		return false
	}
	for i := 0; i < span; i++ {
		if _, used := p.devnos[d+i]; used {
			return false
		}
	}
	return true
}

func (p *partition) allocDevno(span int) (int, bool) {
	for d := 1; d+span-1 <= 0xFFFF; d++ {
		if p.devnoFree(d, span) {
			return d, true
		}
	}
	return 0, false
}

func (p *partition) claimDevno(d, span int, owner string) {
	for i := 0; i < span; i++ {
		p.devnos[d+i] = owner
	}
}

func (p *partition) releaseDevnos(owner string) {
	for d, o := range p.devnos {
		if o == owner {
			delete(p.devnos, d)
		}
	}
}

func fmtDevno(d int) string { return fmt.Sprintf("%04X", d) }

func (p *partition) nicByName(name string) *nic {
	for _, n := range p.nics {
		if n.props["name"] == name {
			return n
		}
	}
	return nil
}

func (p *partition) hbaByName(name string) *hba {
	for _, h := range p.hbas {
		if h.props["name"] == name {
			return h
		}
	}
	return nil
}

func (s *Sim) partitionByName(c *cpc, name string) *partition {
	for _, id := range s.partOrder {
		p := s.partitions[id]
		if p.cpc == c && p.props["name"] == name {
			return p
		}
	}
	return nil
}

// lookupPartition finds a partition by object-id, object-uri or name
// (any CPC).
func (s *Sim) lookupPartition(idOrName string) *partition {
	if id, ok := strings.CutPrefix(idOrName, "/api/partitions/"); ok {
		return s.partitions[id]
	}
	if p, ok := s.partitions[idOrName]; ok {
		return p
	}
	for _, id := range s.partOrder {
		if p := s.partitions[id]; p.props["name"] == idOrName {
			return p
		}
	}
	return nil
}

func (s *Sim) partitionProps(p *partition) map[string]any {
	m := make(map[string]any, len(p.props)+8)
	for k, v := range p.props {
		m[k] = v
	}
	m["status"] = p.status
	nics := make([]string, 0, len(p.nics))
	for _, n := range p.nics {
		nics = append(nics, n.uri)
	}
	hbas := make([]string, 0, len(p.hbas))
	for _, h := range p.hbas {
		hbas = append(hbas, h.uri)
	}
	m["nic-uris"] = nics
	if p.cpc.StorageManagement {
		sgs := make([]string, 0, len(p.sgroups))
		for _, id := range p.sgroups {
			sgs = append(sgs, "/api/storage-groups/"+id)
		}
		m["storage-group-uris"] = sgs
	}
	m["hba-uris"] = hbas
	m["has-unacceptable-status"] = p.status != "active" && p.status != "stopped" && p.status != "starting" && p.status != "stopping"
	return m
}

func (s *Sim) cpcProps(c *cpc) map[string]any {
	feats := []map[string]any{}
	if c.DPMEnabled {
		feats = append(feats, map[string]any{"name": "dpm-storage-management", "state": c.StorageManagement,
			"description": "The DPM storage management approach in which FCP and FICON storage resources are defined in Storage Groups"})
	}
	return map[string]any{
		"class": "cpc", "parent": nil, "object-uri": c.uri, "object-id": c.ObjectID, "name": c.Name,
		"description": "", "status": c.Status, "has-unacceptable-status": c.Status != "active",
		"dpm-enabled": c.DPMEnabled, "se-version": c.SEVersion, "machine-type": c.MachineType,
		"processor-count-ifl": c.ProcessorCountIFL, "storage-customer": c.StorageCustomer,
		"available-features-list": feats, "iml-mode": map[bool]string{true: "dpm", false: "lpar"}[c.DPMEnabled],
	}
}

func (s *Sim) adapterProps(a *adapter) map[string]any {
	family := map[string]string{"osd": "osa", "hipersockets": "hipersockets", "fcp": "ficon", "roce": "roce"}[a.Type]
	ports := make([]string, 0, a.Ports)
	for i := 0; i < a.Ports; i++ {
		ports = append(ports, a.portURI(i))
	}
	m := map[string]any{
		"class": "adapter", "parent": a.cpc.uri, "object-uri": a.uri, "object-id": a.ObjectID,
		"name": a.Name, "description": "", "adapter-id": a.AdapterID, "adapter-family": family,
		"type": a.Type, "status": "active", "state": "online", "port-count": a.Ports,
	}
	if a.Type == "fcp" {
		m["storage-port-uris"] = ports
	} else {
		m["network-port-uris"] = ports
	}
	return m
}

func (s *Sim) vswitchProps(v *vswitch) map[string]any {
	typ := v.adapter.Type
	return map[string]any{
		"class": "virtual-switch", "parent": v.cpc.uri, "object-uri": v.uri, "object-id": v.ObjectID,
		"name": v.Name, "description": "", "type": typ, "backing-adapter-uri": v.adapter.uri,
		"port": v.Port, "connected-vnic-uris": append([]string{}, v.vnics...),
	}
}

func (s *Sim) sgroupProps(g *sgroup) map[string]any {
	vols := make([]string, 0, len(g.volumes))
	for _, v := range g.volumes {
		vols = append(vols, v.uri)
	}
	return map[string]any{
		"class": "storage-group", "parent": "/api/console", "object-uri": g.uri, "object-id": g.ObjectID,
		"cpc-uri": g.cpc.uri, "name": g.Name, "description": "", "type": g.Type, "shared": false,
		"fulfillment-state": "complete", "storage-volume-uris": vols,
	}
}

func (s *Sim) volumeProps(v *svolume) map[string]any {
	return map[string]any{
		"class": "storage-volume", "parent": v.group.uri, "element-uri": v.uri, "element-id": v.ObjectID,
		"name": v.Name, "description": "", "size": v.Size, "usage": v.Usage, "uuid": v.UUID,
		"fulfillment-state": "complete",
	}
}

func isHex4(s string) bool {
	if len(s) != 4 {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}

var timeZero time.Time
