// Package reader receives files from the z/VM virtual reader natively,
// the way `vmur list` and `vmur receive` (binary mode) do, with no
// s390-tools: it lists the reader with CP QUERY RDR read by fixed
// columns, moves the wanted file to the top and out of hold with CP
// commands through vmcp, reads the spool pages from the reader device
// and decodes them with its own decoder written from the page format in
// docs/facts/zvm-reader.md §2, and brings the reader device
// online first.
package reader

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Entry is one file of a QUERY RDR * ALL SHORTDATE listing.
type Entry struct {
	Origin  string // originating userid
	ID      int    // spool id, 0-9999
	Class   byte
	DevType string // PUN, PRT, CON, ...
	Records int
	Hold    string // NONE, USER, SYS, USYS
	Name    string // may be empty
	Type    string // may be empty
	Dist    string
}

// FileName is "name.type", or "name" when the type is blank, as vmur
// names a received file ("/" becomes "_").
func (e Entry) FileName() string {
	n := strings.ReplaceAll(e.Name, "/", "_")
	if e.Type == "" {
		return n
	}
	return n + "." + strings.ReplaceAll(e.Type, "/", "_")
}

// Header starts the listing.
const Header = "ORIGINID FILE CLASS RECORDS  CPY HOLD DATE  TIME     NAME      TYPE     DIST"

// NoFiles is CP's answer for an empty reader (rc 0).
const NoFiles = "NO RDR FILES"

// ErrListing is wrapped by errors about a listing as a whole.
var ErrListing = errors.New("unexpected QUERY RDR response")

// column returns line[from:to] with trailing blanks removed; missing
// columns are blank.
func column(line string, from, to int) string {
	if from >= len(line) {
		return ""
	}
	return strings.TrimRight(line[from:min(to, len(line))], " ")
}

// ParseQuery reads the response of QUERY RDR * ALL SHORTDATE by the fixed
// 80-column layout (never by splitting on blanks: unnamed files have
// blank NAME and TYPE columns). Lines it cannot read are returned as
// problems; the other files are still listed.
func ParseQuery(text string) ([]Entry, []error, error) {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if len(lines) == 0 || strings.TrimSpace(lines[0]) == "" {
		return nil, nil, fmt.Errorf("%w: empty response", ErrListing)
	}
	first := strings.TrimRight(lines[0], " ")
	if first == NoFiles {
		return nil, nil, nil
	}
	if !strings.HasPrefix(first, "ORIGINID FILE CLASS") {
		return nil, nil, fmt.Errorf("%w: first line %q is neither %q nor the header", ErrListing, first, NoFiles)
	}
	var out []Entry
	var probs []error
	for i, line := range lines[1:] {
		if strings.TrimSpace(line) == "" {
			continue
		}
		e, err := parseLine(line)
		if err != nil {
			probs = append(probs, fmt.Errorf("QUERY RDR line %d %q: %w", i+2, line, err))
			continue
		}
		out = append(out, e)
	}
	return out, probs, nil
}

func parseLine(line string) (Entry, error) {
	var e Entry
	e.Origin = column(line, 0, 8)
	id := column(line, 9, 13)
	if len(id) != 4 {
		return e, fmt.Errorf("spool id column %q is not 4 digits", id)
	}
	n, err := strconv.Atoi(id)
	if err != nil || n < 0 {
		return e, fmt.Errorf("spool id column %q is not a number", id)
	}
	e.ID = n
	if len(line) <= 14 || line[14] == ' ' {
		return e, errors.New("no class in column 15")
	}
	e.Class = line[14]
	e.DevType = column(line, 16, 19)
	if r := strings.TrimSpace(column(line, 20, 28)); r != "" {
		// Large counts may be abbreviated; the count is informative only.
		if v, err := strconv.Atoi(r); err == nil {
			e.Records = v
		}
	}
	e.Hold = column(line, 33, 37)
	e.Name = strings.TrimSpace(column(line, 53, 61))
	e.Type = strings.TrimSpace(column(line, 63, 71))
	e.Dist = strings.TrimSpace(column(line, 72, 80))
	if e.Origin == "" {
		return e, errors.New("blank origin column")
	}
	return e, nil
}

// VirtualClass reads the class of QUERY VIRTUAL C's first line
// ("RDR  000C CL * ..."), column 14.
func VirtualClass(text string) (byte, error) {
	line, _, _ := strings.Cut(text, "\n")
	if len(line) < 14 || !strings.HasPrefix(line, "RDR") {
		return 0, fmt.Errorf("QUERY VIRTUAL C: unexpected response %q", line)
	}
	return line[13], nil
}
