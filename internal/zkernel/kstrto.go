package zkernel

import (
	"math"
	"syscall"
)

// cString returns data up to its first NUL byte, as a kernel store routine
// that treats its buffer as a C string sees it.
func cString(data []byte) string {
	for i, b := range data {
		if b == 0 {
			return string(data[:i])
		}
	}
	return string(data)
}

// kIsSpace is the kernel's isspace(): the ASCII white space characters and
// 0xa0, which lib/ctype.c classifies as space too.
func kIsSpace(c byte) bool {
	return c == ' ' || (c >= '\t' && c <= '\r') || c == 0xa0
}

func isXDigit(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// fixupRadix mirrors lib/kstrtox.c _parse_integer_fixup_radix: base 0
// becomes 16 ("0x" followed by a hex digit), 8 (leading "0") or 10; with
// base 16 a "0x" prefix is skipped.
func fixupRadix(s string, base int) (string, int) {
	if base == 0 {
		switch {
		case len(s) > 0 && s[0] == '0' && len(s) > 2 && lower(s[1]) == 'x' && isXDigit(s[2]):
			base = 16
		case len(s) > 0 && s[0] == '0':
			base = 8
		default:
			base = 10
		}
	}
	if base == 16 && len(s) >= 2 && s[0] == '0' && lower(s[1]) == 'x' {
		s = s[2:]
	}
	return s, base
}

// parseInteger mirrors _parse_integer_limit: it consumes at most max digits
// valid in base and reports how many it consumed and whether the value
// overflowed 64 bits (the value wraps like the C code).
func parseInteger(s string, base, max int) (val uint64, n int, overflow bool) {
	for n < len(s) && n < max {
		d := hexVal(s[n])
		if d < 0 || d >= base {
			break
		}
		if val>>60 != 0 && val > (math.MaxUint64-uint64(d))/uint64(base) {
			overflow = true
		}
		val = val*uint64(base) + uint64(d)
		n++
	}
	return val, n, overflow
}

// kstrtoull mirrors the kernel's kstrtoull: an optional '+', the radix
// prefix, at least one digit, then at most one '\n'. Anything else is
// EINVAL; overflow is ERANGE. s is taken as a C string.
func kstrtoull(s string, base int) (uint64, syscall.Errno) {
	if len(s) > 0 && s[0] == '+' {
		s = s[1:]
	}
	s, base = fixupRadix(s, base)
	v, n, of := parseInteger(s, base, math.MaxInt)
	if of {
		return 0, syscall.ERANGE
	}
	if n == 0 {
		return 0, syscall.EINVAL
	}
	s = s[n:]
	if len(s) > 0 && s[0] == '\n' {
		s = s[1:]
	}
	if len(s) > 0 {
		return 0, syscall.EINVAL
	}
	return v, 0
}

// kstrtouint is kstrtoull limited to 32 bits (ERANGE above).
func kstrtouint(s string, base int) (uint32, syscall.Errno) {
	v, e := kstrtoull(s, base)
	if e != 0 {
		return 0, e
	}
	if v > math.MaxUint32 {
		return 0, syscall.ERANGE
	}
	return uint32(v), 0
}

// simpleStrtoull mirrors simple_strntoull with an unlimited width: radix
// fixup, then as many digits as are valid; the value wraps on overflow. It
// returns the rest of the string after the digits (the prefix is consumed
// even when no digit follows, as in the kernel).
func simpleStrtoull(s string, base int) (uint64, string) {
	s, base = fixupRadix(s, base)
	v, n, _ := parseInteger(s, base, math.MaxInt)
	return v, s[n:]
}
