package spool

// OnArrive registers fn to be called whenever a file is placed in a
// user's reader queue (punched, closed to a reader or transferred), as CP
// presents an unsolicited device end to a virtual reader that is not
// busy. fn runs on its own goroutine, after the spool lock is released,
// so it may call back into the System. The returned function unregisters
// fn.
func (s *System) OnArrive(fn func(userID string, spoolID int)) (unregister func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hookSeq++
	id := s.hookSeq
	if s.hooks == nil {
		s.hooks = map[int]func(string, int){}
	}
	s.hooks[id] = fn
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.hooks, id)
	}
}

// arrived runs the hooks for a file placed in userID's reader; s.mu is
// held.
func (s *System) arrived(userID string, spoolID int) {
	for _, fn := range s.hooks {
		go fn(userID, spoolID)
	}
}
