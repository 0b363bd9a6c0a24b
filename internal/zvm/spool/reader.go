package spool

import "fmt"

// ReaderDevice returns the state of user's virtual reader.
func (s *System) ReaderDevice(userID string) (ReaderDev, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.user(userID)
	if err != nil {
		return ReaderDev{}, err
	}
	return u.rdr, nil
}

// UpdateReader applies SPOOL options to user's virtual reader: f edits a
// copy of the settings (Class, Hold, Keep, Cont), which is stored if f
// returns nil and the class is '*' or valid.
func (s *System) UpdateReader(userID string, f func(*ReaderDev) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.user(userID)
	if err != nil {
		return err
	}
	d := u.rdr
	if err := f(&d); err != nil {
		return err
	}
	if d.Class != '*' && !ValidClass(d.Class) {
		return fmt.Errorf("spool reader class %q: %w", d.Class, ErrInvalidClass)
	}
	u.rdr.Class, u.rdr.Hold, u.rdr.Keep, u.rdr.Cont = d.Class, d.Hold, d.Keep, d.Cont
	return nil
}

// OpenReader opens user's reader device node: the active file, else the
// first reader file matching the device class, becomes active and is
// returned. Errors: ErrBusy (already open), ErrNoReaderFile (none
// matches), ErrHeld (the selected file is held).
func (s *System) OpenReader(userID string) (File, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.user(userID)
	if err != nil {
		return File{}, err
	}
	if u.rdr.Open {
		return File{}, fmt.Errorf("reader of %s: %w", u.id, ErrBusy)
	}
	var sel *file
	if u.rdr.Active != 0 {
		sel, _, _ = s.find(u, QueueRDR, u.rdr.Active)
	}
	if sel == nil {
		for _, f := range u.queues[QueueRDR] {
			if u.rdr.Class == '*' || u.rdr.Class == f.Class {
				sel = f
				break
			}
		}
	}
	if sel == nil {
		return File{}, fmt.Errorf("reader of %s: %w", u.id, ErrNoReaderFile)
	}
	if sel.Hold != HoldNone {
		return File{}, fmt.Errorf("reader file %04d of %s hold %s: %w", sel.ID, u.id, sel.Hold, ErrHeld)
	}
	u.rdr.Active = sel.ID
	u.rdr.Open = true
	return sel.snapshot(), nil
}

// ReleaseReader marks user's reader device node closed. The active file
// stays active until a CP CLOSE.
func (s *System) ReleaseReader(userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, err := s.user(userID); err == nil {
		u.rdr.Open = false
	}
}

// ActiveReader returns the id of user's active reader file, 0 if none.
func (s *System) ActiveReader(userID string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.user(userID)
	if err != nil {
		return 0, err
	}
	return u.rdr.Active, nil
}

// CloseReader closes the active reader file as CP CLOSE does: with hold it
// stays in the queue user-held, with keep it stays unheld, otherwise it is
// purged. It returns the file and whether one was active.
func (s *System) CloseReader(userID string, c ReaderClose) (File, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.user(userID)
	if err != nil {
		return File{}, false, err
	}
	if u.rdr.Active == 0 {
		return File{}, false, nil
	}
	f, i, err := s.find(u, QueueRDR, u.rdr.Active)
	u.rdr.Active = 0
	if err != nil {
		return File{}, false, nil
	}
	hold, keep := u.rdr.Hold, u.rdr.Keep
	if c.Hold != nil {
		hold = *c.Hold
	}
	if c.Keep != nil {
		keep = *c.Keep
	}
	switch {
	case hold:
		f.Hold |= HoldUser
	case keep:
	default:
		s.remove(u, QueueRDR, i)
	}
	return f.snapshot(), true, nil
}
