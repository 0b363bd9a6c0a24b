package cp

import (
	"slices"
	"strings"

	"github.com/zguest/zguest/internal/zvm/spool"
)

// target parses "[*|userid] RDR|PUN|PRT".
func (c *CP) target(self string, a *args, mod string) (string, spool.Queue, *reply) {
	tok, present := a.next()
	if !present {
		return "", 0, asReply(operandMissing(mod))
	}
	if q, isQ := parseQueue(tok); isQ {
		return self, q, nil
	}
	owner := self
	if tok != "*" {
		if !spool.ValidUserID(tok) {
			return "", 0, asReply(invalidOption(mod, tok))
		}
		if !c.sys.HasUser(tok) {
			return "", 0, asReply(notInDirectory(mod, tok))
		}
		owner = strings.ToUpper(tok)
	}
	qt, present := a.next()
	if !present {
		return "", 0, asReply(operandMissing(mod))
	}
	q, isQ := parseQueue(qt)
	if !isQ {
		return "", 0, asReply(invalidOption(mod, qt))
	}
	return owner, q, nil
}

// selection is "spoolid...", "ALL" or "CLASS c".
type selection struct {
	ids   []int
	all   bool
	class byte
}

// parseSel parses a selection; multi allows several spool ids.
func parseSel(a *args, mod string, multi bool) (selection, *reply) {
	var s selection
	tok, present := a.next()
	switch {
	case !present:
		return s, asReply(operandMissing(mod))
	case kw(tok, "ALL", 3):
		s.all = true
	case kw(tok, "CLASS", 2):
		v, present := a.next()
		cl, valid := parseClass(v, false)
		if !present || !valid {
			return s, asReply(operandMissing(mod))
		}
		s.class = cl
	default:
		id, isID := parseSpoolID(tok)
		if !isID {
			return s, asReply(invalidOption(mod, tok))
		}
		s.ids = append(s.ids, id)
		for multi && a.more() {
			id, isID := parseSpoolID(a.peek())
			if !isID {
				break
			}
			a.next()
			s.ids = append(s.ids, id)
		}
	}
	return s, nil
}

// resolve returns the ids a selection names in owner's queue q; a named id
// that does not exist is reported with HCP042E.
func (c *CP) resolve(owner string, q spool.Queue, s selection, mod string) ([]int, *reply) {
	files, err := c.sys.Files(owner, q)
	if err != nil {
		r := userErr(mod, owner, err)
		return nil, &r
	}
	var ids []int
	for _, f := range files {
		if s.all || (s.class != 0 && f.Class == s.class) {
			ids = append(ids, f.ID)
		}
	}
	for _, id := range s.ids {
		if !slices.ContainsFunc(files, func(f spool.File) bool { return f.ID == id }) {
			return nil, asReply(noSpoolID(mod, id))
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// purge answers PURGE [*|userid] RDR|PUN|PRT spoolid...|ALL|CLASS c.
func (c *CP) purge(self string, a *args) reply {
	owner, q, r := c.target(self, a, "CSU")
	if r != nil {
		return *r
	}
	s, r := parseSel(a, "CSU", true)
	if r != nil {
		return *r
	}
	if a.more() {
		return fail(invalidOption("CSU", a.peek()))
	}
	ids, r := c.resolve(owner, q, s, "CSU")
	if r != nil {
		return *r
	}
	n := 0
	for _, id := range ids {
		if c.sys.Purge(owner, q, id) == nil {
			n++
		}
	}
	return ok(count(n, "PURGED"))
}

// order answers ORDER [*|userid] RDR|PUN|PRT spoolid...|CLASS c.
func (c *CP) order(self string, a *args) reply {
	owner, q, r := c.target(self, a, "CSU")
	if r != nil {
		return *r
	}
	s, r := parseSel(a, "CSU", true)
	if r != nil {
		return *r
	}
	if a.more() {
		return fail(invalidOption("CSU", a.peek()))
	}
	ids, r := c.resolve(owner, q, s, "CSU")
	if r != nil {
		// vmur documents "NO FILES ORDERED" ahead of the HCP message.
		return fail(append([]byte("NO FILES ORDERED\n"), r.out...), r.rc)
	}
	if err := c.sys.Order(owner, q, ids...); err != nil {
		return userErr("CSU", owner, err)
	}
	return ok(count(len(ids), "ORDERED")) // guess: success text
}

// change answers CHANGE [*|userid] RDR|PUN|PRT spoolid|ALL|CLASS c
// options: CLASS c, HOLD, NOHOLD, KEEP, NOKEEP, NAME fn [ft], DIST d.
func (c *CP) change(self string, a *args) reply {
	owner, q, r := c.target(self, a, "CSU")
	if r != nil {
		return *r
	}
	s, r := parseSel(a, "CSU", false)
	if r != nil {
		return *r
	}
	var ch spool.Change
	t, f := true, false
	if !a.more() {
		return fail(operandMissing("CSU"))
	}
	for a.more() {
		tok, _ := a.next()
		switch {
		case kw(tok, "CLASS", 2):
			v, present := a.next()
			if !present {
				return fail(operandMissing("CSU"))
			}
			cl, valid := parseClass(v, false)
			if !valid {
				return fail(invalidOption("CSU", v))
			}
			ch.Class = &cl
		case kw(tok, "HOLD", 4):
			ch.Hold = &t
		case kw(tok, "NOHOLD", 6):
			ch.Hold = &f
		case kw(tok, "KEEP", 4):
			ch.Keep = &t
		case kw(tok, "NOKEEP", 6):
			ch.Keep = &f
		case kw(tok, "NAME", 4):
			n, present := a.next()
			if !present || !spool.ValidName(n) {
				return fail(operandMissing("CSU"))
			}
			typ := ""
			if v, present := a.next(); present {
				if !spool.ValidName(v) {
					return fail(invalidOption("CSU", v))
				}
				typ = v
			}
			ch.Name, ch.Type = &n, &typ
		case kw(tok, "DIST", 4):
			v, present := a.next()
			if !present || len(v) > 8 {
				return fail(operandMissing("CSU"))
			}
			v = strings.ToUpper(v)
			ch.Dist = &v
		default:
			return fail(invalidOption("CSU", tok))
		}
	}
	ids, r := c.resolve(owner, q, s, "CSU")
	if r != nil {
		return *r
	}
	n := 0
	for _, id := range ids {
		if _, err := c.sys.Change(owner, q, id, ch); err == nil {
			n++
		}
	}
	return ok(count(n, "CHANGED"))
}

// transfer answers TRANSFER [*|userid] RDR|PUN|PRT spoolid|ALL|CLASS c
// TO userid|* [RDR] with one "SENT TO" line per file.
func (c *CP) transfer(self string, a *args) reply {
	owner, q, r := c.target(self, a, "CSU")
	if r != nil {
		return *r
	}
	s, r := parseSel(a, "CSU", false)
	if r != nil {
		return *r
	}
	to, present := a.next()
	if !present || !strings.EqualFold(to, "TO") {
		return fail(operandMissing("CSU"))
	}
	dest, present := a.next()
	if !present {
		return fail(operandMissing("CSU"))
	}
	if dest == "*" {
		dest = self
	}
	if a.more() {
		tq, isQ := parseQueue(a.peek())
		if !isQ || tq != spool.QueueRDR {
			return fail(invalidOption("CSU", a.peek())) // guess: only RDR targets modelled
		}
		a.next()
	}
	if a.more() {
		return fail(invalidOption("CSU", a.peek()))
	}
	if !spool.ValidUserID(dest) {
		return fail(invalidUserID("CSU", dest))
	}
	if !c.sys.HasUser(dest) {
		return fail(notInDirectory("CSU", dest)) // guess: HCP053E
	}
	ids, r := c.resolve(owner, q, s, "CSU")
	if r != nil {
		return *r
	}
	var out []byte
	for _, id := range ids {
		f, err := c.sys.Transfer(owner, q, id, dest)
		if isErr(err, spool.ErrQueueFull) {
			m, rc := queueFull("CSU", dest)
			return fail(append(out, m...), rc)
		}
		if err != nil {
			continue
		}
		out = append(out, sentTo(f, q, id)+"\n"...)
	}
	if len(ids) == 0 {
		return ok(count(0, "TRANSFERRED")) // guess
	}
	return ok(out)
}

// link answers LINK [TO] userid [vdev1 [AS] vdev2 [mode]]. Minidisks are
// not modelled: an existing user without vdev gets HCP021E and with one
// HCP040E; vmur only tests for 53 and 20.
func (c *CP) link(self string, a *args) reply {
	u, present := a.next()
	if present && strings.EqualFold(u, "TO") {
		u, present = a.next()
	}
	if present && u == "*" {
		u = self
	}
	if !present || !spool.ValidUserID(u) {
		return fail(msg("LNM", RCUserIDMissing, "Userid missing or invalid"), RCUserIDMissing)
	}
	if !c.sys.HasUser(u) {
		return fail(notInDirectory("LNM", u))
	}
	vdev, present := a.next()
	if !present {
		return fail(msg("LNM", RCNoVdev, "A virtual device number was not supplied or it was invalid."), RCNoVdev)
	}
	v, isDev := parseVdev(vdev)
	if !isDev {
		return fail(msg("LNM", RCNoVdev, "A virtual device number was not supplied or it was invalid."), RCNoVdev)
	}
	return fail(noDevice("LNM", v))
}
