package hmcsim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// jobFailure is how an injected start-job failure ends.
type jobFailure struct {
	Status  int    `json:"status"`
	Reason  int    `json:"reason"`
	Message string `json:"message"`
	// PartitionStatus is the partition's status after the failed job;
	// default "stopped".
	PartitionStatus string `json:"partition-status"`
}

type busyFault struct {
	match string // "" any request, else "METHOD /api/template"
	n     int
}

type faults struct {
	failStarts []jobFailure
	busy       []busyFault
	latency    time.Duration
}

func (f *faults) takeBusy(key string) bool {
	for i := range f.busy {
		b := &f.busy[i]
		if b.n > 0 && (b.match == "" || b.match == key) {
			b.n--
			if b.n == 0 {
				f.busy = append(f.busy[:i], f.busy[i+1:]...)
			}
			return true
		}
	}
	return false
}

// Default failure of an injected start job. guess: the reference does
// not give the codes of a start that fails on the SE; 500 with reason
// 263 ("the operation failed on the SE") is what this simulator uses.
const (
	FailStatus  = 500
	FailReason  = 263
	FailMessage = "STS00012E The partition failed to start: the operating system could not be loaded" // guess: text
)

// FailNextStart makes the next start job complete with the given
// job-status-code, job-reason-code and job-results message (zero values
// take FailStatus, FailReason, FailMessage) and leaves the partition
// stopped. Calls queue.
func (s *Sim) FailNextStart(status, reason int, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.failStarts = append(s.faults.failStarts, fillFailure(jobFailure{Status: status, Reason: reason, Message: message}))
}

func fillFailure(f jobFailure) jobFailure {
	if f.Status == 0 {
		f.Status = FailStatus
		if f.Reason == 0 {
			f.Reason = FailReason
		}
	}
	if f.Message == "" {
		f.Message = FailMessage
	}
	if f.PartitionStatus == "" {
		f.PartitionStatus = "stopped"
	}
	return f
}

// Busy answers the next n API requests (other than logon, logoff and
// GET /api/version) with 409 reason 2. match restricts it to one
// operation, written "METHOD /api/template" with {id} for ids, e.g.
// "POST /api/partitions/{id}/nics"; "" matches any.
func (s *Sim) Busy(n int, match string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n > 0 {
		s.faults.busy = append(s.faults.busy, busyFault{match, n})
	}
}

// ExpireSessions expires every open session now (403 reason 5 next).
func (s *Sim) ExpireSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ss := range s.sessions {
		ss.expired = true
	}
}

// SetLatency adds d to every later /api request.
func (s *Sim) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.latency = d
}

// SetTiming changes the job duration and the deferred-status delay
// (see Options).
func (s *Sim) SetTiming(job, deferred time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jobTime, s.deferred = job, deferred
}

// SetSessionIdle changes the idle expiry (zero: never).
func (s *Sim) SetSessionIdle(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.idle = d
}

// Counts returns the number of requests per "METHOD /api/template"
// (ids written {id}) since the start or the last ResetCounts, failures
// included.
func (s *Sim) Counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]int, len(s.counts))
	for k, v := range s.counts {
		m[k] = v
	}
	return m
}

// TotalCount is the sum of Counts.
func (s *Sim) TotalCount() int {
	n := 0
	for _, v := range s.Counts() {
		n += v
	}
	return n
}

// ResetCounts zeroes the request counters.
func (s *Sim) ResetCounts() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts = map[string]int{}
}

// GuestShutdown (idOrName: object-id, object-uri or name) simulates an in-band shutdown in the guest of an active
// (or degraded) partition: it turns "paused". idOrName is the
// partition's object-id or name.
func (s *Sim) GuestShutdown(idOrName string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(time.Now())
	p := s.lookupPartition(idOrName)
	if p == nil {
		return fmt.Errorf("hmcsim: no partition %q", idOrName)
	}
	if p.status != "active" && p.status != "degraded" {
		return fmt.Errorf("hmcsim: partition %q is %s, not active", idOrName, p.status)
	}
	p.status = "paused"
	return nil
}

// SetPartitionStatus forces a partition's status (any of the HMC's:
// stopped, terminated, starting, active, stopping, degraded,
// reservation-error, paused, status-check, communications-not-active).
func (s *Sim) SetPartitionStatus(idOrName, status string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(time.Now())
	p := s.lookupPartition(idOrName)
	if p == nil {
		return fmt.Errorf("hmcsim: no partition %q", idOrName)
	}
	switch status {
	case "stopped", "terminated", "starting", "active", "stopping", "degraded",
		"reservation-error", "paused", "status-check", "communications-not-active":
	default:
		return fmt.Errorf("hmcsim: unknown partition status %q", status)
	}
	p.status, p.activeAt = status, time.Time{}
	return nil
}

// PartitionInfo is a snapshot of a partition for tests.
type PartitionInfo struct {
	ObjectID, Name, Status   string
	BootOSSpecificParameters string
	Properties               map[string]any
	NICs                     []map[string]any
	HBAs                     []map[string]any
	StorageGroups            []string
}

// Partitions returns a snapshot of all partitions in creation order.
func (s *Sim) Partitions() []PartitionInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(time.Now())
	var out []PartitionInfo
	for _, id := range s.partOrder {
		p := s.partitions[id]
		pi := PartitionInfo{ObjectID: p.id, Status: p.status, Properties: s.partitionProps(p),
			StorageGroups: append([]string(nil), p.sgroups...)}
		pi.Name, _ = p.props["name"].(string)
		pi.BootOSSpecificParameters, _ = p.props["boot-os-specific-parameters"].(string)
		for _, n := range p.nics {
			pi.NICs = append(pi.NICs, copyMap(n.props))
		}
		for _, h := range p.hbas {
			pi.HBAs = append(pi.HBAs, copyMap(h.props))
		}
		out = append(out, pi)
	}
	return out
}

// Partition returns one partition by object-id or name.
func (s *Sim) Partition(idOrName string) (PartitionInfo, bool) {
	for _, p := range s.Partitions() {
		if p.ObjectID == idOrName || p.Name == idOrName {
			return p, true
		}
	}
	return PartitionInfo{}, false
}

// JobCount is the number of jobs not yet deleted.
func (s *Sim) JobCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.jobs)
}

// SessionCount is the number of sessions logged on and not expired.
func (s *Sim) SessionCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, ss := range s.sessions {
		if !ss.expired {
			n++
		}
	}
	return n
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// serveAdmin serves the simulator's own endpoints (no session needed):
//
//	POST /sim/fail-next-start  {"status":500,"reason":263,"message":"...","partition-status":"stopped"} (all optional)
//	POST /sim/busy             {"count":N,"match":"POST /api/partitions/{id}/nics"}
//	POST /sim/expire-sessions
//	POST /sim/latency          {"ms":50}
//	POST /sim/timing           {"job-ms":50,"deferred-ms":100}
//	POST /sim/guest-shutdown   {"partition":"<object-id or name>"}
//	POST /sim/partition-status {"partition":"...","status":"..."}
//	GET  /sim/counts           {"counts":{...},"total":N}
//	POST /sim/reset-counts
//	GET  /sim/partitions       snapshot
func (s *Sim) serveAdmin(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Status          int    `json:"status"`
		Reason          int    `json:"reason"`
		Message         string `json:"message"`
		PartitionStatus string `json:"partition-status"`
		Count           int    `json:"count"`
		Match           string `json:"match"`
		MS              int    `json:"ms"`
		JobMS           int    `json:"job-ms"`
		DeferredMS      int    `json:"deferred-ms"`
		Partition       string `json:"partition"`
	}
	fail := func(code int, err error) {
		http.Error(w, err.Error(), code)
	}
	if r.Method == http.MethodPost {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		if len(strings.TrimSpace(string(b))) > 0 {
			if err := json.Unmarshal(b, &in); err != nil {
				fail(400, fmt.Errorf("bad JSON: %w", err))
				return
			}
		}
	}
	ok := func() { w.WriteHeader(http.StatusNoContent) }
	switch r.Method + " " + r.URL.Path {
	case "POST /sim/fail-next-start":
		f := fillFailure(jobFailure{Status: in.Status, Reason: in.Reason, Message: in.Message, PartitionStatus: in.PartitionStatus})
		s.mu.Lock()
		s.faults.failStarts = append(s.faults.failStarts, f)
		s.mu.Unlock()
		ok()
	case "POST /sim/busy":
		s.Busy(in.Count, in.Match)
		ok()
	case "POST /sim/expire-sessions":
		s.ExpireSessions()
		ok()
	case "POST /sim/latency":
		s.SetLatency(time.Duration(in.MS) * time.Millisecond)
		ok()
	case "POST /sim/timing":
		s.SetTiming(time.Duration(in.JobMS)*time.Millisecond, time.Duration(in.DeferredMS)*time.Millisecond)
		ok()
	case "POST /sim/guest-shutdown":
		if err := s.GuestShutdown(in.Partition); err != nil {
			fail(409, err)
			return
		}
		ok()
	case "POST /sim/partition-status":
		if err := s.SetPartitionStatus(in.Partition, in.PartitionStatus); err != nil {
			fail(409, err)
			return
		}
		ok()
	case "GET /sim/counts":
		c := s.Counts()
		total := 0
		for _, v := range c {
			total += v
		}
		s.writeJSON(w, 200, map[string]any{"counts": c, "total": total})
	case "POST /sim/reset-counts":
		s.ResetCounts()
		ok()
	case "GET /sim/partitions":
		s.writeJSON(w, 200, s.Partitions())
	default:
		fail(404, fmt.Errorf("no such simulator endpoint %s %s", r.Method, r.URL.Path))
	}
}
