// Package niclist reads and writes the zguest NIC list: the versioned file
// in which the host tells the guest which qeth NICs it has. The format is
// specified in README.md beside this file, the one place that defines it;
// the host daemon writes it with Marshal, the agent reads it with Parse.
package niclist

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/zguest/zguest/agent/ccw"
	"github.com/zguest/zguest/agent/nic"
)

// Version is the format version this package reads and writes.
const Version = 1

// MaxSize is the largest NIC list accepted, in bytes.
const MaxSize = 1 << 20

// MaxNICs bounds the number of entries in one list.
const MaxNICs = 1024

// File is the document.
type File struct {
	Version int     `json:"version"`
	NICs    []Entry `json:"nics"`
}

// Entry is one NIC.
type Entry struct {
	Read   string `json:"read"`
	Write  string `json:"write,omitempty"`
	Data   string `json:"data,omitempty"`
	Port   *int   `json:"port,omitempty"`
	MAC    string `json:"mac,omitempty"`
	Layer2 *bool  `json:"layer2,omitempty"`
	IfName string `json:"ifname,omitempty"`
}

// ErrFormat is wrapped by errors about the file as a whole.
var ErrFormat = errors.New("invalid NIC list")

// Parse reads a NIC list. source names the file in problems and NIC
// sources. A malformed file as a whole (not JSON, unknown version, too
// large) is an error and yields no NICs; a malformed entry is a problem,
// is skipped, and the other entries still apply.
func Parse(data []byte, source string) ([]nic.NIC, []nic.Problem, error) {
	if len(data) > MaxSize {
		return nil, nil, fmt.Errorf("%w %s: %d bytes, more than the %d allowed", ErrFormat, source, len(data), MaxSize)
	}
	// Files from the z/VM reader arrive padded with NUL bytes.
	data = bytes.TrimRight(data, "\x00")
	var doc struct {
		Version *int              `json:"version"`
		NICs    []json.RawMessage `json:"nics"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, nil, fmt.Errorf("%w %s: %v", ErrFormat, source, err)
	}
	if dec.More() {
		return nil, nil, fmt.Errorf("%w %s: data after the JSON document", ErrFormat, source)
	}
	if doc.Version == nil {
		return nil, nil, fmt.Errorf("%w %s: no \"version\" field; this agent reads version %d", ErrFormat, source, Version)
	}
	if *doc.Version != Version {
		return nil, nil, fmt.Errorf("%w %s: version %d; this agent reads version %d (update zguest-agent in the image)", ErrFormat, source, *doc.Version, Version)
	}
	if len(doc.NICs) > MaxNICs {
		return nil, nil, fmt.Errorf("%w %s: %d NICs, more than the %d allowed", ErrFormat, source, len(doc.NICs), MaxNICs)
	}
	var out []nic.NIC
	var probs []nic.Problem
	used := map[ccw.BusID]string{}
	for i, raw := range doc.NICs {
		where := fmt.Sprintf("nics[%d]", i)
		var e Entry
		d := json.NewDecoder(bytes.NewReader(raw))
		d.DisallowUnknownFields()
		if err := d.Decode(&e); err != nil {
			probs = append(probs, nic.Problem{Source: source, Where: where, Text: clip(string(raw)), Reason: err.Error()})
			continue
		}
		n, field, err := e.toNIC(fmt.Sprintf("%s %s", source, where))
		if err != nil {
			probs = append(probs, nic.Problem{Source: source, Where: where + field, Reason: err.Error()})
			continue
		}
		clash := ""
		for _, sc := range n.Subchannels() {
			if prev, ok := used[sc]; ok {
				clash = fmt.Sprintf("subchannel %s is already used by %s", sc, prev)
				break
			}
		}
		if clash != "" {
			probs = append(probs, nic.Problem{Source: source, Where: where, Reason: clash + "; this entry is skipped"})
			continue
		}
		for _, sc := range n.Subchannels() {
			used[sc] = where
		}
		out = append(out, n)
	}
	return out, probs, nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

// toNIC validates an entry; field names the offending field.
func (e Entry) toNIC(source string) (nic.NIC, string, error) {
	if e.Read == "" {
		return nic.NIC{}, ".read", errors.New("missing: the read subchannel is required, e.g. \"0.0.f500\"")
	}
	r, err := ccw.Parse(e.Read)
	if err != nil {
		return nic.NIC{}, ".read", err
	}
	n, err := nic.New(r, source)
	if err != nil {
		return nic.NIC{}, ".read", err
	}
	switch {
	case e.Write == "" && e.Data == "":
	case e.Write == "" || e.Data == "":
		return nic.NIC{}, ".write", errors.New("give both write and data subchannels, or neither (then read+1 and read+2 are used)")
	default:
		if n.Write, err = ccw.Parse(e.Write); err != nil {
			return nic.NIC{}, ".write", err
		}
		if n.Data, err = ccw.Parse(e.Data); err != nil {
			return nic.NIC{}, ".data", err
		}
		if n.Write == r || n.Data == r || n.Write == n.Data {
			return nic.NIC{}, ".data", errors.New("read, write and data must be three different subchannels")
		}
		n.Explicit = true
	}
	if e.Port != nil {
		if *e.Port < 0 || *e.Port > 15 {
			return nic.NIC{}, ".port", fmt.Errorf("port %d: must be 0 to 15", *e.Port)
		}
		n.Port = *e.Port
	}
	if e.MAC != "" {
		m, err := net.ParseMAC(e.MAC)
		if err != nil || len(m) != 6 {
			return nic.NIC{}, ".mac", fmt.Errorf("MAC %q: want six colon-separated hex bytes, e.g. \"fa:16:3e:00:00:01\"", e.MAC)
		}
		if err := nic.CheckMAC(m); err != nil {
			return nic.NIC{}, ".mac", err
		}
		n.MAC = m
	}
	if e.Layer2 != nil {
		if *e.Layer2 {
			n.Layer2 = nic.Layer2
		} else {
			n.Layer2 = nic.Layer3
		}
	}
	if e.IfName != "" {
		if len(e.IfName) > 15 || strings.ContainsAny(e.IfName, "/: \t\n") || e.IfName == "." || e.IfName == ".." {
			return nic.NIC{}, ".ifname", fmt.Errorf("interface name %q is not valid (1-15 characters, no '/', ':' or white space)", e.IfName)
		}
		n.IfName = e.IfName
	}
	return n, "", nil
}

// Marshal writes a NIC list in the canonical form (what the host daemon
// punches or puts on the config drive).
func Marshal(nics []nic.NIC) ([]byte, error) {
	f := File{Version: Version, NICs: []Entry{}}
	for _, n := range nics {
		e := Entry{Read: n.Read.String()}
		if n.Explicit {
			e.Write, e.Data = n.Write.String(), n.Data.String()
		}
		if n.Port >= 0 {
			p := n.Port
			e.Port = &p
		}
		if n.MAC != nil {
			if err := nic.CheckMAC(n.MAC); err != nil {
				return nil, fmt.Errorf("NIC %s: %w", n.Read, err)
			}
			e.MAC = n.MAC.String()
		}
		if n.Layer2 != nic.LayerDefault {
			l := n.Layer2 == nic.Layer2
			e.Layer2 = &l
		}
		e.IfName = n.IfName
		f.NICs = append(f.NICs, e)
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
