package zvm

import (
	"context"
	"errors"
	"fmt"

	"github.com/zguest/zguest/hostside/api"
)

// Journal steps; see the package doc for what Recover does at each.
const (
	stepBegun       = ""            // nothing done yet (create: Image_Create_DM may be in flight)
	stepEntry       = "entry"       // create: directory entry made
	stepDisk        = "disk"        // create: opData.Made minidisks made
	stepRecorded    = "recorded"    // create, deploy: the guest's record written
	stepImage       = "image"       // deploy: image written to the root minidisk
	stepPunching    = "punching"    // the last punch may be in the connector's reader, id unknown
	stepPunched     = "punched"     // the last punch is in the connector's reader with its spool id
	stepTransferred = "transferred" // the last punch reached the guest's reader
	stepPurged      = "purged"      // the last punch was purged after a failure
	stepDeleted     = "deleted"     // delete: directory entry gone
)

// opData is what the journal keeps of an operation.
type opData struct {
	Records []string     `json:"records,omitempty"` // create: the planned directory entry
	Disks   []DiskRecord `json:"disks,omitempty"`   // create: the planned minidisks
	Made    int          `json:"made,omitempty"`    // create: minidisks made so far
	Image   string       `json:"image,omitempty"`   // deploy
	Punches []punchRec   `json:"punches,omitempty"` // deploy, punch
	Staged  string       `json:"staged,omitempty"`  // import: the staging directory
	Dest    string       `json:"dest,omitempty"`    // import: the image's directory in the repository
}

// punchRec is one file punched for a guest.
type punchRec struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	SpoolID     int    `json:"spoolid,omitempty"` // 0: the punch had not returned
	Transferred bool   `json:"transferred,omitempty"`
	Purged      bool   `json:"purged,omitempty"`
}

// errCrashed stops an operation where it is, as a crash would: nothing
// is cleaned up and the journal keeps it pending (tests only).
var errCrashed = errors.New("simulated crash")

// run is an operation in progress.
type run struct {
	b      *Backend
	id     uint64
	kind   string
	target string
	d      opData
}

// begin journals the start of an operation.
func (b *Backend) begin(ctx context.Context, kind, target string, d opData) (*run, error) {
	id, err := b.store.Begin(ctx, kind, target, d)
	if err != nil {
		return nil, internalErr(api.ModGuest, fmt.Errorf("%s %s: journal: %w", kind, target, err))
	}
	r := &run{b: b, id: id, kind: kind, target: target, d: d}
	if b.c.crash != nil && b.c.crash(kind, stepBegun) {
		return nil, errCrashed
	}
	return r, nil
}

// step records that r reached step, with its current data. An error
// leaves the operation pending: callers return it without cleaning up,
// and Recover handles the operation at the next start.
func (r *run) step(ctx context.Context, step string) error {
	if err := r.b.store.Step(ctx, r.id, step, r.d); err != nil {
		return internalErr(api.ModGuest, fmt.Errorf("%s %s: journal step %q: %w", r.kind, r.target, step, err))
	}
	if r.b.c.crash != nil && r.b.c.crash(r.kind, step) {
		return errCrashed
	}
	return nil
}

// end removes r from the journal.
func (r *run) end(ctx context.Context) error {
	if err := r.b.store.End(ctx, r.id); err != nil {
		return internalErr(api.ModGuest, fmt.Errorf("%s %s: journal end: %w", r.kind, r.target, err))
	}
	return nil
}

// endAfter ends r and returns err, or the journal's error.
func (r *run) endAfter(ctx context.Context, err error) error {
	if jerr := r.end(context.WithoutCancel(ctx)); jerr != nil && err == nil {
		return jerr
	}
	return err
}

// clean reports whether no punch of r can still be in the connector's
// reader.
func (r *run) clean() bool {
	for _, p := range r.d.Punches {
		if !p.Transferred && !p.Purged {
			return false
		}
	}
	return true
}
