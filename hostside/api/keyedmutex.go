package api

import (
	"context"
	"sync"
)

// keyedMutex serializes work per key (a userid, an image name) while
// different keys proceed in parallel. Waiting honours the context, so a
// client that goes away stops queueing. Entries are dropped when nobody
// holds or waits for them, so memory follows the number of busy keys.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*keyLock
}

type keyLock struct {
	ch   chan struct{} // holds one token while the key is locked
	refs int           // holders and waiters
}

// lock locks key, or returns ctx's error if ctx ends first. The returned
// function unlocks it.
func (k *keyedMutex) lock(ctx context.Context, key string) (func(), error) {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*keyLock{}
	}
	l := k.locks[key]
	if l == nil {
		l = &keyLock{ch: make(chan struct{}, 1)}
		k.locks[key] = l
	}
	l.refs++
	k.mu.Unlock()

	select {
	case l.ch <- struct{}{}:
		return func() { <-l.ch; k.release(key, l) }, nil
	case <-ctx.Done():
		k.release(key, l)
		return nil, ctx.Err()
	}
}

func (k *keyedMutex) release(key string, l *keyLock) {
	k.mu.Lock()
	l.refs--
	if l.refs == 0 {
		delete(k.locks, key)
	}
	k.mu.Unlock()
}

// busy reports how many keys are held or waited for (for tests).
func (k *keyedMutex) busy() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.locks)
}
