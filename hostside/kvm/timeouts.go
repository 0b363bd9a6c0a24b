package kvm

import (
	"context"
	"fmt"
	"time"
)

// Timeouts bound each kind of long operation; a zero field takes its
// default. They apply on top of the request's own context, so a client
// that goes away stops the work at once; in both cases the work fails as
// any failure does and the image lock is released.
type Timeouts struct {
	Import time.Duration // POST /images: scp and the copy into the store (default 1h)
	Deploy time.Duration // deploy: qemu-img building the root disk, the config drive (default 1h)
	Create time.Duration // POST /guests: qemu-img creating the data disks (default 10m)
	// Power bounds a power action; a graceful stop waits at most this
	// long, whatever its own timeout says (default 10m).
	Power time.Duration
}

// Default timeouts per operation kind.
const (
	DefaultImportTimeout = time.Hour
	DefaultDeployTimeout = time.Hour
	DefaultCreateTimeout = 10 * time.Minute
	DefaultPowerTimeout  = 10 * time.Minute
)

func (t Timeouts) orDefaults() Timeouts {
	for _, f := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&t.Import, DefaultImportTimeout}, {&t.Deploy, DefaultDeployTimeout}, {&t.Create, DefaultCreateTimeout}, {&t.Power, DefaultPowerTimeout}} {
		if *f.v <= 0 {
			*f.v = f.def
		}
	}
	return t
}

// opContext bounds ctx by the timeout of an operation kind; the cause
// names the kind and the setting.
func opContext(ctx context.Context, kind string, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, d, fmt.Errorf("%s took longer than %v (backend_options.timeouts.%s)", kind, d, kind))
}
