package spool

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// MaxSpoolID is the highest spool file id.
const MaxSpoolID = 9999

// PunchRecLen is the record length of the virtual punch.
const PunchRecLen = 80

// Options configure a System.
type Options struct {
	// Clock returns the current time; it stamps spool files. Default time.Now.
	Clock func() time.Time
	// MaxQueue caps the number of files in one user queue; a send beyond it
	// fails with ErrQueueFull. Default MaxSpoolID.
	MaxQueue int
	// HostID is the userid that originates files punched with System.Punch.
	// It is added to the directory, logged on. Default "OPNCLOUD".
	HostID string
	// Logger receives debug records of spool changes. Default: discarded.
	Logger *slog.Logger
}

// System is the CP spool of one emulated z/VM system.
type System struct {
	mu       sync.Mutex
	clock    func() time.Time
	maxQueue int
	hostID   string
	log      *slog.Logger
	users    map[string]*user
	files    map[int]*file
	lastID   int
	hooks    map[int]func(userID string, spoolID int)
	hookSeq  int
}

type user struct {
	id        string
	state     State
	queues    [3][]*file
	rdr       ReaderDev
	pun       PunchDev
	punFile   *file // open punch file
	queueFull bool  // injected HCP439
	punchFail bool  // injected punch EIO
}

type file struct {
	File
	owner *user
}

// New returns an empty spool with the host user in its directory.
func New(opts Options) *System {
	s := &System{
		clock:    opts.Clock,
		maxQueue: opts.MaxQueue,
		hostID:   strings.ToUpper(opts.HostID),
		log:      opts.Logger,
		users:    map[string]*user{},
		files:    map[int]*file{},
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.maxQueue <= 0 || s.maxQueue > MaxSpoolID {
		s.maxQueue = MaxSpoolID
	}
	if s.hostID == "" {
		s.hostID = "OPNCLOUD" // guess: a typical cloud connector userid
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s.users[s.hostID] = newUser(s.hostID, LoggedOn)
	return s
}

func newUser(id string, st State) *user {
	return &user{
		id:    id,
		state: st,
		rdr:   ReaderDev{Class: '*'},
		pun:   PunchDev{Class: 'A', Form: "STANDARD", Dest: "OFF", Dist: id},
	}
}

// HostID returns the userid that originates System.Punch files.
func (s *System) HostID() string { return s.hostID }

// AddUser adds a directory entry. The userid is stored in upper case.
func (s *System) AddUser(id string, st State) error {
	if !ValidUserID(id) {
		return fmt.Errorf("add user %q: %w", id, ErrInvalidUserID)
	}
	id = strings.ToUpper(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[id]; ok {
		return fmt.Errorf("add user %s: %w", id, ErrUserExists)
	}
	s.users[id] = newUser(id, st)
	return nil
}

// SetState changes a user's logon state.
func (s *System) SetState(id string, st State) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.user(id)
	if err != nil {
		return err
	}
	u.state = st
	return nil
}

// QueryUser returns a user's logon state; ErrNoSuchUser if the user is not
// in the directory.
func (s *System) QueryUser(id string) (State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.user(id)
	if err != nil {
		return LoggedOff, err
	}
	return u.state, nil
}

// HasUser reports whether id is in the directory.
func (s *System) HasUser(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.user(id)
	return err == nil
}

// Users returns the sorted userids of the directory.
func (s *System) Users() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.users))
	for id := range s.users {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// InjectQueueFull makes every send to id's reader fail with ErrQueueFull
// (CP HCP439) while on.
func (s *System) InjectQueueFull(id string, on bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.user(id)
	if err != nil {
		return err
	}
	u.queueFull = on
	return nil
}

// InjectPunchFailure makes writes to id's virtual punch fail with
// ErrSpoolFull (EIO at the device) while on.
func (s *System) InjectPunchFailure(id string, on bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.user(id)
	if err != nil {
		return err
	}
	u.punchFail = on
	return nil
}

func (s *System) user(id string) (*user, error) {
	if !ValidUserID(id) {
		return nil, fmt.Errorf("user %q: %w", id, ErrInvalidUserID)
	}
	u, ok := s.users[strings.ToUpper(id)]
	if !ok {
		return nil, fmt.Errorf("user %s: %w", strings.ToUpper(id), ErrNoSuchUser)
	}
	return u, nil
}

// allocID returns a free spool id, cycling through 1..MaxSpoolID.
func (s *System) allocID() (int, error) {
	for range MaxSpoolID {
		s.lastID = s.lastID%MaxSpoolID + 1
		if _, used := s.files[s.lastID]; !used {
			return s.lastID, nil
		}
	}
	return 0, fmt.Errorf("allocate spool id: %w", ErrSpoolFull)
}

// find returns owner's file id in queue q.
func (s *System) find(u *user, q Queue, id int) (*file, int, error) {
	for i, f := range u.queues[q] {
		if f.ID == id {
			return f, i, nil
		}
	}
	return nil, -1, fmt.Errorf("%s %s %04d: %w", u.id, q, id, ErrNoSuchFile)
}

// full reports whether u's queue q cannot take another file.
func (s *System) full(u *user, q Queue) bool {
	return (q == QueueRDR && u.queueFull) || len(u.queues[q]) >= s.maxQueue
}

func (s *System) remove(u *user, q Queue, i int) *file {
	f := u.queues[q][i]
	u.queues[q] = slices.Delete(u.queues[q], i, i+1)
	delete(s.files, f.ID)
	if q == QueueRDR && u.rdr.Active == f.ID {
		u.rdr.Active = 0
	}
	return f
}

func (s *System) place(u *user, q Queue, f *file) {
	f.owner = u
	f.Owner = u.id
	f.Queue = q
	u.queues[q] = append(u.queues[q], f)
	s.files[f.ID] = f
	if q == QueueRDR {
		s.arrived(u.id, f.ID)
	}
}

func (f *file) snapshot() File {
	c := f.File
	c.Records = slices.Clip(f.Records)
	return c
}

func queueIndex(q Queue) (Queue, error) {
	if q > QueuePRT {
		return 0, fmt.Errorf("queue %s: %w", q, ErrNoSuchFile)
	}
	return q, nil
}

// RemoveUser deletes a directory entry and purges every spool file in its
// queues, as deleting a user from the CP directory does. Files the user
// originated in other users' queues stay.
func (s *System) RemoveUser(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.user(id)
	if err != nil {
		return fmt.Errorf("remove user: %w", err)
	}
	if u.id == s.hostID {
		return fmt.Errorf("remove user %s: the host user cannot be removed: %w", u.id, ErrInvalidUserID)
	}
	for q := range u.queues {
		for _, f := range u.queues[q] {
			delete(s.files, f.ID)
		}
	}
	if u.punFile != nil {
		delete(s.files, u.punFile.ID)
	}
	delete(s.users, u.id)
	return nil
}
