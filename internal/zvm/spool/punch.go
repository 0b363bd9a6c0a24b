package spool

import (
	"bytes"
	"fmt"
	"strings"
)

// NormalizeCard returns a punched record as CP stores it: trailing EBCDIC
// blanks (0x40) removed, but at least one byte kept.
func NormalizeCard(card []byte) []byte {
	n := len(bytes.TrimRight(card, "\x40"))
	if n == 0 && len(card) > 0 {
		n = 1 // guess: CP keeps one blank of an all-blank card
	}
	return bytes.Clone(card[:n])
}

// Cards splits data into 80-byte cards, padding the last one with NUL
// bytes, as vmur punch does in binary mode.
func Cards(data []byte) [][]byte {
	var cards [][]byte
	for len(data) > 0 {
		c := make([]byte, PunchRecLen)
		n := copy(c, data)
		data = data[n:]
		cards = append(cards, c)
	}
	return cards
}

// Punch creates a class-c reader file for userID from data, as
// `vmur punch -r -u <user> -N name.type` run by the host user would
// (binary mode; the last card NUL-padded; trailing 0x40 cut per card),
// and returns its spool id. The host's own punch device is not touched.
func (s *System) Punch(userID string, data []byte, name, typ string, class byte) (int, error) {
	if len(data) == 0 {
		return 0, fmt.Errorf("punch to %s: %w", userID, ErrEmpty)
	}
	if !ValidName(name) || (typ != "" && !ValidName(typ)) {
		return 0, fmt.Errorf("punch %q %q: %w", name, typ, ErrInvalidName)
	}
	if !ValidClass(class) {
		return 0, fmt.Errorf("punch class %q: %w", class, ErrInvalidClass)
	}
	cards := Cards(data)
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.user(userID)
	if err != nil {
		return 0, fmt.Errorf("punch: %w", err)
	}
	host := s.users[s.hostID]
	if s.full(t, QueueRDR) {
		return 0, fmt.Errorf("punch to %s: %w", t.id, ErrQueueFull)
	}
	id, err := s.allocID()
	if err != nil {
		return 0, fmt.Errorf("punch: %w", err)
	}
	f := s.newFile(host, id)
	for _, c := range cards {
		f.Records = append(f.Records, NormalizeCard(c))
	}
	f.Class, f.Name, f.Type = class, name, typ
	s.place(t, QueueRDR, f)
	s.log.Debug("spool punch", "id", id, "to", t.id, "records", len(f.Records), "name", name, "type", typ)
	return id, nil
}

func (s *System) newFile(origin *user, id int) *file {
	return &file{File: File{
		ID:      id,
		Origin:  origin.id,
		Class:   origin.pun.Class,
		DevType: "PUN",
		RecLen:  PunchRecLen,
		Dist:    origin.pun.Dist,
		Form:    origin.pun.Form,
		Created: s.clock(),
		Copies:  1,
	}}
}

// PunchDevice returns the state of user's virtual punch.
func (s *System) PunchDevice(userID string) (PunchDev, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.user(userID)
	if err != nil {
		return PunchDev{}, err
	}
	return u.punchState(), nil
}

func (u *user) punchState() PunchDev {
	d := u.pun
	if u.punFile != nil {
		d.OpenFile = u.punFile.ID
		d.OpenRecs = len(u.punFile.Records)
	}
	return d
}

// UpdatePunch applies SPOOL options to user's virtual punch: f edits a
// copy of the settings (Class, Cont, Hold, Form, Dest, Dist), which is
// stored if f returns nil and the class is valid.
func (s *System) UpdatePunch(userID string, f func(*PunchDev) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.user(userID)
	if err != nil {
		return err
	}
	d := u.punchState()
	if err := f(&d); err != nil {
		return err
	}
	if !ValidClass(d.Class) {
		return fmt.Errorf("spool punch class %q: %w", d.Class, ErrInvalidClass)
	}
	u.pun.Class, u.pun.Cont, u.pun.Hold = d.Class, d.Cont, d.Hold
	u.pun.Form, u.pun.Dest, u.pun.Dist = d.Form, d.Dest, d.Dist
	return nil
}

// AcquirePunch marks user's punch device node open; ErrBusy if it is.
func (s *System) AcquirePunch(userID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.user(userID)
	if err != nil {
		return err
	}
	if u.pun.Open {
		return fmt.Errorf("punch of %s: %w", u.id, ErrBusy)
	}
	u.pun.Open = true
	return nil
}

// ReleasePunch marks user's punch device node closed. The open spool file
// stays open until a CP CLOSE.
func (s *System) ReleasePunch(userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, err := s.user(userID); err == nil {
		u.pun.Open = false
	}
}

// PunchWrite appends records to user's open punch file, opening one with a
// new spool id on the first write. Each record is stored normalized
// (NormalizeCard) and must be 1..PunchRecLen bytes.
func (s *System) PunchWrite(userID string, records [][]byte) error {
	for _, r := range records {
		if len(r) == 0 || len(r) > PunchRecLen {
			return fmt.Errorf("punch record of %d bytes: %w", len(r), ErrInvalidRecord)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.user(userID)
	if err != nil {
		return err
	}
	if u.punchFail {
		return fmt.Errorf("punch of %s: %w", u.id, ErrSpoolFull)
	}
	if u.punFile == nil {
		id, err := s.allocID()
		if err != nil {
			return err
		}
		u.punFile = s.newFile(u, id)
		s.files[id] = u.punFile // reserve the id
	}
	for _, r := range records {
		u.punFile.Records = append(u.punFile.Records, NormalizeCard(r))
	}
	return nil
}

// ClosePunch closes user's open punch file as CP CLOSE does. It returns
// ErrNoOpenFile when no file is open. On ErrNoSuchUser the file stays open;
// on ErrQueueFull it is closed into user's own punch queue and Closed
// describes it.
func (s *System) ClosePunch(userID string, c PunchClose) (Closed, error) {
	if c.SetName && (!ValidName(c.Name) || (c.Type != "" && !ValidName(c.Type))) {
		return Closed{}, fmt.Errorf("close name %q %q: %w", c.Name, c.Type, ErrInvalidName)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.user(userID)
	if err != nil {
		return Closed{}, err
	}
	f := u.punFile
	if f == nil {
		return Closed{}, fmt.Errorf("close punch of %s: %w", u.id, ErrNoOpenFile)
	}
	if c.Purge {
		u.punFile = nil
		delete(s.files, f.ID)
		return Closed{File: f.snapshot(), OrigID: f.ID}, nil
	}
	target := u
	if c.To != "" && c.To != "*" {
		if target, err = s.user(c.To); err != nil {
			return Closed{}, fmt.Errorf("close punch to %s: %w", strings.ToUpper(c.To), err)
		}
	}
	if c.SetName {
		f.Name, f.Type = c.Name, c.Type
	}
	hold := u.pun.Hold
	if c.Hold != nil {
		hold = *c.Hold
	}
	if hold {
		f.Hold |= HoldUser
	}
	u.punFile = nil
	delete(s.files, f.ID)
	if c.To == "" {
		s.place(u, QueuePUN, f)
		return Closed{File: f.snapshot(), OrigID: f.ID}, nil
	}
	if s.full(target, QueueRDR) {
		s.place(u, QueuePUN, f)
		return Closed{File: f.snapshot(), OrigID: f.ID},
			fmt.Errorf("close punch to %s: %w", target.id, ErrQueueFull)
	}
	s.place(target, QueueRDR, f)
	s.log.Debug("spool close punch", "id", f.ID, "from", u.id, "to", target.id, "records", len(f.Records))
	return Closed{File: f.snapshot(), OrigID: f.ID, Sent: true}, nil
}
