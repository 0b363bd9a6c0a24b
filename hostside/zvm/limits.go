package zvm

import (
	"context"
	"time"

	"github.com/zguest/zguest/hostside/api"
)

// Timeouts bound each kind of long operation; a zero field takes its
// default. They apply on top of the request's own context: a client
// that goes away cancels the work at once, rolled back as any failure.
type Timeouts struct {
	Import    time.Duration // POST /images: the copy into the repository (default 1h)
	Deploy    time.Duration // deploy: the image onto the minidisk and the punches (default 1h)
	Transport time.Duration // fetching a transport file, cp or scp (default 10m)
}

// Default timeouts per operation kind.
const (
	DefaultImportTimeout    = time.Hour
	DefaultDeployTimeout    = time.Hour
	DefaultTransportTimeout = 10 * time.Minute
	// DefaultMaxTransportBytes bounds a transport file, a policy bound:
	// it becomes one spool file in the guest's reader. The punch streams
	// it (one write of 511 cards, about 40 KiB, held at a time), so the
	// bound is not what limits memory. guess: nova's ISO 9660 config drive
	// (user data up to 64 KiB, keys, network data) stays far below it.
	DefaultMaxTransportBytes = 16 << 20
)

func (t Timeouts) orDefaults() Timeouts {
	if t.Import <= 0 {
		t.Import = DefaultImportTimeout
	}
	if t.Deploy <= 0 {
		t.Deploy = DefaultDeployTimeout
	}
	if t.Transport <= 0 {
		t.Transport = DefaultTransportTimeout
	}
	return t
}

// opContext bounds ctx by the timeout of an operation kind; the cause
// names the kind and the setting.
func opContext(ctx context.Context, kind string, d time.Duration) (context.Context, context.CancelFunc) {
	return api.OpContext(ctx, kind, d)
}
