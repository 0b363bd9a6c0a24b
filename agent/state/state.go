// Package state keeps the agent's machine-readable record of what it did,
// /run/zguest/state.json, which `zguest-agent status` prints and which
// other tools may read. It lives under /run: it describes this boot only.
package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"
)

// Path is the state file, relative to the root.
const Path = "run/zguest/state.json"

// Version of the state file format.
const Version = 1

// Outcomes of a NIC.
const (
	OutcomeUp     = "up"     // grouped, online, named and carrying its MAC
	OutcomeFailed = "failed" // see Error
)

// State is the document.
type State struct {
	Version  int        `json:"version"`
	Platform string     `json:"platform,omitempty"`
	Started  time.Time  `json:"started"`
	Finished time.Time  `json:"finished"`
	OK       bool       `json:"ok"`
	NICs     []NIC      `json:"nics"`
	Problems []string   `json:"problems,omitempty"` // problems in the NIC sources
	Runs     []RunEntry `json:"runs"`
	// Reader is what the z/VM reader runs did in this boot (nil elsewhere).
	Reader *Reader `json:"reader,omitempty"`
}

// Reader outcomes of a file.
const (
	ReaderApplied = "applied" // received and used
	ReaderLeft    = "left"    // left in the reader untouched
	ReaderFailed  = "failed"  // see Reason
	// ReaderRefused: not used because of who sent it, its size or its
	// identity (see Reason); purged from the reader.
	ReaderRefused = "refused"
)

// MaxReaderFiles caps the reader records kept: files left in the reader
// are listed again by every run, and the state file lives in RAM.
const MaxReaderFiles = 1000

// Reader is the record of the z/VM reader processing.
type Reader struct {
	// ConfigDrive says how the kept config drive was presented.
	ConfigDrive string       `json:"config_drive,omitempty"`
	Files       []ReaderFile `json:"files"`
	// Error is set when the reader could not be read at all.
	Error string `json:"error,omitempty"`
}

// ReaderFile is one spool file's outcome.
type ReaderFile struct {
	SpoolID    int    `json:"spoolid"`
	Origin     string `json:"origin"`
	Name       string `json:"name"` // name.type
	Class      string `json:"class"`
	Outcome    string `json:"outcome"`
	Reason     string `json:"reason,omitempty"`
	ExitStatus *int   `json:"exit_status,omitempty"`
	// Purged says the file is no longer in the reader (received or
	// purged).
	Purged bool      `json:"purged,omitempty"`
	At     time.Time `json:"at"`
}

// AddFiles records files: a spool id already recorded is replaced, not
// added again (a file left in the reader is seen by every run), and only
// the MaxReaderFiles latest records are kept.
func (r *Reader) AddFiles(files []ReaderFile) {
	latest := make(map[int]int, len(files)) // spool id -> index in files
	for i, f := range files {
		latest[f.SpoolID] = i
	}
	out := make([]ReaderFile, 0, len(r.Files)+len(latest))
	for _, f := range r.Files {
		if _, again := latest[f.SpoolID]; !again {
			out = append(out, f)
		}
	}
	for i, f := range files {
		if latest[f.SpoolID] == i {
			out = append(out, f)
		}
	}
	if n := len(out) - MaxReaderFiles; n > 0 {
		out = out[n:]
	}
	r.Files = out
}

// RunEntry records one invocation.
type RunEntry struct {
	Command  string    `json:"command"`
	Started  time.Time `json:"started"`
	Duration string    `json:"duration"`
	OK       bool      `json:"ok"`
}

// NIC is one NIC's record.
type NIC struct {
	BusID       string   `json:"busid"`
	Subchannels []string `json:"subchannels"`
	IfName      string   `json:"ifname,omitempty"`
	MAC         string   `json:"mac,omitempty"`
	WantMAC     string   `json:"want_mac,omitempty"`
	Port        int      `json:"port"`
	Layer2      int      `json:"layer2"`
	Outcome     string   `json:"outcome"`
	Error       string   `json:"error,omitempty"`
	Changed     []string `json:"changed,omitempty"`
	Warnings    []string `json:"warnings,omitempty"`
	Sources     []string `json:"sources,omitempty"`
}

// Load reads the state under root; a missing file gives an empty state.
func Load(root string) (*State, error) {
	b, err := os.ReadFile(filepath.Join(root, Path))
	if errors.Is(err, fs.ErrNotExist) {
		return &State{Version: Version}, nil
	}
	if err != nil {
		return nil, err
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(root, Path), err)
	}
	if s.Version != Version {
		return nil, fmt.Errorf("%s: version %d, this agent reads %d", filepath.Join(root, Path), s.Version, Version)
	}
	return &s, nil
}

// Update loads the state under root, lets fn change it and writes it back
// atomically, holding an exclusive lock so that concurrent agents (the
// boot unit and setmac instances) do not lose each other's records.
func Update(root string, fn func(*State)) error {
	dir := filepath.Join(root, filepath.Dir(Path))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	s, err := Load(root)
	if err != nil {
		// A damaged file from an earlier run is replaced, not fatal.
		s = &State{Version: Version}
	}
	fn(s)
	s.OK = true
	for _, n := range s.NICs {
		if n.Outcome != OutcomeUp {
			s.OK = false
		}
	}
	if len(s.Problems) > 0 {
		s.OK = false
	}
	if s.Reader != nil {
		if s.Reader.Error != "" {
			s.OK = false
		}
		for _, f := range s.Reader.Files {
			if f.Outcome == ReaderFailed || f.Outcome == ReaderRefused {
				s.OK = false
			}
		}
	}
	sort.Slice(s.NICs, func(i, j int) bool { return s.NICs[i].BusID < s.NICs[j].BusID })
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".state-*.json")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(append(b, '\n'))
	cerr := tmp.Close()
	if werr != nil || cerr != nil {
		os.Remove(tmp.Name())
		return errors.Join(werr, cerr)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), filepath.Join(root, Path)); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}

// Upsert replaces the record of n's bus id, or adds it.
func (s *State) Upsert(n NIC) {
	for i := range s.NICs {
		if s.NICs[i].BusID == n.BusID {
			s.NICs[i] = n
			return
		}
	}
	s.NICs = append(s.NICs, n)
}
