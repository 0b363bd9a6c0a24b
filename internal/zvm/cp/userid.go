package cp

import "fmt"

// defaultSystemName is the system name QUERY USERID reports when none was
// set. guess: any 1-8 character name will do.
const defaultSystemName = "ZVMSIM1"

// SetSystemName sets the z/VM system name (the SYSTEM_IDENTIFIER of the
// system configuration) that QUERY USERID reports.
func (c *CP) SetSystemName(name string) { c.name = name }

// queryUserid answers QUERY USERID: the issuer's userid and the system it
// is logged on to, "OPNCLOUD AT ZVMSIM1". The connector's getHost.py
// takes the first word as its own userid and the third as the host name.
// guess: the userid is padded to 8 columns, as in QUERY USER's answer.
func (c *CP) queryUserid(self string, a *args) reply {
	if a.more() {
		return fail(invalidOption("CQU", a.peek()))
	}
	name := c.name
	if name == "" {
		name = defaultSystemName
	}
	return ok(fmt.Appendf(nil, "%-8s AT %s\n", self, name))
}
