package kvm

import (
	"context"
	"time"

	"github.com/zguest/zguest/hostside/api"
)

// Timeouts bound each kind of long operation (see api.OpTimeouts):
// import (scp and the copy), deploy (qemu-img building the root disk),
// create (qemu-img creating data disks), power (a graceful stop waits at
// most this long, whatever its own timeout says).
type Timeouts = api.OpTimeouts

func opContext(ctx context.Context, kind string, d time.Duration) (context.Context, context.CancelFunc) {
	return api.OpContext(ctx, kind, d)
}
