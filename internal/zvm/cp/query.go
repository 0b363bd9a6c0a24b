package cp

import (
	"fmt"
	"strings"

	"github.com/zguest/zguest/internal/zvm/spool"
)

func (c *CP) query(self string, a *args) reply {
	op, present := a.next()
	if !present {
		return fail(operandMissing("CQV"))
	}
	if q, isQueue := parseQueue(op); isQueue {
		return c.queryFiles(self, q, a)
	}
	switch {
	case kw(op, "USERID", 6):
		return c.queryUserid(self, a)
	case kw(op, "VIRTUAL", 1):
		return c.queryVirtual(self, a)
	case kw(op, "USERS", 4):
		return c.queryUser(self, a)
	}
	return fail(invalidOption("CQV", op))
}

// queryUser answers QUERY USER [userid|*]: "LINUX01  - DSC" when logged
// on, HCP045E when not (also for users not in the directory, as CP does
// not consult the directory), HCP361E while a LOGOFF is pending.
func (c *CP) queryUser(self string, a *args) reply {
	target := self
	if t, present := a.next(); present && t != "*" {
		target = strings.ToUpper(t)
	}
	if a.more() {
		return fail(invalidOption("CQU", a.peek()))
	}
	st, err := c.sys.QueryUser(target)
	if err != nil || st == spool.LoggedOff {
		return fail(msg("CQU", RCNotLoggedOn, "%s not logged on", echo(target)), RCNotLoggedOn)
	}
	if st == spool.LogoffPending {
		return fail(msg("CQU", RCLogoffPending, "LOGOFF/FORCE pending for user %s", target), RCLogoffPending)
	}
	// guess: emulated guests run disconnected, so always "DSC".
	return ok(fmt.Appendf(nil, "%-8s - DSC\n", target))
}

// queryVirtual answers QUERY VIRTUAL C|D|ALL. The class is at index 13 and
// the CONT field at 15..20 of the first line; the rest is a guess at CP's
// layout.
func (c *CP) queryVirtual(self string, a *args) reply {
	op, present := a.next()
	if !present {
		return fail(operandMissing("CQV"))
	}
	if a.more() {
		return fail(invalidOption("CQV", a.peek()))
	}
	var out []byte
	if kw(op, "ALL", 3) {
		out = append(c.virtualReader(self), c.virtualPunch(self)...)
		return ok(out)
	}
	vdev, isDev := parseVdev(op)
	switch {
	case !isDev:
		return fail(invalidOption("CQV", op))
	case vdev == vdevReader:
		return ok(c.virtualReader(self))
	case vdev == vdevPunch:
		return ok(c.virtualPunch(self))
	}
	return fail(noDevice("QVD", vdev))
}

func word(on bool, yes, no string) string {
	if on {
		return fmt.Sprintf("%*s", len(no), yes)
	}
	return no
}

func (c *CP) virtualReader(self string) []byte {
	d, _ := c.sys.ReaderDevice(self)
	status := "CLOSED"
	if d.Active != 0 {
		status = fmt.Sprintf("OPEN %04d", d.Active) // guess
	}
	return fmt.Appendf(nil, "RDR  %04X CL %c %s %s EOF         READY\n     %04X 2540 %s %s NORESCAN SUBCHANNEL = 0003\n",
		vdevReader, d.Class, word(d.Cont, "CONT", "NOCONT"), word(d.Hold, "HOLD", "NOHOLD"),
		vdevReader, status, word(d.Keep, "KEEP", "NOKEEP"))
}

func (c *CP) virtualPunch(self string) []byte {
	d, _ := c.sys.PunchDevice(self)
	status := "CLOSED"
	if d.OpenFile != 0 {
		status = fmt.Sprintf("OPEN %04d", d.OpenFile) // guess
	}
	return fmt.Appendf(nil, "PUN  %04X CL %c %s %s COPY 001    READY FORM %s\n     %04X DIST %s DEST %s\n     %04X 2540 NOEOF %s NOKEEP NOMSG NONAME\n     %04X SUBCHANNEL = 0004\n",
		vdevPunch, d.Class, word(d.Cont, "CONT", "NOCONT"), word(d.Hold, "HOLD", "NOHOLD"), d.Form,
		vdevPunch, d.Dist, d.Dest,
		vdevPunch, status,
		vdevPunch)
}

// queryFiles answers QUERY RDR|PUN|PRT [*|userid] [spoolid|CLASS c] [ALL]
// [SHORTDATE|FULLDATE|ISODATE].
func (c *CP) queryFiles(self string, q spool.Queue, a *args) reply {
	owner, id, class, all, df := self, 0, byte(0), false, shortDate
	first := true
	for a.more() {
		tok, _ := a.next()
		switch {
		case tok == "*" && first:
		case kw(tok, "ALL", 3):
			all = true
		case kw(tok, "SHORTDATE", 5):
			df = shortDate
		case kw(tok, "FULLDATE", 4):
			df = fullDate
		case kw(tok, "ISODATE", 3):
			df = isoDate
		case kw(tok, "CLASS", 2):
			v, present := a.next()
			cl, valid := parseClass(v, false)
			if !present || !valid {
				return fail(operandMissing("CQR"))
			}
			class = cl
		default:
			if n, isID := parseSpoolID(tok); isID && id == 0 {
				id = n
				break
			}
			if first && spool.ValidUserID(tok) {
				if !c.sys.HasUser(tok) {
					return fail(notInDirectory("CQR", tok))
				}
				owner = strings.ToUpper(tok)
				break
			}
			return fail(invalidOption("CQR", tok))
		}
		first = false
	}
	files, err := c.sys.Files(owner, q)
	if err != nil {
		return userErr("CQR", owner, err)
	}
	var lines []string
	for _, f := range files {
		if (id != 0 && f.ID != id) || (class != 0 && f.Class != class) {
			continue
		}
		lines = append(lines, fileLine(f, all, df))
	}
	if len(lines) == 0 {
		// guess: a spool id that does not exist also answers NO xxx FILES.
		return ok(fmt.Appendf(nil, "NO %s FILES\n", q))
	}
	return ok([]byte(header(all, df) + "\n" + strings.Join(lines, "\n") + "\n"))
}
