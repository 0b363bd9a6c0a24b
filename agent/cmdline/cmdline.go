// Package cmdline reads the NICs a guest should have from its kernel
// command line: the DPM tokens nova-dpm and zguest-hostd write
// ("<devno>,<port>[,<mac>];", space separated or back to back), dracut's
// rd.znet=qeth,... parameters and rd.znet_ifname=<name>:<ids>.
//
// Tokens are anchored: only a whole command-line word made of tokens is
// read as a NIC list, so hex digits inside UUIDs, root= or any other
// key=value parameter are never taken for devices. A malformed token is
// reported with its byte offset and text and skipped; the others still
// apply.
package cmdline

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/zguest/zguest/agent/ccw"
	"github.com/zguest/zguest/agent/nic"
)

// Word is one kernel parameter with its byte offset in the command line.
type Word struct {
	Text   string
	Offset int
}

// Split breaks a command line into parameters as the kernel does: on
// white space, with double quotes protecting spaces (the quotes are
// removed).
func Split(s string) []Word {
	var words []Word
	i := 0
	for i < len(s) {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i >= len(s) {
			break
		}
		start := i
		var b strings.Builder
		quoted := false
		for i < len(s) && (quoted || !isSpace(s[i])) {
			if s[i] == '"' {
				quoted = !quoted
			} else {
				b.WriteByte(s[i])
			}
			i++
		}
		words = append(words, Word{Text: b.String(), Offset: start})
	}
	return words
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0 }

// Result is what Parse found.
type Result struct {
	DPM      []nic.NIC // from DPM tokens, in command-line order
	ZNet     []nic.NIC // from rd.znet, in command-line order
	Problems []nic.Problem
}

// Source names the command line in problems and NIC sources.
const Source = "/proc/cmdline"

// Parse reads every NIC source on the command line.
func Parse(line string) Result {
	var r Result
	seen := map[ccw.BusID]int{} // DPM devno -> index in r.DPM
	type ifn struct {
		name string
		ids  []ccw.BusID
		w    Word
	}
	var ifnames []ifn
	for _, w := range Split(line) {
		key, val, hasEq := strings.Cut(w.Text, "=")
		switch {
		case !hasEq && looksLikeTokens(w.Text):
			r.parseTokens(w, seen)
		case hasEq && (key == "rd.znet" || key == "rd_ZNET"):
			if n, p, ok := parseZNet(val, w); ok {
				r.ZNet = append(r.ZNet, n)
			} else if p != nil {
				r.Problems = append(r.Problems, *p)
			}
		case hasEq && key == "rd.znet_ifname":
			name, ids, err := parseIfname(val)
			if err != nil {
				r.Problems = append(r.Problems, prob(w, w.Text, err.Error()))
				continue
			}
			ifnames = append(ifnames, ifn{name, ids, w})
		}
	}
	for _, f := range ifnames {
		if !applyIfname(r.ZNet, f.name, f.ids) && !applyIfname(r.DPM, f.name, f.ids) {
			p := prob(f.w, f.w.Text, "no NIC on the command line has these subchannels; the name is not used")
			p.Warning = true
			r.Problems = append(r.Problems, p)
		}
	}
	return r
}

func prob(w Word, text, reason string) nic.Problem {
	return nic.Problem{Source: Source, Where: fmt.Sprintf("offset %d", w.Offset), Text: text, Reason: reason}
}

// looksLikeTokens says whether a word without '=' is meant as a DPM NIC
// list: it starts with hex digits followed by a comma.
func looksLikeTokens(s string) bool {
	i := 0
	for i < len(s) && isHexDigit(s[i]) {
		i++
	}
	return i > 0 && i < len(s) && s[i] == ','
}

func isHexDigit(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func (r *Result) parseTokens(w Word, seen map[ccw.BusID]int) {
	rest := w.Text
	off := w.Offset
	for rest != "" {
		tok, after, found := strings.Cut(rest, ";")
		if !found {
			r.Problems = append(r.Problems, prob(Word{Offset: off}, tok, "NIC token must end with ';' (format <devno>,<port>[,<mac>];)"))
			return
		}
		full := tok + ";"
		here := Word{Offset: off}
		rest, off = after, off+len(full)
		if tok == "" {
			continue // ";;" is harmless
		}
		n, err := parseToken(tok)
		if err != nil {
			r.Problems = append(r.Problems, prob(here, full, err.Error()))
			continue
		}
		n.Sources = []string{fmt.Sprintf("%s token %q at offset %d", Source, full, here.Offset)}
		if i, dup := seen[n.Read]; dup {
			prev := r.DPM[i]
			if prev.Port == n.Port && prev.MAC.String() == n.MAC.String() {
				continue // the same NIC listed twice
			}
			r.Problems = append(r.Problems, prob(here, full,
				fmt.Sprintf("device %s is already listed (%s) with port %d MAC %s; this entry is skipped", n.Read, prev.Sources[0], prev.Port, macString(prev.MAC))))
			continue
		}
		seen[n.Read] = len(r.DPM)
		r.DPM = append(r.DPM, n)
	}
}

func macString(m net.HardwareAddr) string {
	if m == nil {
		return "(none)"
	}
	return m.String()
}

// parseToken parses "<devno>,<port>[,<mac>]" (without the ';').
func parseToken(tok string) (nic.NIC, error) {
	f := strings.Split(tok, ",")
	if len(f) < 2 || len(f) > 3 {
		return nic.NIC{}, fmt.Errorf("want <devno>,<port>[,<mac>]; got %d fields", len(f))
	}
	if len(f[0]) != 4 {
		return nic.NIC{}, fmt.Errorf("device number %q must be exactly 4 hex digits", f[0])
	}
	id, err := ccw.Parse(f[0])
	if err != nil {
		return nic.NIC{}, fmt.Errorf("device number %q is not 4 hex digits", f[0])
	}
	n, err := nic.New(id, "")
	if err != nil {
		return nic.NIC{}, err
	}
	switch f[1] {
	case "0", "1":
		n.Port = int(f[1][0] - '0')
	default:
		return nic.NIC{}, fmt.Errorf("port %q must be 0 or 1", f[1])
	}
	if len(f) == 3 {
		m, err := parseBareMAC(f[2])
		if err != nil {
			return nic.NIC{}, err
		}
		n.MAC = m
	}
	n.Layer2 = nic.Layer2
	return n, nil
}

// parseBareMAC takes 12 hex digits without separators, as nova-dpm writes.
func parseBareMAC(s string) (net.HardwareAddr, error) {
	if len(s) != 12 {
		return nil, fmt.Errorf("MAC %q must be 12 hex digits without separators", s)
	}
	m := make(net.HardwareAddr, 6)
	for i := 0; i < 6; i++ {
		v, err := strconv.ParseUint(s[2*i:2*i+2], 16, 8)
		if err != nil {
			return nil, fmt.Errorf("MAC %q must be 12 hex digits without separators", s)
		}
		m[i] = byte(v)
	}
	if err := nic.CheckMAC(m); err != nil {
		return nil, err
	}
	return m, nil
}

// parseZNet parses the value of rd.znet. ok is false for a parameter that
// is not for qeth (reported as a warning) or is malformed (an error).
func parseZNet(val string, w Word) (nic.NIC, *nic.Problem, bool) {
	f := strings.Split(val, ",")
	if f[0] != "qeth" {
		p := prob(w, w.Text, fmt.Sprintf("network type %q is not handled by zguest-agent (only qeth); ignored", f[0]))
		p.Warning = true
		return nic.NIC{}, &p, false
	}
	var ids []ccw.BusID
	i := 1
	for ; i < len(f) && !strings.Contains(f[i], "="); i++ {
		id, err := ccw.Parse(f[i])
		if err != nil {
			p := prob(w, w.Text, err.Error())
			return nic.NIC{}, &p, false
		}
		ids = append(ids, id)
	}
	if len(ids) != 3 {
		p := prob(w, w.Text, fmt.Sprintf("qeth needs three subchannels (read,write,data), got %d", len(ids)))
		return nic.NIC{}, &p, false
	}
	n := nic.NIC{Read: ids[0], Write: ids[1], Data: ids[2], Explicit: true, Port: -1, Layer2: nic.LayerDefault,
		Sources: []string{fmt.Sprintf("%s rd.znet at offset %d", Source, w.Offset)}}
	for ; i < len(f); i++ {
		k, v, ok := strings.Cut(f[i], "=")
		if !ok || k == "" || !validAttr(k) || v == "" {
			p := prob(w, w.Text, fmt.Sprintf("option %q must be <attribute>=<value>", f[i]))
			return nic.NIC{}, &p, false
		}
		switch k {
		case "layer2":
			if v != "0" && v != "1" {
				p := prob(w, w.Text, fmt.Sprintf("layer2=%s: must be 0 or 1", v))
				return nic.NIC{}, &p, false
			}
			n.Layer2 = int(v[0] - '0')
		case "portno":
			pn, err := strconv.Atoi(v)
			if err != nil || pn < 0 || pn > 15 {
				p := prob(w, w.Text, fmt.Sprintf("portno=%s: must be 0 to 15", v))
				return nic.NIC{}, &p, false
			}
			n.Port = pn
		case "online":
			// The agent always brings the group online last.
		default:
			n.Attrs = append(n.Attrs, nic.Attr{Name: k, Value: v})
		}
	}
	return n, nil, true
}

func validAttr(k string) bool {
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// parseIfname parses "<ifname>:<id>[,<id>...]".
func parseIfname(val string) (string, []ccw.BusID, error) {
	name, list, ok := strings.Cut(val, ":")
	if !ok || name == "" || list == "" {
		return "", nil, fmt.Errorf("want rd.znet_ifname=<name>:<read>,<write>,<data>")
	}
	if len(name) > 15 || strings.ContainsAny(name, "/: \t") {
		return "", nil, fmt.Errorf("interface name %q is not valid (at most 15 characters, no '/', ':' or spaces)", name)
	}
	var ids []ccw.BusID
	for _, s := range strings.Split(list, ",") {
		id, err := ccw.Parse(s)
		if err != nil {
			return "", nil, err
		}
		ids = append(ids, id)
	}
	return name, ids, nil
}

func applyIfname(list []nic.NIC, name string, ids []ccw.BusID) bool {
	for i := range list {
		for _, id := range ids {
			for _, sc := range list[i].Subchannels() {
				if sc == id {
					list[i].IfName = name
					return true
				}
			}
		}
	}
	return false
}
