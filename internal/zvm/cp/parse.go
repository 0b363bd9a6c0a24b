package cp

import (
	"strconv"
	"strings"

	"github.com/zguest/zguest/internal/zvm/spool"
)

// fields splits a command line at blanks; CP delimits operands by blanks
// only.
func fields(s string) []string {
	var out []string
	for _, f := range strings.Split(s, " ") {
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}

// kw reports whether tok abbreviates keyword full to at least min letters.
func kw(tok, full string, min int) bool {
	return len(tok) >= min && len(tok) <= len(full) && strings.EqualFold(tok, full[:len(tok)])
}

// Virtual device numbers of the emulated unit record devices.
const (
	vdevReader = 0x000C
	vdevPunch  = 0x000D
)

// parseVdev accepts a hex device number (1-4 digits) or a device-type
// keyword; ok is false when tok is neither.
func parseVdev(tok string) (int, bool) {
	switch {
	case kw(tok, "READER", 3), strings.EqualFold(tok, "RDR"):
		return vdevReader, true
	case kw(tok, "PUNCH", 3):
		return vdevPunch, true
	}
	if len(tok) == 0 || len(tok) > 4 {
		return 0, false
	}
	v, err := strconv.ParseUint(tok, 16, 16)
	if err != nil {
		return 0, false
	}
	return int(v), true
}

// parseQueue accepts RDR/READER, PUN/PUNCH, PRT/PRINTER.
func parseQueue(tok string) (spool.Queue, bool) {
	switch {
	case strings.EqualFold(tok, "RDR"), kw(tok, "READER", 3):
		return spool.QueueRDR, true
	case kw(tok, "PUNCH", 3):
		return spool.QueuePUN, true
	case strings.EqualFold(tok, "PRT"), kw(tok, "PRINTER", 5):
		return spool.QueuePRT, true
	}
	return 0, false
}

// parseSpoolID accepts a decimal spool id of 1 to 4 digits.
func parseSpoolID(tok string) (int, bool) {
	if len(tok) == 0 || len(tok) > 4 {
		return 0, false
	}
	for i := 0; i < len(tok); i++ {
		if tok[i] < '0' || tok[i] > '9' {
			return 0, false
		}
	}
	n, _ := strconv.Atoi(tok)
	return n, n >= 1 && n <= spool.MaxSpoolID
}

// parseClass accepts one class character; star allows '*'.
func parseClass(tok string, star bool) (byte, bool) {
	if len(tok) != 1 {
		return 0, false
	}
	c := strings.ToUpper(tok)[0]
	if c == '*' && star {
		return c, true
	}
	return c, spool.ValidClass(c)
}

// args is a cursor over command operands.
type args struct {
	toks []string
	i    int
}

func (a *args) more() bool   { return a.i < len(a.toks) }
func (a *args) peek() string { return a.toks[a.i] }
func (a *args) next() (string, bool) {
	if !a.more() {
		return "", false
	}
	a.i++
	return a.toks[a.i-1], true
}
