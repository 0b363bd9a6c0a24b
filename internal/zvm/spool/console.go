package spool

import "fmt"

// SpoolConsole closes origin's spooled console to the reader of to, as
// CP does when SMAPI's Image_Console_Get asks for a guest's console log:
// a class T file whose originating device type is CON, with origin as its
// originating userid, data split into 80-byte records like a punch file.
// guess: the file's name is the origin userid and its type CONSOLE; the
// record length of 80 is that of a punch file, not of a console.
func (s *System) SpoolConsole(origin, to string, data []byte) (int, error) {
	if len(data) == 0 {
		return 0, fmt.Errorf("console of %s: %w", origin, ErrEmpty)
	}
	cards := Cards(data)
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.user(origin)
	if err != nil {
		return 0, fmt.Errorf("console: %w", err)
	}
	t, err := s.user(to)
	if err != nil {
		return 0, fmt.Errorf("console: %w", err)
	}
	if s.full(t, QueueRDR) {
		return 0, fmt.Errorf("console of %s to %s: %w", origin, t.id, ErrQueueFull)
	}
	id, err := s.allocID()
	if err != nil {
		return 0, fmt.Errorf("console: %w", err)
	}
	f := s.newFile(o, id)
	for _, c := range cards {
		f.Records = append(f.Records, NormalizeCard(c))
	}
	f.DevType, f.Class, f.Name, f.Type = "CON", 'T', o.id, "CONSOLE"
	s.place(t, QueueRDR, f)
	return id, nil
}
