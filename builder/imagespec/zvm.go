package imagespec

import (
	"regexp"
	"strconv"
	"strings"
)

// ZVM are settings of z/VM images.
type ZVM struct {
	// AuthorizedSenders are the z/VM userids whose reader files the agent
	// uses (written to /etc/zguest/authorized-senders): for images of a
	// z/VM cloud connector host, the connector's userid. Empty writes no
	// file: the guest then pins the sender of its first config drive.
	// "*" alone accepts any sender, as zvmguestconfigure did.
	AuthorizedSenders []string `yaml:"authorized_senders"`
}

// userIDRE is a z/VM userid: 1 to 8 of A-Z, 0-9, @, # and $.
var userIDRE = regexp.MustCompile(`^[A-Za-z0-9@#$]{1,8}$`)

func (s *Spec) validateZVM(v *validator) {
	z := &s.ZVM
	if len(z.AuthorizedSenders) == 0 {
		return
	}
	if s.Target != "zvm" {
		v.failf("zvm.authorized_senders", "only for target zvm (the target is %q)", s.Target)
	}
	for i, u := range z.AuthorizedSenders {
		key := "zvm.authorized_senders[" + strconv.Itoa(i) + "]"
		switch {
		case u == "*" && len(z.AuthorizedSenders) > 1:
			v.failf(key, `"*" accepts any sender: list it alone`)
		case u == "*":
		case !userIDRE.MatchString(u):
			v.failf(key, "%q is not a z/VM userid (1 to 8 of A-Z, 0-9, @, #, $)", u)
		default:
			z.AuthorizedSenders[i] = strings.ToUpper(u)
		}
	}
}
