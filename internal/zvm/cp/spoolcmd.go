package cp

import (
	"errors"
	"strings"

	"github.com/zguest/zguest/internal/zvm/spool"
)

// errRejected aborts a device update whose options were rejected.
var errRejected = errors.New("cp: spool options rejected")

// spoolCmd answers SPOOL C|D options. Success has no response.
func (c *CP) spoolCmd(self string, a *args) reply {
	op, present := a.next()
	if !present {
		return fail(operandMissing("CSP"))
	}
	vdev, isDev := parseVdev(op)
	if !isDev {
		return fail(invalidOption("CSP", op))
	}
	if !a.more() {
		return fail(operandMissing("CSP"))
	}
	var r *reply
	var err error
	switch vdev {
	case vdevReader:
		err = c.sys.UpdateReader(self, func(d *spool.ReaderDev) error {
			if r = spoolReaderOpts(d, a); r != nil {
				return errRejected
			}
			return nil
		})
	case vdevPunch:
		err = c.sys.UpdatePunch(self, func(d *spool.PunchDev) error {
			if r = spoolPunchOpts(d, a); r != nil {
				return errRejected
			}
			return nil
		})
	default:
		return fail(noDevice("CSP", vdev))
	}
	if r != nil {
		return *r
	}
	if err != nil {
		return userErr("CSP", self, err)
	}
	return emptyOK()
}

// spoolCommon handles the options both devices share; handled is false
// for other keywords.
func spoolCommon(tok string, a *args, cls *byte, cont, hold *bool, star bool) (handled bool, r *reply) {
	switch {
	case kw(tok, "CLASS", 2):
		v, present := a.next()
		if !present {
			return true, asReply(operandMissing("CSP"))
		}
		cl, valid := parseClass(v, star)
		if !valid {
			return true, asReply(invalidOption("CSP", v))
		}
		*cls = cl
	case kw(tok, "CONT", 4):
		*cont = true
	case kw(tok, "NOCONT", 6):
		*cont = false
	case kw(tok, "HOLD", 4):
		*hold = true
	case kw(tok, "NOHOLD", 6):
		*hold = false
	default:
		return false, nil
	}
	return true, nil
}

func spoolReaderOpts(d *spool.ReaderDev, a *args) *reply {
	for a.more() {
		tok, _ := a.next()
		if handled, r := spoolCommon(tok, a, &d.Class, &d.Cont, &d.Hold, true); handled {
			if r != nil {
				return r
			}
			continue
		}
		switch {
		case kw(tok, "KEEP", 4):
			d.Keep = true
		case kw(tok, "NOKEEP", 6):
			d.Keep = false
		case kw(tok, "EOF", 3), kw(tok, "NOEOF", 5):
		default:
			return asReply(invalidOption("CSP", tok))
		}
	}
	return nil
}

func spoolPunchOpts(d *spool.PunchDev, a *args) *reply {
	for a.more() {
		tok, _ := a.next()
		if handled, r := spoolCommon(tok, a, &d.Class, &d.Cont, &d.Hold, false); handled {
			if r != nil {
				return r
			}
			continue
		}
		var dst *string
		switch {
		case kw(tok, "FORM", 4):
			dst = &d.Form
		case kw(tok, "DEST", 4):
			dst = &d.Dest
		case kw(tok, "DIST", 4):
			dst = &d.Dist
		case kw(tok, "COPY", 4):
			if _, present := a.next(); !present { // guess: COPY accepted, not modelled
				return asReply(operandMissing("CSP"))
			}
			continue
		case kw(tok, "EOF", 3), kw(tok, "NOEOF", 5):
			continue
		default:
			return asReply(invalidOption("CSP", tok))
		}
		v, present := a.next()
		if !present || len(v) > 8 {
			return asReply(operandMissing("CSP"))
		}
		*dst = strings.ToUpper(v)
	}
	return nil
}

// closeCmd answers CLOSE C|D [options].
func (c *CP) closeCmd(self string, a *args) reply {
	op, present := a.next()
	if !present {
		return fail(operandMissing("CSL"))
	}
	vdev, isDev := parseVdev(op)
	switch {
	case !isDev:
		return fail(invalidOption("CSL", op))
	case vdev == vdevReader:
		return c.closeReader(self, a)
	case vdev == vdevPunch:
		return c.closePunch(self, a)
	}
	return fail(noDevice("CSL", vdev))
}

// closeReader: CLOSE C [HOLD|NOHOLD] [KEEP|NOKEEP] [PURGE]. No response.
func (c *CP) closeReader(self string, a *args) reply {
	var rc spool.ReaderClose
	t, f := true, false
	for a.more() {
		tok, _ := a.next()
		switch {
		case kw(tok, "HOLD", 4):
			rc.Hold = &t
		case kw(tok, "NOHOLD", 6):
			rc.Hold = &f
		case kw(tok, "KEEP", 4):
			rc.Keep = &t
		case kw(tok, "NOKEEP", 6):
			rc.Keep = &f
		case kw(tok, "PURGE", 3):
			rc.Hold, rc.Keep = &f, &f
		case kw(tok, "EOF", 3), kw(tok, "NOEOF", 5):
		default:
			return fail(invalidOption("CSL", tok))
		}
	}
	if _, _, err := c.sys.CloseReader(self, rc); err != nil {
		return userErr("CSL", self, err)
	}
	return emptyOK() // guess: CLOSE of the reader answers nothing
}

// closePunch: CLOSE D [HOLD|NOHOLD] [PURGE] [TO userid|* [RDR]] [NAME fn [ft]].
func (c *CP) closePunch(self string, a *args) reply {
	var pc spool.PunchClose
	t, f := true, false
	for a.more() {
		tok, _ := a.next()
		switch {
		case kw(tok, "HOLD", 4):
			pc.Hold = &t
		case kw(tok, "NOHOLD", 6):
			pc.Hold = &f
		case kw(tok, "PURGE", 3):
			pc.Purge = true
		case kw(tok, "KEEP", 4), kw(tok, "NOKEEP", 6), kw(tok, "EOF", 3), kw(tok, "NOEOF", 5):
		case strings.EqualFold(tok, "TO"):
			u, present := a.next()
			if !present {
				return fail(operandMissing("CSL"))
			}
			pc.To = u
			if a.more() {
				if q, isQ := parseQueue(a.peek()); isQ {
					if q != spool.QueueRDR {
						return fail(invalidOption("CSL", a.peek())) // guess: only RDR targets modelled
					}
					a.next()
				}
			}
		case kw(tok, "NAME", 4):
			n, present := a.next()
			if !present {
				return fail(operandMissing("CSL"))
			}
			if !spool.ValidName(n) {
				return fail(invalidOption("CSL", n))
			}
			pc.SetName, pc.Name = true, n
			if typ, present := a.next(); present {
				if !spool.ValidName(typ) {
					return fail(invalidOption("CSL", typ))
				}
				pc.Type = typ
			}
		default:
			return fail(invalidOption("CSL", tok))
		}
	}
	if pc.To != "" && pc.To != "*" && !spool.ValidUserID(pc.To) {
		return fail(invalidUserID("CSL", pc.To))
	}
	cl, err := c.sys.ClosePunch(self, pc)
	switch {
	case isErr(err, spool.ErrNoOpenFile):
		return emptyOK() // guess: nothing open, nothing said
	case isErr(err, spool.ErrNoSuchUser):
		return fail(invalidUserID("CSL", pc.To))
	case isErr(err, spool.ErrQueueFull):
		out := []byte(closedToQueue(cl.File) + "\n")
		m, rc := queueFull("CSL", cl.File.Owner)
		if pc.To != "*" {
			m, rc = queueFull("CSL", pc.To)
		}
		return fail(append(out, m...), rc)
	case err != nil:
		return userErr("CSL", self, err)
	case pc.Purge:
		return emptyOK() // guess: CLOSE PURGE answers nothing
	case !cl.Sent:
		return ok([]byte(closedToQueue(cl.File) + "\n"))
	case cl.File.Owner == self:
		return ok([]byte(sentFrom(cl.File, self, spool.QueuePUN, cl.OrigID) + "\n"))
	}
	return ok([]byte(sentTo(cl.File, spool.QueuePUN, cl.OrigID) + "\n"))
}
