package api

import (
	"context"
	"fmt"
	"time"
)

// OpTimeouts bound each kind of long operation of a backend (kvm and
// dpm; zvm has its own kinds); a zero field takes its default. They
// apply on top of the request's own context, so a client that goes away
// stops the work at once; in both cases the work fails as any failure
// does and its locks are released.
type OpTimeouts struct {
	Import time.Duration // POST /images: scp and the copy into the store (default 1h)
	Deploy time.Duration // deploy: the root disk or boot volume and the config drive (default 1h)
	Create time.Duration // POST /guests (default 10m)
	// Power bounds a power action, a graceful stop's own timeout
	// included (default 10m).
	Power time.Duration
}

// Default timeouts per operation kind.
const (
	DefaultImportTimeout = time.Hour
	DefaultDeployTimeout = time.Hour
	DefaultCreateTimeout = 10 * time.Minute
	DefaultPowerTimeout  = 10 * time.Minute
)

// OrDefaults fills the zero fields with the defaults.
func (t OpTimeouts) OrDefaults() OpTimeouts {
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

// OpContext bounds ctx by the timeout d of an operation kind; the cause
// names the kind and its setting, backend_options.timeouts.<kind>.
func OpContext(ctx context.Context, kind string, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, d, fmt.Errorf("%s took longer than %v (backend_options.timeouts.%s)", kind, d, kind))
}
