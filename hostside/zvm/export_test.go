package zvm

// SetCrash makes operations stop, as a crash would, after the journal
// step at which crash returns true.
func SetCrash(c *Config, crash func(kind, step string) bool) { c.crash = crash }
