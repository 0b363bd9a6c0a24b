package report

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Status sends STATUS= lines to systemd (a no-op outside a unit) saying
// what the agent still waits for, at most every Interval.
type Status struct {
	Interval time.Duration
	notify   func(string)

	mu      sync.Mutex
	total   int
	done    int
	waiting map[string]string // bus id -> what it waits for
	last    time.Time
}

// NewStatus returns a Status for total NICs.
func NewStatus(total int) *Status {
	return &Status{Interval: 200 * time.Millisecond, total: total, waiting: map[string]string{},
		notify: func(s string) { _, _ = daemon.SdNotify(false, s) }}
}

// Total sets the number of NICs.
func (s *Status) Total(n int) {
	s.mu.Lock()
	s.total = n
	s.mu.Unlock()
}

// Waiting records that a NIC waits for something and maybe sends a status.
func (s *Status) Waiting(id, what string) {
	s.mu.Lock()
	s.waiting[id] = what
	s.mu.Unlock()
	s.send(false)
}

// Done records a finished NIC.
func (s *Status) Done(id string) {
	s.mu.Lock()
	delete(s.waiting, id)
	s.done++
	s.mu.Unlock()
	s.send(false)
}

// Final sends the last status and READY=1.
func (s *Status) Final(summary string) {
	s.notify("READY=1\nSTATUS=" + summary)
}

func (s *Status) send(force bool) {
	s.mu.Lock()
	now := time.Now()
	if !force && now.Sub(s.last) < s.Interval {
		s.mu.Unlock()
		return
	}
	s.last = now
	msg := s.textLocked()
	s.mu.Unlock()
	s.notify("STATUS=" + msg)
}

func (s *Status) textLocked() string {
	if len(s.waiting) == 0 {
		return fmt.Sprintf("%d of %d NICs done", s.done, s.total)
	}
	ids := make([]string, 0, len(s.waiting))
	for id := range s.waiting {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var parts []string
	for i, id := range ids {
		if i == 4 {
			parts = append(parts, fmt.Sprintf("and %d more", len(ids)-4))
			break
		}
		parts = append(parts, id+" ("+s.waiting[id]+")")
	}
	return fmt.Sprintf("%d of %d NICs done; waiting for %s", s.done, s.total, strings.Join(parts, ", "))
}
