package netns

import (
	"fmt"
	"runtime"

	vnetns "github.com/vishvananda/netns"
)

// NewNamespace creates a network namespace and returns a handle to it (the
// namespace lives while a handle or a process refers to it). The calling
// thread is not affected: the namespace is made on a locked thread that Go
// discards afterwards.
func NewNamespace() (vnetns.NsHandle, error) {
	type result struct {
		h   vnetns.NsHandle
		err error
	}
	ch := make(chan result, 1)
	go func() {
		// Never unlocked: the thread, now in the new namespace, exits
		// with this goroutine.
		runtime.LockOSThread()
		h, err := vnetns.New()
		ch <- result{h, err}
	}()
	r := <-ch
	if r.err != nil {
		return vnetns.None(), fmt.Errorf("netns: new namespace: %w", r.err)
	}
	return r.h, nil
}

// RunIn runs fn on a locked OS thread that has joined ns; the thread is
// discarded afterwards, so no other goroutine ever runs in ns by accident.
// Sockets fn creates stay in ns.
func RunIn(ns vnetns.NsHandle, fn func() error) error {
	ch := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked, see above
		if err := vnetns.Set(ns); err != nil {
			ch <- fmt.Errorf("netns: join namespace: %w", err)
			return
		}
		ch <- fn()
	}()
	return <-ch
}
