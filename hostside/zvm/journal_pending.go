package zvm

import "context"

// JournalPending counts the operations begun and not ended in the
// journal (for the daemon's metrics).
func (b *Backend) JournalPending(ctx context.Context) (int, error) {
	ops, err := b.store.Pending(ctx)
	return len(ops), err
}
