package kvm

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/digitalocean/go-libvirt"

	"github.com/zguest/zguest/hostside/api"
)

// PowerState is "on" while the domain has a qemu process (running,
// paused, shutting down) and "off" otherwise.
func (b *Backend) PowerState(ctx context.Context, userid string) (string, error) {
	c, dom, _, err := b.lookup(userid)
	if err != nil {
		return "", err
	}
	st, _, err := c.DomainGetState(dom, 0)
	if err != nil {
		return "", lvErr(api.ModGuest, "state of "+userid, err)
	}
	if active(libvirt.DomainState(st)) {
		return "on", nil
	}
	return "off", nil
}

// GuestInfo reports memory, vCPUs and CPU time from libvirt.
func (b *Backend) GuestInfo(ctx context.Context, userid string) (api.GuestInfo, error) {
	c, dom, _, err := b.lookup(userid)
	if err != nil {
		return api.GuestInfo{}, err
	}
	st, maxMem, mem, ncpu, cpuTime, err := c.DomainGetInfo(dom)
	if err != nil {
		return api.GuestInfo{}, lvErr(api.ModGuest, "info of "+userid, err)
	}
	ps := "off"
	if active(libvirt.DomainState(st)) {
		ps = "on"
	}
	return api.GuestInfo{PowerState: ps, MaxMemKB: int64(maxMem), MemKB: int64(mem), NumCPU: int(ncpu), CPUTimeUS: int64(cpuTime / 1000)}, nil
}

// Action runs a power action (see the package doc).
func (b *Backend) Action(ctx context.Context, userid string, a api.PowerAction) error {
	ctx, cancel := opContext(ctx, "power", b.cfg.Timeouts.Power)
	defer cancel()
	c, dom, g, err := b.lookup(userid)
	if err != nil {
		return err
	}
	st, _, err := c.DomainGetState(dom, 0)
	if err != nil {
		return lvErr(api.ModGuest, "state of "+userid, err)
	}
	state := libvirt.DomainState(st)
	if a.Timeout < 0 || a.PollInterval < 0 {
		return inputErr(api.ModGuest, "%s %s: timeout %d, poll_interval %d: want 0 or more seconds", a.Name, userid, a.Timeout, a.PollInterval)
	}
	poll := time.Duration(a.PollInterval) * time.Second
	if poll == 0 {
		poll = b.cfg.Poll
	}
	switch a.Name {
	case "start":
		switch {
		case state == libvirt.DomainPaused:
			err = c.DomainResume(dom)
		case active(state):
			return nil
		case state == libvirt.DomainCrashed:
			return conflict(api.ModGuest, 7, "start %s: the guest crashed and is kept for inspection; stop it first", userid)
		case g.Root == "":
			return conflict(api.ModGuest, 5, "start %s: no root disk; deploy an image first", userid)
		default:
			_, err = c.DomainCreateWithFlags(dom, 0)
		}
	case "stop":
		if a.Timeout > 0 {
			return b.gracefulStop(ctx, c, dom, userid, time.Duration(a.Timeout)*time.Second, poll)
		}
		err = b.destroy(c, dom)
	case "softstop":
		timeout := b.cfg.StopTimeout
		if a.Timeout > 0 {
			timeout = time.Duration(a.Timeout) * time.Second
		}
		return b.gracefulStop(ctx, c, dom, userid, timeout, poll)
	case "reboot":
		if !active(state) {
			return conflict(api.ModGuest, 6, "reboot %s: the guest is not running; start it", userid)
		}
		err = c.DomainReboot(dom, libvirt.DomainRebootDefault)
	case "reset":
		if !active(state) {
			return conflict(api.ModGuest, 6, "reset %s: the guest is not running; start it", userid)
		}
		err = c.DomainReset(dom, 0)
	case "pause":
		if state == libvirt.DomainPaused {
			return nil
		}
		err = c.DomainSuspend(dom)
	case "unpause":
		if state != libvirt.DomainPaused {
			return nil
		}
		err = c.DomainResume(dom)
	default:
		return inputErr(api.ModGuest, "power action %q: want start, stop, softstop, reboot, reset, pause or unpause", a.Name)
	}
	if err != nil {
		return lvErr(api.ModGuest, a.Name+" "+userid, err)
	}
	b.log.Info("power action", "userid", userid, "action", a.Name)
	return nil
}

// gracefulStop asks the guest to shut down (libvirt's default method:
// a signal the s390 kernel turns into a shutdown), waits up to timeout
// for the domain to stop, then destroys it.
func (b *Backend) gracefulStop(ctx context.Context, c Conn, dom libvirt.Domain, userid string, timeout, poll time.Duration) error {
	st, _, err := c.DomainGetState(dom, 0)
	if err != nil {
		return lvErr(api.ModGuest, "state of "+userid, err)
	}
	if !hasProcess(libvirt.DomainState(st)) {
		return nil
	}
	start := time.Now()
	if err := c.DomainShutdown(dom); err != nil && !isOpInvalid(err) {
		return lvErr(api.ModGuest, "shut down "+userid, err)
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		st, _, err := c.DomainGetState(dom, 0)
		if err != nil {
			return lvErr(api.ModGuest, "state of "+userid, err)
		}
		if !hasProcess(libvirt.DomainState(st)) {
			b.log.Info("guest shut down", "userid", userid, "after", time.Since(start).Round(time.Millisecond))
			return nil
		}
		select {
		case <-ctx.Done():
			return internalErr(api.ModGuest, "stop "+userid, context.Cause(ctx))
		case <-deadline.C:
			b.log.Warn("guest did not shut down in time; destroying it", "userid", userid, "timeout", timeout)
			if err := b.destroy(c, dom); err != nil {
				return lvErr(api.ModGuest, "destroy "+userid, err)
			}
			return nil
		case <-tick.C:
		}
	}
}

// ConsoleOutput returns what the guest wrote to its consoles: the sclp
// console's log (kernel, systemd, cloud-init: everything on
// /dev/console) followed by the sclplm console's file (a getty and
// whatever the kernel prints there), each cut to its last
// ConsoleMaxBytes/2 bytes. A guest never started has no output.
func (b *Backend) ConsoleOutput(ctx context.Context, userid string) (string, error) {
	_, _, g, err := b.lookup(userid)
	if err != nil {
		return "", err
	}
	g.Dir = b.guestDir(userid)
	sclp, sclplm := b.consoleLogs(g)
	var out []byte
	for _, p := range []string{sclp, sclplm} {
		t, err := tail(p, int64(b.cfg.ConsoleMaxBytes/2))
		if err != nil {
			return "", internalErr(api.ModGuest, "console log of "+userid, err)
		}
		if len(out) > 0 && len(t) > 0 && out[len(out)-1] != '\n' {
			out = append(out, '\n')
		}
		out = append(out, t...)
	}
	return string(out), nil
}

// tail reads the last n bytes of path ("" if it does not exist).
func tail(path string, n int64) ([]byte, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	off := max(fi.Size()-n, 0)
	b, err := io.ReadAll(io.NewSectionReader(f, off, fi.Size()-off))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}
