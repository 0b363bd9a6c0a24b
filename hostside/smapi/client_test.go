package smapi

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// serve answers each connection with fn; fn may close the connection.
func serve(t *testing.T, fn func(n int, c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var n atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); fn(int(n.Add(1)), c) }()
		}
	}()
	return ln.Addr().String()
}

func answer(c net.Conn, rc, rs int32) {
	req, err := ReadRequest(c)
	if err != nil {
		return
	}
	_ = req
	WriteRequestID(c, 9)
	c.Write(Response{RequestID: 9, RC: rc, RS: rs}.EncodeOutput())
}

func TestClientRetriesDroppedAndLocked(t *testing.T) {
	addr := serve(t, func(n int, c net.Conn) {
		switch n {
		case 1: // dropped before the request is read
		case 2, 3:
			answer(c, 400, 12)
		default:
			answer(c, 0, 0)
		}
	})
	cl := &Client{Addr: addr, Backoff: time.Millisecond}
	if err := cl.ImageActivate(context.Background(), "X"); err != nil {
		t.Fatal(err)
	}
	if cl.Calls() != 4 {
		t.Errorf("%d attempts, want 4", cl.Calls())
	}
}

func TestClientGivesUpOnLock(t *testing.T) {
	addr := serve(t, func(_ int, c net.Conn) { answer(c, 400, 12) })
	cl := &Client{Addr: addr, Backoff: time.Millisecond, LockRetries: 2}
	err := cl.ImageActivate(context.Background(), "X")
	if !errors.Is(err, Code(400, 12)) || cl.Calls() != 3 {
		t.Fatalf("%v after %d calls", err, cl.Calls())
	}
}

func TestClientIndeterminateNotRetried(t *testing.T) {
	addr := serve(t, func(_ int, c net.Conn) {
		if _, err := ReadRequest(c); err == nil {
			WriteRequestID(c, 1)
		}
	})
	cl := &Client{Addr: addr, Backoff: time.Millisecond}
	err := cl.ImageActivate(context.Background(), "X")
	if !errors.Is(err, ErrIndeterminate) || cl.Calls() != 1 {
		t.Fatalf("%v after %d calls", err, cl.Calls())
	}
}

func TestRecordLimit(t *testing.T) {
	cl := &Client{Addr: "127.0.0.1:1"}
	long := make([]byte, 73)
	for i := range long {
		long[i] = 'A'
	}
	if err := cl.ImageCreateDM(context.Background(), "X", []string{string(long)}); err == nil || cl.Calls() != 0 {
		t.Fatalf("%v, %d calls", err, cl.Calls())
	}
}
