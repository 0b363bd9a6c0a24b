package api

import "time"

// Observer sees what the handler does, for metrics (package
// hostside/metrics implements it). Routes are the patterns of the
// mux ("POST /guests/{userid}/action"), never raw paths.
type Observer interface {
	// Request is one answered request.
	Request(route string, status, overallRC int, d time.Duration)
	// Backend is the work behind a route once the request is accepted;
	// overallRC 0 is success.
	Backend(route string, overallRC int, d time.Duration)
	// Deploys moves the count of deploy/capture slots held.
	Deploys(delta int)
	// Rejected is a request refused before any work, for reason.
	Rejected(reason string)
}

type nopObserver struct{}

func (nopObserver) Request(string, int, int, time.Duration) {}
func (nopObserver) Backend(string, int, time.Duration)      {}
func (nopObserver) Deploys(int)                             {}
func (nopObserver) Rejected(string)                         {}

func (h *Handler) obs() Observer {
	if h.opt.Observer == nil {
		return nopObserver{}
	}
	return h.opt.Observer
}

// AsErrorOrNil is AsError for a non-nil err, nil otherwise (also for a
// typed nil *Error from a backend).
func AsErrorOrNil(err error) *Error {
	if err == nil {
		return nil
	}
	return AsError(err)
}
