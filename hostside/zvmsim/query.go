package zvmsim

import (
	"fmt"
	"hash/crc32"
	"sort"
	"strconv"
	"strings"

	"github.com/zguest/zguest/hostside/smapi"
	"github.com/zguest/zguest/internal/zvm/spool"
)

// DefaultAPILevel is the functional level Query_API_Functional_Level
// answers unless Options.APILevel says otherwise: 720, z/VM 7.2, the
// highest level zthin's smcli names (it prints "z/VM V7.2" for 720 and
// above).
const DefaultAPILevel = smapi.LevelZVM72

// queryHandlers are the functions of this file, looked up by Handle
// after its own switch.
var queryHandlers = map[string]func(s *Sim, target string, params []byte) smapi.Response{
	smapi.FnQueryAPIFunctionalLevel: (*Sim).apiLevel,
	smapi.FnImageStatusQuery:        (*Sim).statusQuery,
	smapi.FnImageActiveConfigQuery:  (*Sim).activeConfig,
	smapi.FnNameListAdd:             (*Sim).nameListAdd,
	smapi.FnNameListRemove:          (*Sim).nameListRemove,
	smapi.FnNameListQuery:           (*Sim).nameListQuery,
	smapi.FnNameListDestroy:         (*Sim).nameListDestroy,
}

// apiLevel answers rc 0 with the level in the reason code.
func (s *Sim) apiLevel(string, []byte) smapi.Response {
	lvl := s.opts.APILevel
	if lvl == 0 {
		lvl = DefaultAPILevel
	}
	return reply(0, lvl)
}

// statusQuery lists the active images among target: "*" (every logged-on
// user), a name list, or one image. One image that is logged off answers
// 200/12; one CP does not know answers 200/4.
// guess: the SMAPI reference's code for an undefined single image is
// taken to be 200/4 ("image not found"), as Image_Activate answers.
func (s *Sim) statusQuery(target string, _ []byte) smapi.Response {
	var names []string
	switch members, isList := s.lists[target]; {
	case target == "*":
		for _, u := range s.spool.Users() {
			if st, _ := s.spool.QueryUser(u); st == spool.LoggedOn {
				names = append(names, u)
			}
		}
		sort.Strings(names)
	case isList:
		for _, u := range members {
			if st, err := s.spool.QueryUser(u); err == nil && st == spool.LoggedOn {
				names = append(names, u)
			}
		}
	default:
		st, err := s.spool.QueryUser(target)
		if err != nil {
			return reply(200, 4)
		}
		if st != spool.LoggedOn {
			return reply(200, 12)
		}
		names = []string{target}
	}
	return smapi.Response{Data: smapi.EncodeNames(names)}
}

// activeConfig describes a logged-on image from its directory entry:
// storage and SHARE from the USER and SHARE statements, one CPU per
// COMMAND DEFINE CPU (at least one), the unit record devices and the
// minidisks.
func (s *Sim) activeConfig(target string, _ []byte) smapi.Response {
	e, ok := s.dir[target]
	if !ok {
		return reply(200, 4)
	}
	if st, _ := s.spool.QueryUser(target); st != spool.LoggedOn {
		return reply(200, 12)
	}
	a := smapi.ActiveConfig{MemoryUnit: smapi.UnitMB, ShareType: smapi.ShareRelative, ShareValue: "100"}
	var cpus []int32
	for _, r := range e.records {
		f := strings.Fields(strings.ToUpper(r))
		switch {
		case len(f) >= 4 && f[0] == "USER":
			a.Memory, a.MemoryUnit = storage(f[3])
		case len(f) >= 3 && f[0] == "SHARE":
			if f[1] == "ABSOLUTE" {
				a.ShareType = smapi.ShareAbsolute
			}
			a.ShareValue = strings.TrimSuffix(f[2], "%")
			if len(a.ShareValue) > 5 {
				a.ShareValue = a.ShareValue[:5]
			}
		case len(f) >= 4 && f[0] == "COMMAND" && (f[1] == "DEFINE" || f[1] == "DEF") && f[2] == "CPU":
			if n, err := strconv.ParseUint(f[3], 16, 8); err == nil {
				cpus = append(cpus, int32(n))
			}
		}
	}
	if len(cpus) == 0 {
		cpus = []int32{0}
	}
	for i, n := range cpus {
		st := byte(smapi.CPUNonBase)
		if i == 0 {
			st = smapi.CPUBase
		}
		a.CPUs = append(a.CPUs, smapi.CPU{Number: n, ID: cpuID(n), Status: st})
	}
	a.NumCPUs = int32(len(a.CPUs))
	// guess: the unit record devices are those a typical profile
	// (OSDFLT) defines: console 0009, reader 000C, punch 000D, printer
	// 000E. NICs are not listed (the function's device types are unit
	// record and DASD only).
	a.Devices = []smapi.Device{{Type: smapi.DevConsole, Address: "0009"}, {Type: smapi.DevReader, Address: "000C"}, {Type: smapi.DevPunch, Address: "000D"}, {Type: smapi.DevPrinter, Address: "000E"}}
	for _, d := range e.disks {
		a.Devices = append(a.Devices, smapi.Device{Type: smapi.DevDASD, Address: d.vdev})
	}
	return smapi.Response{Data: a.Encode()}
}

// storage splits a directory storage size ("2G", "2048M", "512K") into
// amount and Image_Active_Configuration_Query unit.
func storage(v string) (int32, byte) {
	if len(v) < 2 {
		return 0, smapi.UnitMB
	}
	n, err := strconv.ParseInt(v[:len(v)-1], 10, 32)
	if err != nil {
		return 0, smapi.UnitMB
	}
	switch v[len(v)-1] {
	case 'G':
		return int32(n), smapi.UnitGB
	case 'K':
		return int32(n), smapi.UnitKB
	}
	return int32(n), smapi.UnitMB
}

// cpuID makes a 16-digit CPU id: version FF (a virtual CPU), the CPU
// address in the first serial digit, then the machine type.
// guess: the serial digits and machine type 8561 (z15) are made up.
func cpuID(n int32) string {
	return fmt.Sprintf("FF%X1917785610000", n&0xF)
}

// nameLists returns the name lists, made on first use.
func (s *Sim) nameLists() map[string][]string {
	if s.lists == nil {
		s.lists = map[string][]string{}
	}
	return s.lists
}

func nameParam(params []byte) (string, bool) {
	n, err := smapi.NewParamReader(params).String()
	if err != nil || len(n) < 1 || len(n) > 64 {
		return "", false
	}
	return strings.ToUpper(n), true
}

// nameListAdd adds a name to the list target, creating it.
// guess: adding a name already in the list succeeds and changes nothing.
func (s *Sim) nameListAdd(target string, params []byte) smapi.Response {
	n, ok := nameParam(params)
	if !ok {
		return reply(smapi.RCSyntax, 500) // guess: syntax error rs = parameter*100
	}
	l := s.nameLists()
	for _, m := range l[target] {
		if m == n {
			return reply(0, 0)
		}
	}
	l[target] = append(l[target], n)
	return reply(0, 0)
}

// nameListRemove removes a name; an emptied list is destroyed.
// guess: a name not in the list, or a list that does not exist, answers
// 200/24 ("list not found").
func (s *Sim) nameListRemove(target string, params []byte) smapi.Response {
	n, ok := nameParam(params)
	if !ok {
		return reply(smapi.RCSyntax, 500)
	}
	l := s.nameLists()
	for i, m := range l[target] {
		if m == n {
			l[target] = append(l[target][:i], l[target][i+1:]...)
			if len(l[target]) == 0 {
				delete(l, target)
			}
			return reply(0, 0)
		}
	}
	return reply(200, 24)
}

func (s *Sim) nameListQuery(target string, _ []byte) smapi.Response {
	m, ok := s.nameLists()[target]
	if !ok {
		return reply(200, 24)
	}
	return smapi.Response{Data: smapi.EncodeNames(m)}
}

func (s *Sim) nameListDestroy(target string, _ []byte) smapi.Response {
	if _, ok := s.nameLists()[target]; !ok {
		return reply(200, 24)
	}
	delete(s.lists, target)
	return reply(0, 0)
}

// eachImage runs one Image_Activate / Image_Deactivate on target. One
// image answers the function's own codes with no output data, as a
// recorded z/VM reply to a single-image Image_Activate shows (output
// length 12). A name list answers the counts and the failing array,
// with rc 200 and partial (28 for activate, 32 for deactivate) when any
// image failed.
// guess: a list whose every image succeeded answers rc 0 with the counts.
func (s *Sim) eachImage(target string, partial int, one func(string) smapi.Response) smapi.Response {
	members, isList := s.lists[target]
	if !isList {
		return one(target)
	}
	var a smapi.Activation
	for _, m := range members {
		r := one(m)
		if r.RC == 0 {
			a.Done++
			continue
		}
		a.NotDone++
		a.Failing = append(a.Failing, smapi.Failure{Image: m, RC: r.RC, RS: r.RS})
	}
	resp := smapi.Response{Data: a.Encode()}
	if a.NotDone > 0 {
		resp.RC, resp.RS = 200, int32(partial)
	}
	return resp
}

// directoryCards returns e's directory as Image_Query_DM answers it under
// DirMaint: 80-byte card images, the statement blank-padded to column 72,
// a sequence number in columns 73-80, and DirMaint's *DVHOPT control
// record last.
// guess: sequence numbers count 00000001, 00000002, ...; the *DVHOPT
// options are those of the connector's own test data (LNK0 LOG1 RCM1 SMS0
// NPW1 LNGAMENG), its PWC date the simulator's start and its CRC two
// characters of a CRC-32 of the entry.
func (s *Sim) directoryCards(e *entry) []string {
	recs := e.directory()
	h := crc32.NewIEEE()
	for _, r := range recs {
		h.Write([]byte(r))
	}
	sum := h.Sum32()
	crc := string([]byte{'A' + byte(sum%26), 'A' + byte(sum/26%26)})
	recs = append(recs, fmt.Sprintf("*DVHOPT LNK0 LOG1 RCM1 SMS0 NPW1 LNGAMENG PWC%s CRC%s", s.ipl.Format("20060102"), crc))
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = fmt.Sprintf("%-72.72s%08d", r, i+1)
	}
	return out
}
