package cp

import (
	"errors"
	"strings"

	"github.com/zguest/zguest/internal/zvm/spool"
)

// CP interprets CP commands against one spool.
type CP struct {
	sys  *spool.System
	name string // system name (userid.go)
}

// New returns an interpreter for sys.
func New(sys *spool.System) *CP { return &CP{sys: sys} }

// System returns the spool the interpreter works on.
func (c *CP) System() *spool.System { return c.sys }

// reply is a response and its CP return code.
type reply struct {
	out []byte
	rc  int
}

func ok(out []byte) reply           { return reply{out: out} }
func fail(out []byte, rc int) reply { return reply{out: out, rc: rc} }
func asReply(out []byte, rc int) *reply {
	return &reply{out: out, rc: rc}
}
func emptyOK() reply                     { return reply{} }
func (r reply) values() ([]byte, int)    { return r.out, r.rc }
func isErr(err error, target error) bool { return errors.Is(err, target) }

// Exec runs one CP command line issued by userID and returns the response
// (ASCII, every line ending in '\n', possibly empty) and the CP return
// code. The command is cut at the first NUL, as the kernel's copy is
// NUL-terminated.
func (c *CP) Exec(userID, cmd string) ([]byte, int) {
	if i := strings.IndexByte(cmd, 0); i >= 0 {
		cmd = cmd[:i]
	}
	toks := fields(cmd)
	if len(toks) == 0 {
		return nil, 0 // guess: an empty command line does nothing
	}
	st, err := c.sys.QueryUser(userID)
	if err != nil || st == spool.LoggedOff {
		return msg("CQU", RCNotLoggedOn, "%s not logged on", echo(strings.ToUpper(userID))), RCNotLoggedOn
	}
	self := strings.ToUpper(userID)
	verb, a := toks[0], &args{toks: toks[1:]}
	switch {
	case kw(verb, "QUERY", 1):
		return c.query(self, a).values()
	case kw(verb, "SPOOL", 2):
		return c.spoolCmd(self, a).values()
	case kw(verb, "CLOSE", 2):
		return c.closeCmd(self, a).values()
	case kw(verb, "ORDER", 3):
		return c.order(self, a).values()
	case kw(verb, "CHANGE", 2):
		return c.change(self, a).values()
	case kw(verb, "TRANSFER", 4):
		return c.transfer(self, a).values()
	case kw(verb, "PURGE", 3):
		return c.purge(self, a).values()
	case kw(verb, "LINK", 4): // guess: no abbreviation accepted
		return c.link(self, a).values()
	}
	return unknownCommand(verb)
}

// userErr maps a spool user lookup error.
func userErr(mod, u string, err error) reply {
	if isErr(err, spool.ErrNoSuchUser) {
		return fail(notInDirectory(mod, u))
	}
	return fail(msg(mod, RCUserIDMissing, "Userid missing or invalid"), RCUserIDMissing)
}
