package hmcsim

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

func hNoContent(s *Sim, q *req) (int, any, *apiError) { return 204, nil, nil }

func hVersion(s *Sim, q *req) (int, any, *apiError) {
	maj, min := s.inv.apiVersion()
	return 200, map[string]any{"api-major-version": maj, "api-minor-version": min,
		"hmc-version": s.inv.HMCVersion, "hmc-name": s.inv.HMCName}, nil
}

func hLogon(s *Sim, q *req) (int, any, *apiError) {
	m, e := decodeBody(q.body)
	if e != nil {
		return 0, nil, e
	}
	user, _ := m["userid"].(string)
	pw, _ := m["password"].(string)
	if user == "" || pw == "" {
		return 0, nil, errf(400, 5, "The request body is missing the required field userid or password")
	}
	if user != s.inv.User || pw != s.inv.Password {
		return 0, nil, errf(403, 0, "Logon failed: the userid or password is not valid") // guess: reason 0
	}
	id := randHex(24)
	s.sessions[id] = &session{id: id, user: user, lastUsed: q.now}
	maj, min := s.inv.apiVersion()
	return 200, map[string]any{
		"api-session":             id,
		"notification-topic":      "topic-" + id[:8],
		"job-notification-topic":  "jobtopic-" + id[:8],
		"api-major-version":       maj,
		"api-minor-version":       min,
		"password-expires":        -1,
		"session-credential":      randHex(32),
		"shared-secret-key":       nil,
		"session-id":              id,
		"logon-time":              q.now.UnixMilli(),
		"is-password-change-req":  false,
		"api-feature-list":        []string{},
		"notification-topic-uris": []string{},
	}, nil
}

func hLogoff(s *Sim, q *req) (int, any, *apiError) {
	delete(s.sessions, q.sess.id)
	return 204, nil, nil
}

func hMetricsCreate(s *Sim, q *req) (int, any, *apiError) {
	return 200, map[string]any{"metrics-context-uri": "/api/services/metrics/context/" + randHex(8),
		"metric-group-infos": []any{}}, nil
}

func randHex(n int) string {
	b := make([]byte, n/2)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// listMatcher implements the common list filters: each allowed string
// query parameter is a regular expression matched against the whole
// property value (Java-style full match).
func listMatcher(q *req, allowed ...string) (func(map[string]any) bool, []string, *apiError) {
	if e := checkQuery(q, append(allowed, "additional-properties")...); e != nil {
		return nil, nil, e
	}
	type flt struct {
		key string
		res []*regexp.Regexp
	}
	var fs []flt
	for k, vs := range q.r.URL.Query() {
		if k == "additional-properties" {
			continue
		}
		f := flt{key: k}
		for _, v := range vs {
			re, err := regexp.Compile("^(?:" + v + ")$")
			if err != nil {
				return nil, nil, errf(400, 1, "The value of query parameter %q is not a valid regular expression", k) // guess: reason 1
			}
			f.res = append(f.res, re)
		}
		fs = append(fs, f)
	}
	var extra []string
	for _, v := range q.r.URL.Query()["additional-properties"] {
		for _, p := range strings.Split(v, ",") {
			if p != "" {
				extra = append(extra, p)
			}
		}
	}
	return func(m map[string]any) bool {
		for _, f := range fs {
			val := fmt.Sprint(m[f.key])
			ok := false
			for _, re := range f.res {
				if re.MatchString(val) {
					ok = true
				}
			}
			if !ok {
				return false
			}
		}
		return true
	}, extra, nil
}

func pick(m map[string]any, keys []string, extra []string) (map[string]any, *apiError) {
	out := map[string]any{}
	for _, k := range keys {
		out[k] = m[k]
	}
	for _, k := range extra {
		v, ok := m[k]
		if !ok {
			return nil, errf(400, 14, "The additional-properties query parameter names an unknown property %q", k)
		}
		out[k] = v
	}
	return out, nil
}

func listOf[T any](q *req, name string, objs []T, props func(T) map[string]any, keys []string, allowed ...string) (int, any, *apiError) {
	matchf, extra, e := listMatcher(q, allowed...)
	if e != nil {
		return 0, nil, e
	}
	list := []map[string]any{}
	for _, o := range objs {
		m := props(o)
		if !matchf(m) {
			continue
		}
		r, e := pick(m, keys, extra)
		if e != nil {
			return 0, nil, e
		}
		list = append(list, r)
	}
	return 200, map[string]any{name: list}, nil
}

func getOne(q *req, m map[string]any) (int, any, *apiError) {
	out, e := filterProps(q, m)
	if e != nil {
		return 0, nil, e
	}
	return 200, out, nil
}

func notFound(what, id string) *apiError {
	return errf(404, 1, "The %s with ID %s does not exist or is not accessible", what, id)
}

// ---- CPCs, adapters, virtual switches, storage groups

func hCPCList(s *Sim, q *req) (int, any, *apiError) {
	return listOf(q, "cpcs", s.cpcOrder, s.cpcProps,
		[]string{"object-uri", "name", "status", "has-unacceptable-status", "dpm-enabled", "se-version"}, "name")
}

func (s *Sim) getCPC(id string) (*cpc, *apiError) {
	c, ok := s.cpcs[id]
	if !ok {
		return nil, notFound("CPC", id)
	}
	return c, nil
}

func hCPCGet(s *Sim, q *req) (int, any, *apiError) {
	c, e := s.getCPC(q.params[0])
	if e != nil {
		return 0, nil, e
	}
	if e := checkQuery(q, "properties"); e != nil {
		return 0, nil, e
	}
	return getOne(q, s.cpcProps(c))
}

func hAdapterList(s *Sim, q *req) (int, any, *apiError) {
	c, e := s.getCPC(q.params[0])
	if e != nil {
		return 0, nil, e
	}
	if !c.DPMEnabled {
		return 200, map[string]any{"adapters": []any{}}, nil
	}
	return listOf(q, "adapters", c.adapters, s.adapterProps,
		[]string{"object-uri", "name", "adapter-id", "adapter-family", "type", "status"},
		"name", "adapter-id", "adapter-family", "type", "status")
}

func hAdapterGet(s *Sim, q *req) (int, any, *apiError) {
	a, ok := s.adapters[q.params[0]]
	if !ok {
		return 0, nil, notFound("adapter", q.params[0])
	}
	if e := checkQuery(q, "properties"); e != nil {
		return 0, nil, e
	}
	return getOne(q, s.adapterProps(a))
}

func hPortGet(s *Sim, q *req) (int, any, *apiError) {
	a, ok := s.adapters[q.params[0]]
	if !ok {
		return 0, nil, notFound("adapter", q.params[0])
	}
	kind := "network-ports"
	if strings.Contains(q.r.URL.Path, "/storage-ports/") {
		kind = "storage-ports"
	}
	i, err := strconv.Atoi(q.params[1])
	if err != nil || i < 0 || i >= a.Ports || kind != a.portKind() || strconv.Itoa(i) != q.params[1] {
		return 0, nil, notFound("port", q.params[1])
	}
	class := strings.TrimSuffix(kind, "s")
	return getOne(q, map[string]any{"class": class, "parent": a.uri, "element-uri": a.portURI(i),
		"element-id": q.params[1], "index": i, "name": fmt.Sprintf("Port %d", i), "description": ""})
}

func hVSList(s *Sim, q *req) (int, any, *apiError) {
	c, e := s.getCPC(q.params[0])
	if e != nil {
		return 0, nil, e
	}
	if !c.DPMEnabled {
		return 200, map[string]any{"virtual-switches": []any{}}, nil
	}
	return listOf(q, "virtual-switches", c.vswitches, s.vswitchProps,
		[]string{"object-uri", "name", "type"}, "name", "type")
}

func hVSGet(s *Sim, q *req) (int, any, *apiError) {
	v, ok := s.vswitches[q.params[0]]
	if !ok {
		return 0, nil, notFound("virtual switch", q.params[0])
	}
	if e := checkQuery(q, "properties"); e != nil {
		return 0, nil, e
	}
	return getOne(q, s.vswitchProps(v))
}

func hVSVnics(s *Sim, q *req) (int, any, *apiError) {
	v, ok := s.vswitches[q.params[0]]
	if !ok {
		return 0, nil, notFound("virtual switch", q.params[0])
	}
	return 200, map[string]any{"connected-vnic-uris": append([]string{}, v.vnics...)}, nil
}

func (s *Sim) allSGroups() []*sgroup {
	var out []*sgroup
	for _, c := range s.cpcOrder {
		out = append(out, c.sgroups...)
	}
	return out
}

var sgListKeys = []string{"object-uri", "cpc-uri", "name", "fulfillment-state", "type"}

func hSGList(s *Sim, q *req) (int, any, *apiError) {
	return listOf(q, "storage-groups", s.allSGroups(), s.sgroupProps, sgListKeys, "cpc-uri", "name", "fulfillment-state", "type")
}

func hSGGet(s *Sim, q *req) (int, any, *apiError) {
	g, ok := s.sgroups[q.params[0]]
	if !ok {
		return 0, nil, notFound("storage group", q.params[0])
	}
	if e := checkQuery(q, "properties"); e != nil {
		return 0, nil, e
	}
	return getOne(q, s.sgroupProps(g))
}

func hSVList(s *Sim, q *req) (int, any, *apiError) {
	g, ok := s.sgroups[q.params[0]]
	if !ok {
		return 0, nil, notFound("storage group", q.params[0])
	}
	return listOf(q, "storage-volumes", g.volumes, s.volumeProps,
		[]string{"element-uri", "name", "fulfillment-state", "size", "usage"}, "name", "fulfillment-state", "usage")
}

func hSVGet(s *Sim, q *req) (int, any, *apiError) {
	g, ok := s.sgroups[q.params[0]]
	if !ok {
		return 0, nil, notFound("storage group", q.params[0])
	}
	v, ok := s.volumes[g.uri+"/storage-volumes/"+q.params[1]]
	if !ok {
		return 0, nil, notFound("storage volume", q.params[1])
	}
	return getOne(q, s.volumeProps(v))
}

// ---- partitions

func hPartList(s *Sim, q *req) (int, any, *apiError) {
	c, e := s.getCPC(q.params[0])
	if e != nil {
		return 0, nil, e
	}
	var ps []*partition
	if c.DPMEnabled {
		for _, id := range s.partOrder {
			if p := s.partitions[id]; p.cpc == c {
				ps = append(ps, p)
			}
		}
	}
	return listOf(q, "partitions", ps, s.partitionProps, []string{"object-uri", "name", "status", "type"}, "name", "status", "type")
}

func (s *Sim) getPartition(id string) (*partition, *apiError) {
	p, ok := s.partitions[id]
	if !ok {
		return nil, notFound("partition", id)
	}
	return p, nil
}

func hPartCreate(s *Sim, q *req) (int, any, *apiError) {
	c, e := s.getCPC(q.params[0])
	if e != nil {
		return 0, nil, e
	}
	if !c.DPMEnabled {
		return 0, nil, errf(409, 5, "The CPC %s is not in DPM mode", c.Name)
	}
	in, e := decodeBody(q.body)
	if e != nil {
		return 0, nil, e
	}
	m, e := normalize(in, partitionFields, true)
	if e != nil {
		return 0, nil, e
	}
	for _, k := range []string{"name", "initial-memory", "maximum-memory"} {
		if _, ok := m[k]; !ok {
			return 0, nil, errf(400, 5, "The request body is missing the required field '%s'", k)
		}
	}
	if m["ifl-processors"] == nil && m["cp-processors"] == nil {
		return 0, nil, errf(400, 5, "The request body is missing the required field 'ifl-processors' or 'cp-processors'")
	}
	if e := checkPartitionValues(m, c); e != nil {
		return 0, nil, e
	}
	if m["initial-memory"].(int64) > m["maximum-memory"].(int64) {
		return 0, nil, badValue("initial-memory", "greater than maximum-memory")
	}
	if s.partitionByName(c, m["name"].(string)) != nil {
		return 0, nil, errf(400, 8, msgNotUnique)
	}
	id := newID()
	p := &partition{id: id, uri: "/api/partitions/" + id, cpc: c, status: "stopped", devnos: map[int]string{}}
	p.props = map[string]any{
		"class": "partition", "parent": c.uri, "object-id": id, "object-uri": p.uri,
		"description": "", "type": "linux", "short-name": strings.ToUpper("P" + randHex(8)[:7]),
		"partition-id": nil, "autogenerate-partition-id": true, "reserve-resources": false,
		"processor-mode": "shared", "ifl-processors": int64(0), "cp-processors": int64(0),
		"boot-device": "none", "boot-timeout": int64(60), "boot-os-specific-parameters": "",
		"boot-storage-device": nil, "boot-world-wide-port-name": "", "boot-logical-unit-number": "",
		"boot-network-device": nil, "boot-load-parameters": "", "boot-configuration-selector": int64(0),
		"os-name": "", "os-type": "", "os-version": "",
	}
	if c.StorageManagement {
		p.props["boot-storage-volume"] = nil
	}
	for k, v := range m {
		p.props[k] = v
	}
	s.partitions[id] = p
	s.partOrder = append(s.partOrder, id)
	q.w.Header().Set("Location", p.uri)
	return 201, map[string]any{"object-uri": p.uri}, nil
}

func hPartGet(s *Sim, q *req) (int, any, *apiError) {
	p, e := s.getPartition(q.params[0])
	if e != nil {
		return 0, nil, e
	}
	if e := checkQuery(q, "properties"); e != nil {
		return 0, nil, e
	}
	return getOne(q, s.partitionProps(p))
}

func hPartUpdate(s *Sim, q *req) (int, any, *apiError) {
	p, e := s.getPartition(q.params[0])
	if e != nil {
		return 0, nil, e
	}
	in, e := decodeBody(q.body)
	if e != nil {
		return 0, nil, e
	}
	m, e := normalize(in, partitionFields, false)
	if e != nil {
		return 0, nil, e
	}
	if _, ok := m["boot-storage-volume"]; ok && !p.cpc.StorageManagement {
		return 0, nil, errf(400, 6, "The JSON object contains an unrecognized field ('boot-storage-volume')")
	}
	if e := checkPartitionValues(m, p.cpc); e != nil {
		return 0, nil, e
	}
	if v, ok := m["boot-storage-volume"].(string); ok {
		if _, exists := s.volumes[v]; !exists {
			return 0, nil, badValue("boot-storage-volume", "not a storage volume URI") // guess: 400/7
		}
	}
	if v, ok := m["boot-storage-device"].(string); ok {
		found := false
		for _, h := range p.hbas {
			found = found || h.uri == v
		}
		if !found {
			return 0, nil, badValue("boot-storage-device", "not an HBA of this partition") // guess: 400/7
		}
	}
	init, max := p.props["initial-memory"], p.props["maximum-memory"]
	if v, ok := m["initial-memory"]; ok {
		init = v
	}
	if v, ok := m["maximum-memory"]; ok {
		max = v
	}
	if init.(int64) > max.(int64) {
		return 0, nil, badValue("initial-memory", "greater than maximum-memory")
	}
	if n, ok := m["name"].(string); ok && n != p.props["name"] && s.partitionByName(p.cpc, n) != nil {
		return 0, nil, errf(400, 8, msgNotUnique)
	}
	for k, v := range m {
		p.props[k] = v
	}
	return 204, nil, nil
}

func hPartDelete(s *Sim, q *req) (int, any, *apiError) {
	p, e := s.getPartition(q.params[0])
	if e != nil {
		return 0, nil, e
	}
	if p.status != "stopped" {
		return 0, nil, errf(409, 1, msgBadState)
	}
	for _, n := range p.nics {
		n.vs.vnics = without(n.vs.vnics, n.uri)
	}
	for _, gid := range p.sgroups {
		if g := s.sgroups[gid]; g != nil {
			g.parts = without(g.parts, p.id)
		}
	}
	delete(s.partitions, p.id)
	s.partOrder = without(s.partOrder, p.id)
	return 204, nil, nil
}

func without(list []string, v string) []string {
	out := list[:0]
	for _, x := range list {
		if x != v {
			out = append(out, x)
		}
	}
	return out
}

func (s *Sim) newJob(q *req, op string, p *partition) *job {
	id := newID()
	j := &job{id: id, uri: "/api/jobs/" + id, op: op, part: p.id, status: "running",
		doneAt: q.now.Add(s.jobTime), createdAt: q.now}
	if op == "start" && len(s.faults.failStarts) > 0 {
		f := s.faults.failStarts[0]
		s.faults.failStarts = s.faults.failStarts[1:]
		j.fail = &f
	}
	s.jobs[id] = j
	if s.jobTime <= 0 {
		s.completeJob(j)
	}
	return j
}

func hPartStart(s *Sim, q *req) (int, any, *apiError) {
	p, e := s.getPartition(q.params[0])
	if e != nil {
		return 0, nil, e
	}
	if p.status != "stopped" {
		return 0, nil, errf(409, 1, "%s: only partitions in the Stopped state can be started (status is %s)", msgBadState, p.status)
	}
	p.status = "starting"
	j := s.newJob(q, "start", p)
	return 202, map[string]any{"job-uri": j.uri}, nil
}

func hPartStop(s *Sim, q *req) (int, any, *apiError) {
	p, e := s.getPartition(q.params[0])
	if e != nil {
		return 0, nil, e
	}
	switch p.status {
	case "active", "paused", "terminated", "degraded": // guess: degraded allowed (open question in the mock)
	default:
		return 0, nil, errf(409, 1, "%s (status is %s)", msgBadState, p.status)
	}
	p.status, p.activeAt = "stopping", timeZero
	j := s.newJob(q, "stop", p)
	return 202, map[string]any{"job-uri": j.uri}, nil
}

// ---- jobs

func hJobGet(s *Sim, q *req) (int, any, *apiError) {
	j, ok := s.jobs[q.params[0]]
	if !ok {
		return 0, nil, notFound("job", q.params[0])
	}
	out := map[string]any{"status": j.status}
	if j.status == "complete" || j.status == "canceled" {
		out["job-status-code"] = j.code
		out["job-results"] = nil
		if j.code < 200 || j.code > 299 {
			out["job-reason-code"] = j.reason
			out["job-results"] = map[string]any{"message": j.message}
		}
	}
	return 200, out, nil
}

func hJobDelete(s *Sim, q *req) (int, any, *apiError) {
	j, ok := s.jobs[q.params[0]]
	if !ok {
		return 0, nil, notFound("job", q.params[0])
	}
	if j.status == "running" || j.status == "cancel-pending" {
		return 0, nil, errf(409, 40, "The job has not yet ended")
	}
	delete(s.jobs, j.id)
	return 204, nil, nil
}

func hJobCancel(s *Sim, q *req) (int, any, *apiError) {
	j, ok := s.jobs[q.params[0]]
	if !ok {
		return 0, nil, notFound("job", q.params[0])
	}
	if j.status != "running" {
		return 0, nil, errf(409, 41, "The job has already ended") // guess: reason 41
	}
	return 0, nil, errf(409, 43, "The job cannot be canceled") // guess: start/stop jobs are not cancelable, reason 43
}

// ---- NICs

func nicBusy(p *partition) *apiError {
	if p.status == "starting" || p.status == "stopping" {
		return errf(409, 1, "%s (status is %s)", msgBadState, p.status)
	}
	return nil
}

func (s *Sim) getNIC(q *req) (*partition, *nic, *apiError) {
	p, e := s.getPartition(q.params[0])
	if e != nil {
		return nil, nil, e
	}
	for _, n := range p.nics {
		if n.id == q.params[1] {
			return p, n, nil
		}
	}
	return nil, nil, notFound("NIC", q.params[1])
}

// checkDevno validates a requested device number and whether span
// numbers from it are free (ignoring owner's own).
func checkDevno(p *partition, v string, span int, owner string) (int, *apiError) {
	if !isHex4(v) {
		return 0, badValue("device-number", "must be 4 hexadecimal digits")
	}
	d, _ := strconv.ParseUint(v, 16, 32)
	for i := 0; i < span; i++ {
		if o, used := p.devnos[int(d)+i]; (used && o != owner) || int(d)+i > 0xFFFF {
			return 0, errf(400, 8, "The value of device-number does not provide a unique value for the corresponding data model property as required") // guess: 400/8 as for names
		}
	}
	return int(d), nil
}

func hNICCreate(s *Sim, q *req) (int, any, *apiError) {
	p, e := s.getPartition(q.params[0])
	if e != nil {
		return 0, nil, e
	}
	in, e := decodeBody(q.body)
	if e != nil {
		return 0, nil, e
	}
	m, e := normalize(in, nicFields, true)
	if e != nil {
		return 0, nil, e
	}
	if _, ok := m["mac-address"]; ok && !s.inv.macWritable() {
		return 0, nil, errf(400, 6, "The JSON object contains an unrecognized field ('mac-address')")
	}
	if _, ok := m["name"]; !ok {
		return 0, nil, errf(400, 5, "The request body is missing the required field 'name'")
	}
	if e := checkName(m["name"]); e != nil {
		return 0, nil, e
	}
	vsURI, hasVS := m["virtual-switch-uri"].(string)
	if _, hasPort := m["network-adapter-port-uri"]; !hasVS {
		if hasPort {
			return 0, nil, errf(404, 2, "The network adapter port designated by network-adapter-port-uri does not exist") // guess: RoCE backing not modelled
		}
		return 0, nil, errf(400, 5, "The request body is missing the required field 'virtual-switch-uri'")
	}
	var vs *vswitch
	if id, ok := strings.CutPrefix(vsURI, "/api/virtual-switches/"); ok {
		vs = s.vswitches[id]
	}
	if vs == nil || vs.cpc != p.cpc {
		return 0, nil, errf(404, 2, "The virtual switch %s does not exist", vsURI)
	}
	if mac, ok := m["mac-address"].(string); ok && !reMAC.MatchString(mac) {
		return 0, nil, badValue("mac-address", "must be six colon-separated hexadecimal bytes")
	}
	if e := nicBusy(p); e != nil {
		return 0, nil, e
	}
	if p.nicByName(m["name"].(string)) != nil {
		return 0, nil, errf(400, 8, msgNotUnique)
	}
	typ := map[string]string{"osd": "osd", "hipersockets": "iqd"}[vs.adapter.Type]
	span := nicSpan(typ)
	id := newID()
	var d int
	if v, ok := m["device-number"].(string); ok {
		if d, e = checkDevno(p, v, span, id); e != nil {
			return 0, nil, e
		}
	} else {
		var ok bool
		if d, ok = p.allocDevno(span); !ok {
			return 0, nil, errf(409, 1, "No device numbers are available in the partition") // guess: reason
		}
	}
	p.claimDevno(d, span, id)
	n := &nic{id: id, uri: p.uri + "/nics/" + id, vs: vs}
	n.props = map[string]any{
		"class": "nic", "parent": p.uri, "element-id": id, "element-uri": n.uri,
		"name": m["name"], "description": "", "type": typ, "virtual-switch-uri": vs.uri,
		"device-number": fmtDevno(d), "mac-address": genMAC(), "vlan-id": nil, "vlan-type": nil,
		"ssc-management-nic": false, "ssc-ip-address-type": nil, "ssc-ip-address": nil,
		"ssc-mask-prefix": nil, "ssc-default-gateway": nil,
	}
	for k, v := range m {
		switch k {
		case "device-number":
		case "mac-address":
			n.props[k] = strings.ToLower(v.(string))
		default:
			n.props[k] = v
		}
	}
	p.nics = append(p.nics, n)
	vs.vnics = append(vs.vnics, n.uri)
	q.w.Header().Set("Location", n.uri)
	return 201, map[string]any{"element-uri": n.uri}, nil
}

func genMAC() string {
	b := make([]byte, 5)
	rand.Read(b)
	return fmt.Sprintf("02:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4])
}

func hNICGet(s *Sim, q *req) (int, any, *apiError) {
	_, n, e := s.getNIC(q)
	if e != nil {
		return 0, nil, e
	}
	if e := checkQuery(q, "properties"); e != nil {
		return 0, nil, e
	}
	return getOne(q, copyMap(n.props))
}

func hNICUpdate(s *Sim, q *req) (int, any, *apiError) {
	p, n, e := s.getNIC(q)
	if e != nil {
		return 0, nil, e
	}
	in, e := decodeBody(q.body)
	if e != nil {
		return 0, nil, e
	}
	m, e := normalize(in, nicFields, false)
	if e != nil {
		return 0, nil, e
	}
	if _, ok := m["mac-address"]; ok && !s.inv.macWritable() {
		return 0, nil, errf(400, 6, "The JSON object contains an unrecognized field ('mac-address')")
	}
	if v, ok := m["name"]; ok {
		if e := checkName(v); e != nil {
			return 0, nil, e
		}
	}
	if mac, ok := m["mac-address"].(string); ok && !reMAC.MatchString(mac) {
		return 0, nil, badValue("mac-address", "must be six colon-separated hexadecimal bytes")
	}
	if e := nicBusy(p); e != nil {
		return 0, nil, e
	}
	if v, ok := m["name"].(string); ok && v != n.props["name"] && p.nicByName(v) != nil {
		return 0, nil, errf(400, 8, msgNotUnique)
	}
	if v, ok := m["device-number"].(string); ok {
		span := nicSpan(n.props["type"].(string))
		d, e := checkDevno(p, v, span, n.id)
		if e != nil {
			return 0, nil, e
		}
		p.releaseDevnos(n.id)
		p.claimDevno(d, span, n.id)
		m["device-number"] = fmtDevno(d)
	}
	if v, ok := m["mac-address"].(string); ok {
		m["mac-address"] = strings.ToLower(v)
	}
	for k, v := range m {
		n.props[k] = v
	}
	return 204, nil, nil
}

func hNICDelete(s *Sim, q *req) (int, any, *apiError) {
	p, n, e := s.getNIC(q)
	if e != nil {
		return 0, nil, e
	}
	if e := nicBusy(p); e != nil {
		return 0, nil, e
	}
	p.releaseDevnos(n.id)
	n.vs.vnics = without(n.vs.vnics, n.uri)
	var keep []*nic
	for _, x := range p.nics {
		if x != n {
			keep = append(keep, x)
		}
	}
	p.nics = keep
	return 204, nil, nil
}

// ---- HBAs (z13 class, no dpm-storage-management)

var reStoragePort = regexp.MustCompile(`^/api/adapters/([^/]+)/storage-ports/([^/]+)$`)

func (s *Sim) getHBA(q *req) (*partition, *hba, *apiError) {
	p, e := s.getPartition(q.params[0])
	if e != nil {
		return nil, nil, e
	}
	for _, h := range p.hbas {
		if h.id == q.params[1] {
			return p, h, nil
		}
	}
	return nil, nil, notFound("HBA", q.params[1])
}

func hHBACreate(s *Sim, q *req) (int, any, *apiError) {
	p, e := s.getPartition(q.params[0])
	if e != nil {
		return 0, nil, e
	}
	if p.cpc.StorageManagement {
		return 0, nil, errf(409, 1, "HBAs cannot be created on a CPC with the dpm-storage-management feature; use storage groups") // guess: code
	}
	in, e := decodeBody(q.body)
	if e != nil {
		return 0, nil, e
	}
	m, e := normalize(in, hbaFields, true)
	if e != nil {
		return 0, nil, e
	}
	for _, k := range []string{"name", "adapter-port-uri"} {
		if _, ok := m[k]; !ok {
			return 0, nil, errf(400, 5, "The request body is missing the required field '%s'", k)
		}
	}
	if e := checkName(m["name"]); e != nil {
		return 0, nil, e
	}
	pu := m["adapter-port-uri"].(string)
	sm := reStoragePort.FindStringSubmatch(pu)
	if sm == nil {
		return 0, nil, errf(404, 2, "The adapter designated by adapter-port-uri %s does not exist", pu)
	}
	a, ok := s.adapters[sm[1]]
	if !ok || a.cpc != p.cpc {
		return 0, nil, errf(404, 2, "The adapter designated by adapter-port-uri %s does not exist", pu)
	}
	if a.Type != "fcp" {
		return 0, nil, badValue("adapter-port-uri", "the adapter is not an FCP adapter") // guess: 400/7
	}
	port, err := strconv.Atoi(sm[2])
	if err != nil || port < 0 || port >= a.Ports {
		return 0, nil, errf(404, 6, "The port designated by adapter-port-uri %s does not exist", pu)
	}
	if e := nicBusy(p); e != nil {
		return 0, nil, e
	}
	if p.hbaByName(m["name"].(string)) != nil {
		return 0, nil, errf(400, 8, msgNotUnique)
	}
	id := newID()
	var d int
	if v, ok := m["device-number"].(string); ok {
		if d, e = checkDevno(p, v, 1, id); e != nil {
			return 0, nil, e
		}
	} else if d, ok = p.allocDevno(1); !ok {
		return 0, nil, errf(409, 1, "No device numbers are available in the partition") // guess: reason
	}
	p.claimDevno(d, 1, id)
	s.seq++
	h := &hba{id: id, uri: p.uri + "/hbas/" + id}
	h.props = map[string]any{
		"class": "hba", "parent": p.uri, "element-id": id, "element-uri": h.uri,
		"name": m["name"], "description": "", "adapter-port-uri": pu,
		"device-number": fmtDevno(d), "wwpn": fmt.Sprintf("%s%06X", a.WWPNPrefix, s.seq&0xFFFFFF),
	}
	if v, ok := m["description"]; ok {
		h.props["description"] = v
	}
	p.hbas = append(p.hbas, h)
	q.w.Header().Set("Location", h.uri)
	return 201, map[string]any{"element-uri": h.uri}, nil
}

func hHBAGet(s *Sim, q *req) (int, any, *apiError) {
	_, h, e := s.getHBA(q)
	if e != nil {
		return 0, nil, e
	}
	if e := checkQuery(q, "properties"); e != nil {
		return 0, nil, e
	}
	return getOne(q, copyMap(h.props))
}

func hHBAUpdate(s *Sim, q *req) (int, any, *apiError) {
	p, h, e := s.getHBA(q)
	if e != nil {
		return 0, nil, e
	}
	in, e := decodeBody(q.body)
	if e != nil {
		return 0, nil, e
	}
	m, e := normalize(in, hbaFields, false)
	if e != nil {
		return 0, nil, e
	}
	if v, ok := m["name"]; ok {
		if e := checkName(v); e != nil {
			return 0, nil, e
		}
	}
	if e := nicBusy(p); e != nil {
		return 0, nil, e
	}
	if v, ok := m["name"].(string); ok && v != h.props["name"] && p.hbaByName(v) != nil {
		return 0, nil, errf(400, 8, msgNotUnique)
	}
	if v, ok := m["device-number"].(string); ok {
		d, e := checkDevno(p, v, 1, h.id)
		if e != nil {
			return 0, nil, e
		}
		p.releaseDevnos(h.id)
		p.claimDevno(d, 1, h.id)
		m["device-number"] = fmtDevno(d)
	}
	for k, v := range m {
		h.props[k] = v
	}
	return 204, nil, nil
}

func hHBADelete(s *Sim, q *req) (int, any, *apiError) {
	p, h, e := s.getHBA(q)
	if e != nil {
		return 0, nil, e
	}
	if e := nicBusy(p); e != nil {
		return 0, nil, e
	}
	p.releaseDevnos(h.id)
	var keep []*hba
	for _, x := range p.hbas {
		if x != h {
			keep = append(keep, x)
		}
	}
	p.hbas = keep
	return 204, nil, nil
}

// ---- storage group attachment (dpm-storage-management)

func (s *Sim) sgFromBody(q *req, p *partition) (*sgroup, *apiError) {
	if !p.cpc.StorageManagement {
		return nil, errf(409, 1, "The CPC does not have the dpm-storage-management feature") // guess: code
	}
	in, e := decodeBody(q.body)
	if e != nil {
		return nil, e
	}
	u, ok := in["storage-group-uri"].(string)
	if !ok {
		if _, present := in["storage-group-uri"]; present {
			return nil, badValue("storage-group-uri", "must be a string")
		}
		return nil, errf(400, 5, "The request body is missing the required field 'storage-group-uri'")
	}
	for k := range in {
		if k != "storage-group-uri" {
			return nil, errf(400, 6, "The JSON object contains an unrecognized field ('%s')", k)
		}
	}
	var g *sgroup
	if id, ok := strings.CutPrefix(u, "/api/storage-groups/"); ok {
		g = s.sgroups[id]
	}
	if g == nil || g.cpc != p.cpc {
		return nil, errf(404, 2, "The storage group %s does not exist", u)
	}
	return g, nil
}

func hSGAttach(s *Sim, q *req) (int, any, *apiError) {
	p, e := s.getPartition(q.params[0])
	if e != nil {
		return 0, nil, e
	}
	g, e := s.sgFromBody(q, p)
	if e != nil {
		return 0, nil, e
	}
	if e := nicBusy(p); e != nil {
		return 0, nil, e
	}
	for _, id := range p.sgroups {
		if id == g.ObjectID {
			return 0, nil, errf(409, 1, "The storage group is already attached to the partition") // guess: code
		}
	}
	p.sgroups = append(p.sgroups, g.ObjectID)
	g.parts = append(g.parts, p.id)
	return 204, nil, nil
}

func hSGDetach(s *Sim, q *req) (int, any, *apiError) {
	p, e := s.getPartition(q.params[0])
	if e != nil {
		return 0, nil, e
	}
	g, e := s.sgFromBody(q, p)
	if e != nil {
		return 0, nil, e
	}
	if e := nicBusy(p); e != nil {
		return 0, nil, e
	}
	found := false
	for _, id := range p.sgroups {
		found = found || id == g.ObjectID
	}
	if !found {
		return 0, nil, errf(409, 1, "The storage group is not attached to the partition") // guess: code
	}
	p.sgroups = without(p.sgroups, g.ObjectID)
	g.parts = without(g.parts, p.id)
	return 204, nil, nil
}
