package smapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"time"
)

// Client calls a SMAPI server over TCP, one connection per call.
type Client struct {
	// Addr is host:port of the SMAPI TCP server (commonly port 44444).
	Addr string
	// UserID and Password authenticate every request. Password is never
	// logged.
	UserID   string
	Password string
	// Timeout bounds one attempt (connect, send, reply). Default 60 s.
	Timeout time.Duration
	// Dial connects; default net.Dialer.DialContext with "tcp".
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// TransportRetries is how often an attempt that failed before the
	// server sent the request id is repeated (connect refused, connection
	// dropped). Default 3; negative disables.
	TransportRetries int
	// LockRetries is how often a call answered 400/12 (image locked) is
	// repeated, as the original connector does for its directory changes.
	// Default 4; negative disables.
	LockRetries int
	// Backoff is the first wait between attempts; it doubles each time up
	// to 8 times itself. Default 1 s.
	Backoff time.Duration
	// Log receives one debug record per attempt. Default: discarded.
	Log *slog.Logger

	calls atomic.Int64
}

// ErrIndeterminate wraps transport failures after the server accepted the
// request (sent its request id): the function may or may not have run, so
// the call is not repeated.
var ErrIndeterminate = errors.New("smapi: connection lost after the server accepted the request; the outcome is unknown")

// Calls returns how many attempts the client made (for tests and metrics).
func (c *Client) Calls() int64 { return c.calls.Load() }

func (c *Client) log() *slog.Logger {
	if c.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Log
}

func def[T int | time.Duration](v, d T) T {
	if v == 0 {
		return d
	}
	if v < 0 {
		return 0
	}
	return v
}

// Call sends function with params for target and returns the reply. A
// non-zero rc is returned as an *Error together with the Response.
func (c *Client) Call(ctx context.Context, function, target string, params []byte) (Response, error) {
	req := Request{Function: function, UserID: c.UserID, Password: c.Password, Target: target, Params: params}
	backoff := def(c.Backoff, time.Second)
	transport, lock := def(c.TransportRetries, 3), def(c.LockRetries, 4)
	wait := backoff
	for attempt := 1; ; attempt++ {
		resp, accepted, err := c.once(ctx, req)
		c.log().Debug("smapi call", "function", function, "target", target, "attempt", attempt, "rc", resp.RC, "rs", resp.RS, "err", err)
		retry := false
		switch {
		case err != nil && !accepted && transport > 0:
			transport--
			retry = true
		case err == nil && resp.RC == RCImageDef && resp.RS == RSLocked && lock > 0:
			lock--
			retry = true
		}
		if err == nil && resp.RC != 0 {
			err = &Error{Function: function, Target: target, RC: int(resp.RC), RS: int(resp.RS), Data: resp.Data}
		}
		if !retry || ctx.Err() != nil {
			return resp, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return resp, fmt.Errorf("%w (gave up waiting to retry: %w)", err, ctx.Err())
		case <-t.C:
		}
		wait = min(wait*2, backoff*8)
	}
}

// once makes one attempt; accepted says the server sent the request id.
func (c *Client) once(ctx context.Context, req Request) (Response, bool, error) {
	c.calls.Add(1)
	ctx, cancel := context.WithTimeout(ctx, def(c.Timeout, 60*time.Second))
	defer cancel()
	dial := c.Dial
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	conn, err := dial(ctx, "tcp", c.Addr)
	if err != nil {
		return Response{}, false, fmt.Errorf("SMAPI %s for %s: connect to %s: %w", req.Function, req.Target, c.Addr, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := conn.Write(req.Encode()); err != nil {
		return Response{}, false, fmt.Errorf("SMAPI %s for %s: send to %s: %w", req.Function, req.Target, c.Addr, err)
	}
	id, err := ReadRequestID(conn)
	if err != nil {
		return Response{}, false, fmt.Errorf("SMAPI %s for %s: %s: %w", req.Function, req.Target, c.Addr, err)
	}
	resp, err := ReadOutput(conn)
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || ctx.Err() != nil {
			err = fmt.Errorf("%w: %w", ErrIndeterminate, err)
		}
		return Response{}, true, fmt.Errorf("SMAPI %s for %s (request id %d): %s: %w", req.Function, req.Target, id, c.Addr, err)
	}
	if resp.RequestID != id {
		return resp, true, fmt.Errorf("SMAPI %s for %s: reply for request id %d, expected %d: %w", req.Function, req.Target, resp.RequestID, id, ErrFrame)
	}
	return resp, true, nil
}
