package zvm

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
)

// Op is a journaled operation that began and has not ended: Kind
// ("create", "deploy", "delete", "punch") on Target (a userid), how far
// it got (Step) and the backend's notes on it (Data, JSON).
type Op struct {
	ID     uint64
	Kind   string
	Target string
	Step   string
	Data   json.RawMessage
}

// Journal records operations in progress so that Backend.Recover can
// finish or roll back what a crash interrupted. Every call must be
// durable when it returns.
type Journal interface {
	Begin(ctx context.Context, kind, target string, data any) (uint64, error)
	// Step records that operation id reached step; data replaces the
	// operation's data.
	Step(ctx context.Context, id uint64, step string, data any) error
	End(ctx context.Context, id uint64) error
	// Pending lists the operations begun and not ended, oldest first.
	Pending(ctx context.Context) ([]Op, error)
}

// memJournal is MemStore's journal: it survives a "crash" only as long
// as the process does, which is what in-process tests need.
type memJournal struct {
	next uint64
	ops  map[uint64]Op
}

func (j *memJournal) begin(kind, target string, data any) (uint64, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return 0, fmt.Errorf("journal %s %s: %w", kind, target, err)
	}
	if j.ops == nil {
		j.ops = map[uint64]Op{}
	}
	j.next++
	j.ops[j.next] = Op{ID: j.next, Kind: kind, Target: target, Data: raw}
	return j.next, nil
}

func (j *memJournal) step(id uint64, step string, data any) error {
	op, ok := j.ops[id]
	if !ok {
		return fmt.Errorf("journal: operation %d is not pending", id)
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("journal: operation %d: %w", id, err)
	}
	op.Step, op.Data = step, raw
	j.ops[id] = op
	return nil
}

func (j *memJournal) pending() []Op {
	out := make([]Op, 0, len(j.ops))
	for _, op := range j.ops {
		out = append(out, op)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	return out
}

// Begin implements Journal.
func (m *MemStore) Begin(_ context.Context, kind, target string, data any) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.journal.begin(kind, target, data)
}

// Step implements Journal.
func (m *MemStore) Step(_ context.Context, id uint64, step string, data any) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.journal.step(id, step, data)
}

// End implements Journal.
func (m *MemStore) End(_ context.Context, id uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.journal.ops, id)
	return nil
}

// Pending implements Journal.
func (m *MemStore) Pending(context.Context) ([]Op, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.journal.pending(), nil
}
