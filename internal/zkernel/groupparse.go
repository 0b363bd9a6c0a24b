package zkernel

import "strings"

// ccwBusIDSize is CCW_BUS_ID_SIZE: a group token may have at most 9 bytes.
const ccwBusIDSize = 10

func skipSpaces(s string) string {
	for len(s) > 0 && kIsSpace(s[0]) {
		s = s[1:]
	}
	return s
}

// scanHex is one "%<width>x" conversion of the kernel's vsscanf: skip
// white space, require a hex digit, then simple_strntoull with the field
// width (a "0x" prefix counts against the width).
func scanHex(s string, width int) (uint64, string, bool) {
	if s == "" {
		return 0, s, false
	}
	s = skipSpaces(s)
	if s == "" || !isXDigit(s[0]) {
		return 0, s, false
	}
	p, _ := fixupRadix(s, 16)
	prefix := len(s) - len(p)
	if prefix >= width {
		return 0, s[width:], true
	}
	v, n, _ := parseInteger(p, 16, width-prefix)
	return v, p[n:], true
}

// scanGroupToken mirrors sscanf(token, "%2x.%1x.%04x", &cssid, &ssid,
// &devno) == 3. The cssid is parsed and ignored, ssid is not range-checked
// here (an ssid without devices simply finds no device) and anything after
// the devno is ignored, all as in the kernel.
func scanGroupToken(tok string) (ssid uint64, devno uint64, ok bool) {
	_, rest, ok := scanHex(tok, 2)
	if !ok || rest == "" || rest[0] != '.' {
		return 0, 0, false
	}
	ssid, rest, ok = scanHex(rest[1:], 1)
	if !ok || rest == "" || rest[0] != '.' {
		return 0, 0, false
	}
	devno, _, ok = scanHex(rest[1:], 4)
	return ssid, devno, ok
}

// groupIDs is the result of parsing a write to drivers/qeth/group: the
// ssid/devno pairs as the kernel scanned them (ssid may be out of range).
type groupIDs [3]struct{ ssid, devno uint64 }

// parseGroupWrite mirrors ccwgroup_create_dev's token loop and
// __get_next_id for three devices: comma-separated tokens, the last one
// cut at its first '\n', each at most 9 bytes; fewer than three ids or a
// non-empty remainder after the third comma fail. The kernel reports
// every failure as EINVAL. s is taken as a C string.
func parseGroupWrite(s string) (groupIDs, bool) {
	var ids groupIDs
	cur, curValid := s, true
	i := 0
	for ; i < len(ids) && curValid; i++ {
		var tok string
		if j := strings.IndexByte(cur, ','); j >= 0 {
			tok, cur = cur[:j], cur[j+1:]
		} else if j := strings.IndexByte(cur, '\n'); j >= 0 {
			tok, cur = cur[:j], ""
		} else {
			tok, curValid = cur, false
		}
		if len(tok)+1 > ccwBusIDSize {
			return ids, false
		}
		ssid, devno, ok := scanGroupToken(tok)
		if !ok {
			return ids, false
		}
		ids[i].ssid, ids[i].devno = ssid, devno
	}
	if i < len(ids) {
		return ids, false
	}
	if curValid && cur != "" {
		return ids, false
	}
	return ids, true
}
