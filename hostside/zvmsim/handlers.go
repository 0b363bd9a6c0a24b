package zvmsim

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/zguest/zguest/hostside/smapi"
	"github.com/zguest/zguest/internal/zvm/spool"
)

// Handle answers one decoded request (the server calls it; tests may too).
func (s *Sim) Handle(_ context.Context, req smapi.Request) smapi.Response {
	if !s.authenticated(req) {
		return reply(smapi.RCAuth, 0)
	}
	target := strings.ToUpper(req.Target)
	s.mu.Lock()
	defer s.mu.Unlock()
	if rc, rs, ok := s.injected(req.Function, target); ok {
		return reply(rc, rs)
	}
	if r, ok := s.handleHost(req.Function, req.Params); ok {
		return r
	}
	switch req.Function {
	case smapi.FnImageCreateDM:
		return s.imageCreate(target, req.Params)
	case smapi.FnImageDeleteDM:
		return s.imageDelete(target)
	case smapi.FnImageQueryDM:
		e, ok := s.dir[target]
		if !ok {
			return reply(400, 4)
		}
		var p smapi.Params
		p.Array(s.directoryCards(e))
		return smapi.Response{Data: p.Bytes()}
	case smapi.FnImageActivate:
		return s.eachImage(target, 28, s.activate)
	case smapi.FnImageDeactivate:
		return s.eachImage(target, 32, s.deactivate)
	case smapi.FnImageDiskCreateDM:
		return s.diskCreate(target, req.Params)
	case smapi.FnVNACreateExtendedDM:
		return s.nicCreate(target, req.Params)
	case smapi.FnVNADeleteDM:
		return s.nicDelete(target, req.Params)
	case smapi.FnImageConsoleGet:
		return s.consoleGet(target)
	case smapi.FnVswitchSetExtended:
		return s.vswitchSet(req.Params)
	case smapi.FnVNAConnectVswitchDM:
		return s.connectDM(target, req.Params)
	case smapi.FnVNAConnectVswitch:
		return s.connect(target, req.Params)
	case smapi.FnVNADisconnectDM:
		return s.disconnectDM(target, req.Params)
	case smapi.FnVNADisconnect:
		return s.disconnect(target, req.Params)
	case smapi.FnImagePause:
		return s.pause(target, req.Params)
	}
	if h, ok := queryHandlers[req.Function]; ok {
		return h(s, target, req.Params)
	}
	return reply(smapi.RCServer, smapi.RSNoFunction)
}

func (s *Sim) authenticated(req smapi.Request) bool {
	if s.opts.UserID == "" {
		return req.UserID == "" && req.Password == ""
	}
	return strings.EqualFold(req.UserID, s.opts.UserID) && req.Password == s.opts.Password
}

func reply(rc, rs int) smapi.Response { return smapi.Response{RC: int32(rc), RS: int32(rs)} }

// opID is the 4-byte operation id the directory functions return
// (0xFFFFFFFF: completed synchronously, as in pysmapi's test data).
func opID() []byte { return binary.BigEndian.AppendUint32(nil, 0xFFFFFFFF) }

var includeRe = regexp.MustCompile(`^INCLUDE\s+(\S+)`)

func (s *Sim) imageCreate(target string, params []byte) smapi.Response {
	r := smapi.NewParamReader(params)
	for range 3 { // prototype, initial password, account
		if _, err := r.String(); err != nil {
			return reply(smapi.RCSyntax, 500) // guess: syntax error rs = parameter*100
		}
	}
	recs, err := r.Array()
	if err != nil {
		return reply(smapi.RCSyntax, 800)
	}
	if !spool.ValidUserID(target) {
		return reply(smapi.RCSyntax, 400)
	}
	for _, rec := range recs {
		if len(rec) == 0 || len(rec) > smapi.MaxRecord {
			return reply(smapi.RCSyntax, 804) // guess: parameter 8 (records), reason 4 (too long)
		}
	}
	if len(recs) == 0 {
		return reply(400, 20) // guess: no records and no prototype: "prototype is not defined"
	}
	f := strings.Fields(strings.ToUpper(recs[0]))
	if len(f) < 2 || f[0] != "USER" || f[1] != target {
		return reply(596, 3658) // guess: DirMaint refuses an entry whose USER statement does not match
	}
	if _, ok := s.dir[target]; ok || s.spool.HasUser(target) {
		return reply(400, 8)
	}
	for _, rec := range recs {
		if m := includeRe.FindStringSubmatch(strings.ToUpper(rec)); m != nil && !s.profiles[m[1]] {
			return reply(436, 4)
		}
	}
	if err := s.spool.AddUser(target, spool.LoggedOff); err != nil {
		return reply(396, 0)
	}
	s.dir[target] = &entry{id: target, records: recs}
	return smapi.Response{Data: opID()}
}

func (s *Sim) imageDelete(target string) smapi.Response {
	e, ok := s.dir[target]
	if !ok {
		return reply(400, 4)
	}
	if st, _ := s.spool.QueryUser(target); st != spool.LoggedOff {
		return reply(596, 6831) // guess: DirMaint's "user is logged on" during PURGE
	}
	for _, d := range e.disks {
		s.pools[d.pool].used -= d.bytes
		os.Remove(d.path)
	}
	delete(s.dir, target)
	delete(s.console, target)
	s.spool.RemoveUser(target)
	return smapi.Response{Data: opID()}
}

func (s *Sim) activate(target string) smapi.Response {
	if _, ok := s.dir[target]; !ok {
		return reply(200, 4)
	}
	st, _ := s.spool.QueryUser(target)
	if st == spool.LoggedOn {
		return reply(200, 8)
	}
	s.spool.SetState(target, spool.LoggedOn)
	s.coupleAtLogon(s.dir[target])
	s.console[target] = append(s.console[target], fmt.Sprintf("%s LOGON AT %s", target, s.opts.Clock().Format("15:04:05 MST 01/02/06")))
	return smapi.Response{}
}

func (s *Sim) deactivate(target string) smapi.Response {
	if _, ok := s.dir[target]; !ok {
		return reply(200, 4)
	}
	st, _ := s.spool.QueryUser(target)
	if st == spool.LoggedOff {
		return reply(200, 12)
	}
	s.spool.SetState(target, spool.LoggedOff)
	for i := range s.dir[target].nics {
		s.dir[target].nics[i].coupled = ""
	}
	s.console[target] = append(s.console[target], fmt.Sprintf("USER DSCONNECT LOGOFF AS %s AT %s", target, s.opts.Clock().Format("15:04:05 MST 01/02/06")))
	return smapi.Response{}
}

func (s *Sim) diskCreate(target string, params []byte) smapi.Response {
	d, err := smapi.DecodeDiskCreate(params)
	if err != nil {
		return reply(smapi.RCSyntax, 500)
	}
	e, ok := s.dir[target]
	if !ok {
		return reply(400, 4)
	}
	v, err := strconv.ParseUint(d.Vdev, 16, 16)
	if err != nil || len(d.Vdev) > 4 {
		return reply(smapi.RCSyntax, 501) // guess
	}
	vdev := fmt.Sprintf("%04X", v)
	for _, m := range e.disks {
		if m.vdev == vdev {
			return reply(408, 4)
		}
	}
	p, ok := s.pools[strings.ToUpper(d.Area)]
	if !ok || !strings.EqualFold(d.AllocType, "AUTOG") {
		return reply(596, 2119) // guess: DirMaint "group not found" text unknown; 2119 is in the host's tolerated list
	}
	var bytes int64
	switch {
	case d.DevType == "3390" && d.Unit == smapi.UnitCylinders && p.Type == "ECKD":
		bytes = int64(d.Size) * CylinderBytes
	case d.DevType == "9336" && d.Unit == smapi.UnitBlk512 && p.Type == "FBA":
		bytes = int64(d.Size) * BlockBytes
	default:
		return reply(404, 24) // image device type not the pool's
	}
	if d.Size <= 0 {
		return reply(smapi.RCSyntax, 1001) // guess
	}
	if p.used+bytes > p.Capacity {
		return reply(408, 24)
	}
	path := s.diskFile(target, vdev)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err == nil {
		err = f.Truncate(bytes)
		f.Close()
	}
	if err != nil {
		s.log.Error("zvmsim: minidisk backing file", "path", path, "err", err)
		return reply(396, 0)
	}
	start := int64(1)
	if len(e.disks) > 0 {
		last := e.disks[len(e.disks)-1]
		start = last.start + last.units
	}
	p.used += bytes
	e.disks = append(e.disks, &minidisk{vdev: vdev, devType: d.DevType, pool: strings.ToUpper(d.Area), units: int64(d.Size), bytes: bytes, start: start, path: path})
	return smapi.Response{Data: opID()}
}

var macIDRe = regexp.MustCompile(`^[0-9A-Fa-f]{6}$`)

func (s *Sim) nicCreate(target string, params []byte) smapi.Response {
	kv, _, err := smapi.NewParamReader(params).Keywords()
	if err != nil {
		return reply(smapi.RCSyntax, 500)
	}
	e, ok := s.dir[target]
	if !ok {
		return reply(400, 4)
	}
	v, err := strconv.ParseUint(kv["image_device_number"], 16, 16)
	if err != nil {
		return reply(8, 3004) // required parameter missing or bad
	}
	typ := strings.ToUpper(kv["adapter_type"])
	if typ == "" {
		typ = "QDIO"
	}
	if typ != "QDIO" && typ != "HIPERSOCKETS" {
		return reply(8, 3003)
	}
	n := 3
	if d := kv["devices"]; d != "" {
		if n, err = strconv.Atoi(d); err != nil || n < 3 || n > 3072 {
			return reply(8, 3003)
		}
	}
	mac := strings.ToUpper(kv["mac_id"])
	if mac != "" && !macIDRe.MatchString(mac) {
		return reply(8, 3003)
	}
	lo, hi := uint16(v), uint16(v)+uint16(n)-1
	for _, x := range e.nics {
		if lo <= x.vdev+uint16(x.devices)-1 && x.vdev <= hi {
			return reply(404, 4)
		}
	}
	e.nics = append(e.nics, nicdef{vdev: uint16(v), typ: typ, devices: n, macid: mac})
	return smapi.Response{}
}

func (s *Sim) nicDelete(target string, params []byte) smapi.Response {
	vs, err := smapi.NewParamReader(params).String()
	if err != nil {
		return reply(smapi.RCSyntax, 500)
	}
	e, ok := s.dir[target]
	if !ok {
		return reply(400, 4)
	}
	v, err := strconv.ParseUint(vs, 16, 16)
	if err != nil {
		return reply(smapi.RCSyntax, 501)
	}
	for i, x := range e.nics {
		if x.vdev == uint16(v) {
			e.nics = append(e.nics[:i], e.nics[i+1:]...)
			return smapi.Response{}
		}
	}
	return reply(404, 8)
}

// consoleGet closes target's console log to the caller's (the
// connector's) reader: a class T file from target with device type CON.
// Like SMAPI, it answers rc and rs only; the caller finds the file by
// listing its reader (zthin's Image_Console_Get layout has no output
// data; the connector's getVM.getConsole lists the reader for files from
// the guest of class T and type CON).
func (s *Sim) consoleGet(target string) smapi.Response {
	if _, ok := s.dir[target]; !ok {
		return reply(200, 4)
	}
	text := strings.Join(s.console[target], "\n") + "\n"
	if _, err := s.spool.SpoolConsole(target, s.spool.HostID(), []byte(text)); err != nil {
		s.log.Error("zvmsim: spool console", "userid", target, "err", err)
		return reply(396, 0)
	}
	return smapi.Response{}
}
