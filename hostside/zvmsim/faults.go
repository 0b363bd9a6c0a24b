package zvmsim

import (
	"strings"
	"time"
)

type faults struct {
	drop    int            // connections to drop before reading the request
	locked  map[string]int // target -> calls left to answer 400/12
	fail    []failRule
	latency time.Duration
	cpDelay time.Duration
}

type failRule struct {
	function string
	rc, rs   int
	left     int
}

// DropConnections makes the next n connections close before the request
// is read (the client sees no request id and may retry).
func (s *Sim) DropConnections(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.drop = n
}

// LockImage answers 400/12 (image definition locked) to the next n
// directory (*_DM) calls for target.
func (s *Sim) LockImage(target string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults.locked == nil {
		s.faults.locked = map[string]int{}
	}
	s.faults.locked[strings.ToUpper(target)] = n
}

// FailNext answers rc/rs to the next n calls of function.
func (s *Sim) FailNext(function string, rc, rs, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.fail = append(s.faults.fail, failRule{function: function, rc: rc, rs: rs, left: n})
}

// SetLatency delays every SMAPI reply by d.
func (s *Sim) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.latency = d
}

// SetCPLatency delays every CP command and punch of the connector's
// guest (HostCP, in-process or through ServeCP) by d.
func (s *Sim) SetCPLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.cpDelay = d
}

// cpLatency sleeps for the CP latency set with SetCPLatency.
func (s *Sim) cpLatency() {
	s.mu.Lock()
	d := s.faults.cpDelay
	s.mu.Unlock()
	time.Sleep(d)
}

// takeDrop reports whether this connection is to be dropped.
func (s *Sim) takeDrop() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults.drop > 0 {
		s.faults.drop--
		return true
	}
	return false
}

// injected returns an injected reply for function/target; s.mu is held.
func (s *Sim) injected(function, target string) (rc, rs int, ok bool) {
	for i := range s.faults.fail {
		r := &s.faults.fail[i]
		if r.left > 0 && r.function == function {
			r.left--
			return r.rc, r.rs, true
		}
	}
	if strings.HasSuffix(function, "_DM") && s.faults.locked[target] > 0 {
		s.faults.locked[target]--
		return 400, 12, true
	}
	return 0, 0, false
}
