package zvm

// SetCrash makes operations stop, as a crash would, after the journal
// step at which crash returns true.
func SetCrash(c *Config, crash func(kind, step string) bool) { c.crash = crash }

// Store returns the backend's store (tests only).
func (b *Backend) Store() Store { return b.store }
