package zvmsim

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/zguest/zguest/hostside/smapi"
	"github.com/zguest/zguest/internal/zvm/spool"
)

// Codes of the vswitch functions, as the original connector branches on
// them (FL smtclient.py _couple_*_exception, _uncouple_*_exception,
// _set_vswitch_exception).
const (
	rsVswitchNotFound  = 40   // 212/40
	rsNotCoupledDM     = 32   // 212/32: Disconnect_DM of a NIC without LAN
	rsAlreadyConnected = 20   // 204/20
	rsNotConnected     = 48   // 204/48
	rsNotAuthorized    = 6011 // 396/6011, guess: CP's HCP6011E "not authorized" as the reason
)

var vswitchNameRe = regexp.MustCompile(`^[A-Z0-9@#$]{1,8}$`)

// nic returns e's NICDEF at vdev (the first device of its range).
func (e *entry) nic(vdev string) (*nicdef, bool) {
	v, err := strconv.ParseUint(vdev, 16, 16)
	if err != nil || len(vdev) > 4 {
		return nil, false
	}
	for i := range e.nics {
		if e.nics[i].vdev == uint16(v) {
			return &e.nics[i], true
		}
	}
	return nil, false
}

// vswitchSet handles Virtual_Network_Vswitch_Set_Extended's grant_userid
// (with user_vlan_id) and revoke_userid; other keywords are accepted and
// ignored. The target is the caller (the connector), not the grantee.
func (s *Sim) vswitchSet(params []byte) smapi.Response {
	kv, _, err := smapi.NewParamReader(params).Terminated()
	if err != nil {
		return reply(smapi.RCSyntax, 500)
	}
	name := strings.ToUpper(kv["switch_name"])
	if name == "" {
		return reply(smapi.RCSyntax, 501) // guess: required keyword missing
	}
	v, ok := s.vswitch[name]
	if !ok {
		return reply(smapi.RCNetwork, rsVswitchNotFound)
	}
	if u, ok := kv["grant_userid"]; ok {
		u = strings.ToUpper(u)
		if !spool.ValidUserID(u) {
			return reply(smapi.RCSyntax, 502) // guess
		}
		vlan := 0
		if s := kv["user_vlan_id"]; s != "" {
			if vlan, err = strconv.Atoi(s); err != nil || vlan < 1 || vlan > 4094 {
				return reply(smapi.RCSyntax, 503) // guess
			}
		}
		v.grants[u] = vlan
	}
	if u, ok := kv["revoke_userid"]; ok {
		delete(v.grants, strings.ToUpper(u))
	}
	return smapi.Response{}
}

// vdevSwitch reads the image device number and, if withSwitch, the
// switch name.
func vdevSwitch(params []byte, withSwitch bool) (vdev, sw string, ok bool) {
	r := smapi.NewParamReader(params)
	vdev, err := r.String()
	if err != nil {
		return "", "", false
	}
	if withSwitch {
		if sw, err = r.String(); err != nil {
			return "", "", false
		}
	}
	return vdev, strings.ToUpper(sw), true
}

// directoryNIC finds a NICDEF in the directory: 400/4 for an unknown
// user, 404/8 for an undefined NIC (the *_DM functions' codes).
func (s *Sim) directoryNIC(target, vdev string) (*nicdef, smapi.Response) {
	e, ok := s.dir[target]
	if !ok {
		return nil, reply(400, 4)
	}
	n, ok := e.nic(vdev)
	if !ok {
		return nil, reply(404, 8)
	}
	return n, smapi.Response{}
}

// activeNIC finds a NIC of a running guest: 200/4 for an unknown user,
// 200/12 when it is not logged on, 204/8 for an undefined NIC (the
// functions that act on the running guest).
func (s *Sim) activeNIC(target, vdev string) (*nicdef, smapi.Response) {
	e, ok := s.dir[target]
	if !ok {
		return nil, reply(200, 4)
	}
	if st, _ := s.spool.QueryUser(target); st != spool.LoggedOn {
		return nil, reply(200, 12)
	}
	n, ok := e.nic(vdev)
	if !ok {
		return nil, reply(204, 8)
	}
	return n, smapi.Response{}
}

// connectDM writes LAN SYSTEM <vswitch> into the NICDEF. As DirMaint
// does, it checks neither that the vswitch exists nor the grant: those
// only matter when CP couples the NIC.
func (s *Sim) connectDM(target string, params []byte) smapi.Response {
	vdev, sw, ok := vdevSwitch(params, true)
	if !ok {
		return reply(smapi.RCSyntax, 500)
	}
	if !vswitchNameRe.MatchString(sw) {
		return reply(smapi.RCSyntax, 502) // guess
	}
	n, fail := s.directoryNIC(target, vdev)
	if n == nil {
		return fail
	}
	n.lan = sw
	return smapi.Response{}
}

// connect couples the running guest's NIC (CP COUPLE): the guest must be
// logged on, the NIC defined, the vswitch known and the user granted.
func (s *Sim) connect(target string, params []byte) smapi.Response {
	vdev, sw, ok := vdevSwitch(params, true)
	if !ok {
		return reply(smapi.RCSyntax, 500)
	}
	n, fail := s.activeNIC(target, vdev)
	if n == nil {
		return fail
	}
	v, ok := s.vswitch[sw]
	if !ok {
		return reply(smapi.RCNetwork, rsVswitchNotFound)
	}
	if _, ok := v.grants[target]; !ok {
		return reply(smapi.RCInternal, rsNotAuthorized)
	}
	if n.coupled != "" {
		return reply(204, rsAlreadyConnected)
	}
	n.coupled = sw
	return smapi.Response{}
}

func (s *Sim) disconnectDM(target string, params []byte) smapi.Response {
	vdev, _, ok := vdevSwitch(params, false)
	if !ok {
		return reply(smapi.RCSyntax, 500)
	}
	n, fail := s.directoryNIC(target, vdev)
	if n == nil {
		return fail
	}
	if n.lan == "" {
		return reply(smapi.RCNetwork, rsNotCoupledDM)
	}
	n.lan = ""
	return smapi.Response{}
}

func (s *Sim) disconnect(target string, params []byte) smapi.Response {
	vdev, _, ok := vdevSwitch(params, false)
	if !ok {
		return reply(smapi.RCSyntax, 500)
	}
	n, fail := s.activeNIC(target, vdev)
	if n == nil {
		return fail
	}
	if n.coupled == "" {
		return reply(204, rsNotConnected)
	}
	n.coupled = ""
	return smapi.Response{}
}

// coupleAtLogon couples, as CP does at logon, every NIC whose NICDEF
// names a known vswitch the user is granted on; the others stay
// uncoupled.
func (s *Sim) coupleAtLogon(e *entry) {
	for i := range e.nics {
		n := &e.nics[i]
		n.coupled = ""
		if v, ok := s.vswitch[n.lan]; ok && n.lan != "" {
			if _, ok := v.grants[e.id]; ok {
				n.coupled = n.lan
			}
		}
	}
}
