package zkernel

import (
	"fmt"
	"strings"
	"syscall"
)

// blacklist is the cio_ignore bit set, one bit per (ssid, devno)
// (drivers/s390/cio/blacklist.c bl_dev).
type blacklist struct {
	bits [maxSSID + 1][(maxDevno + 1) / 64]uint64
}

func (b *blacklist) has(id busID) bool {
	return b.bits[id.ssid][id.devno/64]&(1<<(id.devno%64)) != 0
}

func (b *blacklist) set(id busID, on bool) {
	if on {
		b.bits[id.ssid][id.devno/64] |= 1 << (id.devno % 64)
	} else {
		b.bits[id.ssid][id.devno/64] &^= 1 << (id.devno % 64)
	}
}

// setRange mirrors blacklist_range: an inverted range is rejected (false),
// otherwise every id from..to (crossing ssids) is set or cleared.
func (b *blacklist) setRange(from, to busID, on bool) bool {
	if to.less(from) {
		return false
	}
	ssid, devno := int(from.ssid), int(from.devno)
	for ssid < int(to.ssid) || (ssid == int(to.ssid) && devno <= int(to.devno)) {
		b.set(busID{ssid: uint8(ssid), devno: uint16(devno)}, on)
		devno++
		if devno > maxDevno {
			ssid++
			devno = 0
		}
	}
	return true
}

// String renders /proc/cio_ignore: one line per ignored id or per run of
// contiguous ids "0.x.yyyy-0.x.zzzz", runs split per ssid, ascending.
func (b *blacklist) String() string {
	var sb strings.Builder
	for ssid := 0; ssid <= maxSSID; ssid++ {
		start := -1
		flush := func(end int) {
			first := busID{uint8(ssid), uint16(start)}
			if start == end {
				fmt.Fprintf(&sb, "%s\n", first)
			} else {
				fmt.Fprintf(&sb, "%s-%s\n", first, busID{uint8(ssid), uint16(end)})
			}
			start = -1
		}
		for devno := 0; devno <= maxDevno; {
			w := b.bits[ssid][devno/64]
			// Skip whole words that do not change the current run.
			if devno%64 == 0 && ((start < 0 && w == 0) || (start >= 0 && w == ^uint64(0))) {
				devno += 64
				continue
			}
			on := w&(1<<(devno%64)) != 0
			switch {
			case on && start < 0:
				start = devno
			case !on && start >= 0:
				flush(devno - 1)
			}
			devno++
		}
		if start >= 0 {
			flush(maxDevno)
		}
	}
	return sb.String()
}

// pureHex mirrors blacklist.c pure_hex: it reads up to maxDigit+1 hex
// digits and fails if it read fewer than minDigit, more than maxDigit, or
// the value exceeds maxVal.
func pureHex(s string, minDigit, maxDigit, maxVal int) (val int, rest string, ok bool) {
	n := 0
	for n <= maxDigit && n < len(s) {
		d := hexVal(s[n])
		if d < 0 {
			break
		}
		val = val*16 + d
		n++
	}
	return val, s[n:], n >= minDigit && n <= maxDigit && val <= maxVal
}

// parseBlacklistBusID mirrors blacklist.c parse_busid: either an old-style
// hex devno (simple_strtoul base 16, whole string consumed, "0x" allowed)
// or 0.<ssid>.<devno> with a 1-2 digit cssid, 1 digit ssid, 4 digit devno.
func parseBlacklistBusID(s string) (busID, bool) {
	if s == "" {
		return busID{}, false
	}
	if v, rest := simpleStrtoull(s, 16); rest == "" {
		// The kernel stores the unsigned long in an int; a value that is
		// negative after truncation would corrupt memory there, we reject it.
		iv := int32(uint32(v))
		if iv < 0 || iv > maxDevno {
			return busID{}, false
		}
		return busID{devno: uint16(iv)}, true
	}
	_, rest, ok := pureHex(s, 1, 2, maxCSSID)
	if !ok || rest == "" || rest[0] != '.' {
		return busID{}, false
	}
	ssid, rest, ok := pureHex(rest[1:], 1, 1, maxSSID)
	if !ok || rest == "" || rest[0] != '.' {
		return busID{}, false
	}
	devno, rest, ok := pureHex(rest[1:], 4, 4, maxDevno)
	if !ok || rest != "" {
		return busID{}, false
	}
	return busID{ssid: uint8(ssid), devno: uint16(devno)}, true
}

// applyList mirrors blacklist_parse_parameters: a comma list of elements
// ("all", "ipldev", "condev", an id or a range "a-b", each optionally
// prefixed by '!' which inverts the action). Valid elements are applied
// even when others fail; the result is EINVAL if any element failed.
// ipldev and condev resolve to nothing. // guess: the model has no IPL or
// console device (console_devno == -1 and a non-CCW IPL in the kernel).
func (b *blacklist) applyList(list string, add bool) syscall.Errno {
	var total syscall.Errno
	for _, parm := range strings.Split(list, ",") {
		on := add
		if strings.HasPrefix(parm, "!") {
			on = !on
			parm = parm[1:]
		}
		var from, to busID
		switch parm {
		case "all":
			from, to = busID{0, 0}, busID{maxSSID, maxDevno}
		case "ipldev", "condev":
			continue
		default:
			first, second, isRange := strings.Cut(parm, "-")
			var ok bool
			if from, ok = parseBlacklistBusID(first); !ok {
				total = syscall.EINVAL
				continue
			}
			to = from
			if isRange {
				if to, ok = parseBlacklistBusID(second); !ok {
					total = syscall.EINVAL
					continue
				}
			}
		}
		if !b.setRange(from, to, on) {
			total = syscall.EINVAL
		}
	}
	return total
}

// cioIgnoreCommand is a parsed /proc/cio_ignore write.
type cioIgnoreCommand struct {
	verb string // "free", "add" or "purge"
	list string // the element list, "" when absent
	has  bool   // whether a list followed the verb
}

// parseCIOIgnoreWrite mirrors cio_ignore_write and
// blacklist_parse_proc_parameters up to the verb: the buffer is cut at the
// first NUL, truncated to 64 KiB, trailing white space and NULs are
// stripped, and the first space-separated word is the verb. Unknown verbs
// are EINVAL.
func parseCIOIgnoreWrite(data []byte) (cioIgnoreCommand, syscall.Errno) {
	if len(data) > 65536 {
		data = data[:65536]
	}
	s := cString(data)
	i := len(s)
	for i > 0 && kIsSpace(s[i-1]) {
		i--
	}
	s = s[:i]
	verb, list, has := strings.Cut(s, " ")
	switch verb {
	case "free", "add", "purge":
		return cioIgnoreCommand{verb: verb, list: list, has: has}, 0
	}
	return cioIgnoreCommand{}, syscall.EINVAL
}

// parseCmdlineCIOIgnore applies every cio_ignore= parameter of a kernel
// command line (each one as an "add" list, like the boot parameter).
func (b *blacklist) applyCmdline(cmdline string) {
	for _, w := range strings.Fields(cmdline) {
		if v, ok := strings.CutPrefix(w, "cio_ignore="); ok {
			b.applyList(v, true)
		}
	}
}
