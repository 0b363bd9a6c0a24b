package vmdev

import (
	"context"
	"sync"
	"syscall"
	"time"

	"github.com/zguest/zguest/internal/zvm/spool"
)

// PunchMaxWrite is the most one write(2) to the punch accepts (511 cards);
// larger writes are truncated to it.
const PunchMaxWrite = 511 * spool.PunchRecLen

// PunchDevice is a user's /dev/vmpun-0.0.000d.
type PunchDevice struct {
	sys  *spool.System
	user string
}

// NewPunchDevice returns the punch device node of userID.
func NewPunchDevice(sys *spool.System, userID string) *PunchDevice {
	return &PunchDevice{sys: sys, user: userID}
}

// Open opens the punch with open(2) flags: O_WRONLY only (EACCES), one
// opener at a time. A busy device gives EBUSY with O_NONBLOCK and
// otherwise waits until it is free or ctx ends (EINTR), as the driver's
// ur_open does.
func (d *PunchDevice) Open(ctx context.Context, flags int) (*PunchHandle, error) {
	if flags&syscall.O_ACCMODE != syscall.O_WRONLY {
		return nil, syscall.EACCES
	}
	for {
		err := d.sys.AcquirePunch(d.user)
		if err == nil {
			return &PunchHandle{dev: d}, nil
		}
		e := errno(err)
		if e != syscall.EBUSY || flags&syscall.O_NONBLOCK != 0 {
			return nil, e
		}
		select {
		case <-ctx.Done():
			return nil, syscall.EINTR
		case <-time.After(openPoll):
		}
	}
}

// PunchHandle is an open punch device node.
type PunchHandle struct {
	dev    *PunchDevice
	mu     sync.Mutex
	closed bool
}

// Write punches p as 80-byte cards into the open punch file (created on
// the first write). Empty writes return 0; a length not a multiple of 80
// gives EINVAL; more than 40,880 bytes is truncated to that. A full spool
// gives EIO.
func (h *PunchHandle) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if len(p)%spool.PunchRecLen != 0 {
		return 0, syscall.EINVAL
	}
	p = p[:min(len(p), PunchMaxWrite)]
	cards := make([][]byte, 0, len(p)/spool.PunchRecLen)
	for i := 0; i < len(p); i += spool.PunchRecLen {
		cards = append(cards, p[i:i+spool.PunchRecLen])
	}
	if err := h.dev.sys.PunchWrite(h.dev.user, cards); err != nil {
		return 0, errno(err)
	}
	return len(p), nil
}

// Close releases the device; the spool file stays open until CP CLOSE.
func (h *PunchHandle) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return syscall.EBADF
	}
	h.closed = true
	h.dev.sys.ReleasePunch(h.dev.user)
	return nil
}
