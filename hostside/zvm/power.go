package zvm

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/zguest/zguest/hostside/api"
)

// CP return codes of QUERY USER that mean "off" (HCP045E not logged on,
// HCP361E logoff pending), as the original's isLoggedOn reads them.
const (
	cpNotLoggedOn   = 45
	cpLogoffPending = 361
)

// PowerState implements api.Backend: CP QUERY USER, rc 0 on, 45/361 off.
func (b *Backend) PowerState(ctx context.Context, userid string) (string, error) {
	if _, err := b.guest(ctx, userid); err != nil {
		return "", err
	}
	return b.powerState(ctx, userid)
}

func (b *Backend) powerState(ctx context.Context, userid string) (string, error) {
	r, err := b.c.CP.Exec(ctx, "QUERY USER "+userid)
	if err != nil {
		return "", internalErr(api.ModGuest, fmt.Errorf("power state of %s: CP QUERY USER: %w", userid, err))
	}
	switch r.RC {
	case 0:
		return "on", nil
	case cpNotLoggedOn, cpLogoffPending:
		return "off", nil
	}
	return "", &api.Error{OverallRC: 1, ModID: api.ModSMT, RC: r.RC, RS: 0, Msg: fmt.Sprintf("power state of %s: CP QUERY USER rc %d: %s", userid, r.RC, strings.TrimSpace(r.Text))}
}

// Action implements api.Backend. start is Image_Activate (an active
// guest is fine), stop Image_Deactivate IMMED (an inactive one is fine),
// softstop Image_Deactivate WITHIN timeout, reboot and reset deactivate
// and activate. pause and unpause are Image_Pause PAUSE=YES/NO.
// guess: softstop and reboot run a shutdown over IUCV in the original;
// without IUCV the guest gets CP's signal through the force time.
func (b *Backend) Action(ctx context.Context, userid string, a api.PowerAction) error {
	if _, err := b.guest(ctx, userid); err != nil {
		return err
	}
	start := func() error {
		if err := b.c.SMAPI.ImageActivate(ctx, userid); err != nil && !isCodes(err, 200, 8) {
			return smapiErr("start "+userid, err)
		}
		return nil
	}
	stop := func(force string) error {
		if err := b.c.SMAPI.ImageDeactivate(ctx, userid, force); err != nil && !isCodes(err, 200, 12) {
			return smapiErr("stop "+userid, err)
		}
		return nil
	}
	switch a.Name {
	case "start":
		return start()
	case "stop":
		return stop("IMMED")
	case "softstop":
		t := a.Timeout
		if t <= 0 {
			t = 120
		}
		return stop("WITHIN " + strconv.Itoa(t))
	case "reboot", "reset":
		if err := stop("IMMED"); err != nil {
			return err
		}
		return start()
	case "pause", "unpause":
		return b.pause(ctx, userid, a.Name == "pause")
	}
	return inputErr("unknown power action %q", a.Name)
}

// GuestInfo implements api.Backend from the directory entry and QUERY
// USER.
func (b *Backend) GuestInfo(ctx context.Context, userid string) (api.GuestInfo, error) {
	if _, err := b.guest(ctx, userid); err != nil {
		return api.GuestInfo{}, err
	}
	recs, err := b.c.SMAPI.ImageQueryDM(ctx, userid)
	if err != nil {
		return api.GuestInfo{}, smapiErr("query guest "+userid, err)
	}
	st, err := b.powerState(ctx, userid)
	if err != nil {
		return api.GuestInfo{}, err
	}
	info := api.GuestInfo{PowerState: st}
	for _, r := range recs {
		f := strings.Fields(strings.ToUpper(r))
		switch {
		case len(f) >= 5 && f[0] == "USER":
			info.MemKB = storKB(f[3])
			info.MaxMemKB = storKB(f[4])
		case len(f) >= 4 && f[0] == "COMMAND" && f[1] == "DEFINE" && f[2] == "CPU":
			info.NumCPU++
		}
	}
	return info, nil
}

func storKB(s string) int64 {
	if len(s) < 2 {
		return 0
	}
	n, err := strconv.ParseInt(s[:len(s)-1], 10, 64)
	if err != nil {
		return 0
	}
	switch s[len(s)-1] {
	case 'G':
		return n << 20
	case 'M':
		return n << 10
	case 'K':
		return n
	}
	return 0
}

// ConsoleOutput implements api.Backend as the connector's
// getVM.getConsole does: Image_Console_Get closes the guest's console to
// the connector's reader, whose listing names the files from the guest of
// class T and device type CON; each is received (and so purged) in
// listing order. The text is the records with their 0x40 padding
// removed.
func (b *Backend) ConsoleOutput(ctx context.Context, userid string) (string, error) {
	if _, err := b.guest(ctx, userid); err != nil {
		return "", err
	}
	if err := b.c.SMAPI.ImageConsoleGet(ctx, userid); err != nil {
		return "", smapiErr("console of "+userid, err)
	}
	files, err := b.ownReader(ctx)
	if err != nil {
		return "", internalErr(api.ModGuest, fmt.Errorf("console of %s: %w", userid, err))
	}
	var out []byte
	found := false
	for _, f := range files {
		if !strings.EqualFold(f.Origin, userid) || f.Class != "T" || f.DevType != "CON" {
			continue
		}
		found = true
		raw, err := b.c.CP.Receive(ctx, f.ID)
		if err != nil {
			return "", internalErr(api.ModGuest, fmt.Errorf("console of %s: receive spool file %04d: %w", userid, f.ID, err))
		}
		for len(raw) > 0 {
			n := min(80, len(raw))
			out = append(out, bytes.TrimRight(raw[:n], "\x40")...)
			raw = raw[n:]
		}
		out = bytes.TrimRight(out, "\x00")
	}
	if !found {
		return "", internalErr(api.ModGuest, fmt.Errorf("console of %s: no console spool file from %s in the connector's reader after Image_Console_Get", userid, userid))
	}
	return string(out), nil
}

// pause runs Image_Pause, as the original's smtLayer powerVM.pause and
// unpause do. A guest that is not logged on answers rc 0 rs 12 ("Image
// not active"), which smcli, and so the original, reports as success;
// it is logged here (rs 12: smapi.RSImageNotActive).
func (b *Backend) pause(ctx context.Context, userid string, pause bool) error {
	what := map[bool]string{true: "pause", false: "unpause"}[pause]
	active, err := b.c.SMAPI.ImagePause(ctx, userid, pause)
	if err != nil {
		return smapiErr(what+" "+userid, err)
	}
	if !active {
		b.log.Info(what+": the guest is not logged on; nothing to do", "userid", userid)
		return nil
	}
	b.log.Info("power action", "userid", userid, "action", what)
	return nil
}
