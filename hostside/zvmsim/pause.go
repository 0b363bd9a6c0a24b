package zvmsim

import (
	"strings"

	"github.com/zguest/zguest/hostside/smapi"
	"github.com/zguest/zguest/internal/zvm/spool"
)

// pause answers Image_Pause: params are "PAUSE=YES" or "PAUSE=NO" as
// they follow the target, with no length field (zthin
// vmapiImagePause.c). A logged-on image is paused or resumed (pausing a
// paused image, or resuming a running one, changes nothing, as CP's
// STOP/BEGIN do); an image that is not logged on answers rc 0 rs 12,
// "Image not active" (zthin rcdescriptions.c).
func (s *Sim) pause(target string, params []byte) smapi.Response {
	var yes bool
	switch strings.TrimRight(string(params), "\x00") {
	case "PAUSE=YES":
		yes = true
	case "PAUSE=NO":
	default:
		// guess: rc 24 (syntax error) rs for the second parameter, as the
		// simulator numbers other syntax errors (parameter*100).
		return reply(smapi.RCSyntax, 200)
	}
	if _, ok := s.dir[target]; !ok {
		// guess: "image not found" as Image_Activate/Deactivate answer it.
		return reply(200, 4)
	}
	if s.paused == nil {
		s.paused = map[string]bool{}
	}
	if st, _ := s.spool.QueryUser(target); st != spool.LoggedOn {
		delete(s.paused, target)
		return reply(0, smapi.RSImageNotActive)
	}
	if yes {
		s.paused[target] = true
	} else {
		delete(s.paused, target)
	}
	return smapi.Response{}
}

// Paused says whether userid is logged on and paused (for tests).
func (s *Sim) Paused(userid string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, _ := s.spool.QueryUser(strings.ToUpper(userid))
	return st == spool.LoggedOn && s.paused[strings.ToUpper(userid)]
}
