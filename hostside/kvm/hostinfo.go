package kvm

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// bootTime reads the host's boot time from /proc/stat's btime line.
func bootTime(stat []byte) (time.Time, error) {
	sc := bufio.NewScanner(bytes.NewReader(stat))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), "btime ")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n <= 0 {
			return time.Time{}, fmt.Errorf("/proc/stat btime %q is not a Unix time", v)
		}
		return time.Unix(n, 0), nil
	}
	return time.Time{}, fmt.Errorf("/proc/stat has no btime line")
}

// iplTime is GET /host's ipl_time for a KVM host: its boot, in the form
// the z/VM connector gives ("IPL at 06/02/17 11:07:10 EDT") and nova's
// get_host_uptime passes on. "" if /proc/stat cannot be read.
func iplTime(loc *time.Location) string {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return ""
	}
	t, err := bootTime(b)
	if err != nil {
		return ""
	}
	return t.In(loc).Format("IPL at 01/02/06 15:04:05 MST")
}
