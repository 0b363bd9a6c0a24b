package dpm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/hmc"
)

var (
	started = []string{"active", "degraded", "reservation-error"}
	stopped = []string{"stopped"}
)

func in(s string, set []string) bool {
	for _, x := range set {
		if strings.EqualFold(s, x) {
			return true
		}
	}
	return false
}

// Action runs a power action (see the package doc).
func (b *Backend) Action(ctx context.Context, userid string, a api.PowerAction) error {
	ctx, cancel := api.OpContext(ctx, "power", b.cfg.Timeouts.Power)
	defer cancel()
	timeout := b.cfg.StatusTimeout
	if a.Timeout > 0 {
		timeout = time.Duration(a.Timeout) * time.Second
	}
	switch a.Name {
	case "pause", "unpause":
		// The original's "not implemented" answer (errors['serviceNotSupport']
		// rs 1) with the reason: the HMC's DPM API has no operation that
		// halts a partition's processors and resumes them (nova-dpm did
		// not implement pause either).
		e := api.NotSupported(api.ModGuest, "guest_"+a.Name)
		e.Msg += "; a DPM partition cannot be paused (the HMC has no such operation)"
		return e
	case "start", "stop", "softstop", "reboot", "reset":
	default:
		return inputErr(api.ModGuest, "unknown action %q", a.Name)
	}
	g, err := b.lookup(ctx, userid)
	if err != nil {
		return err
	}
	switch a.Name {
	case "start":
		return b.start(ctx, userid, g, timeout)
	case "stop", "softstop":
		return b.stop(ctx, userid, g, timeout)
	default: // reboot, reset: hard, stop then start
		if err := b.stop(ctx, userid, g, timeout); err != nil {
			return err
		}
		return b.start(ctx, userid, g, timeout)
	}
}

// status reads the partition's status.
func (b *Backend) status(ctx context.Context, userid string, g *guest) (string, error) {
	p, err := b.c.GetPartition(ctx, g.uri)
	if hmc.IsStatus(err, 404) {
		b.forget(userid)
		return "", guestNotFound(userid)
	}
	if err != nil {
		return "", hmcErr(api.ModGuest, "read the status of "+userid, err)
	}
	return p.Status, nil
}

// waitStatus polls until the status is in want, or timeout.
func (b *Backend) waitStatus(ctx context.Context, userid string, g *guest, want []string, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	poll := b.cfg.Poll
	for {
		st, err := b.status(ctx, userid, g)
		if err != nil || in(st, want) {
			return st, err
		}
		if time.Now().After(deadline) {
			return st, &api.Error{OverallRC: 300, ModID: api.ModGuest, RC: 300, RS: 1, Msg: fmt.Sprintf("Guest '%s' is %s after %v, want %s", userid, st, timeout, strings.Join(want, " or "))}
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return st, ctx.Err()
		case <-t.C:
		}
		poll = min(poll*2, time.Second)
	}
}

// start starts the partition and waits for a started status; a paused
// or terminated partition is stopped first. If the start job fails, the
// partition is brought back to stopped and the job's error reported.
func (b *Backend) start(ctx context.Context, userid string, g *guest, timeout time.Duration) error {
	// Try the start first: a stopped partition, the usual case, needs no
	// status read; 409 reason 1 says it is in another state.
	job, err := b.c.StartJob(ctx, g.uri+"/operations/start", nil)
	if errors.Is(err, hmc.Code(409, 1)) {
		st, serr := b.status(ctx, userid, g)
		if serr != nil {
			return serr
		}
		switch {
		case in(st, started):
			return nil
		case strings.EqualFold(st, "starting"):
			_, err := b.waitStatus(ctx, userid, g, started, timeout)
			return err
		case strings.EqualFold(st, "stopping"):
			if _, err := b.waitStatus(ctx, userid, g, stopped, timeout); err != nil {
				return err
			}
		case !in(st, stopped):
			// paused (guest shutdown), terminated: a partition can only be
			// started from stopped.
			b.log.Info("stopping a partition before starting it", "userid", userid, "status", st)
			if err := b.stop(ctx, userid, g, timeout); err != nil {
				return err
			}
		}
		job, err = b.c.StartJob(ctx, g.uri+"/operations/start", nil)
	}
	if hmc.IsStatus(err, 404) {
		b.forget(userid)
		return guestNotFound(userid)
	}
	if err != nil {
		return hmcErr(api.ModGuest, "start "+userid, err)
	}
	if err := b.c.WaitJob(ctx, job, b.cfg.Poll, b.cfg.JobTimeout); err != nil {
		b.settleStopped(userid, g)
		return hmcErr(api.ModGuest, "start "+userid, err)
	}
	// Deferred status: the job may be complete before the partition is.
	if _, err := b.waitStatus(ctx, userid, g, started, timeout); err != nil {
		return err
	}
	b.log.Info("started", "userid", userid)
	return nil
}

// settleStopped brings a partition whose start failed back to stopped.
func (b *Backend) settleStopped(userid string, g *guest) {
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.JobTimeout+b.cfg.StatusTimeout)
	defer cancel()
	if err := b.stop(ctx, userid, g, b.cfg.StatusTimeout); err != nil {
		b.log.Error("a partition whose start failed could not be stopped", "userid", userid, "error", err)
	}
}

// stop stops the partition and waits for stopped; an already stopped
// partition is fine (409 reason 1 from the HMC included).
func (b *Backend) stop(ctx context.Context, userid string, g *guest, timeout time.Duration) error {
	st, err := b.status(ctx, userid, g)
	if err != nil {
		return err
	}
	switch {
	case in(st, stopped):
		return nil
	case strings.EqualFold(st, "stopping"):
		_, err := b.waitStatus(ctx, userid, g, stopped, timeout)
		return err
	case strings.EqualFold(st, "starting"):
		if _, err := b.waitStatus(ctx, userid, g, []string{"active", "degraded", "reservation-error", "paused", "stopped", "terminated"}, timeout); err != nil {
			return err
		}
	}
	job, err := b.c.StartJob(ctx, g.uri+"/operations/stop", nil)
	if err == nil {
		err = b.c.WaitJob(ctx, job, b.cfg.Poll, b.cfg.JobTimeout)
	}
	if err != nil {
		if errors.Is(err, hmc.Code(409, 1)) {
			if st, serr := b.status(ctx, userid, g); serr == nil && in(st, stopped) {
				return nil
			}
		}
		return hmcErr(api.ModGuest, "stop "+userid, err)
	}
	if _, err := b.waitStatus(ctx, userid, g, stopped, timeout); err != nil {
		return err
	}
	b.log.Info("stopped", "userid", userid)
	return nil
}
