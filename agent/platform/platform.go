// Package platform tells which IBM Z platform the agent runs on, from the
// trusted local signal /proc/sysinfo (read below a root): a z/VM guest, a
// KVM guest, or an LPAR (DPM or classic). Under a hypervisor, stsi 3.2.2
// adds "VMnn" lines; VM00 describes the hypervisor the guest runs under.
package platform

import (
	"bufio"
	"errors"
	"fmt"
	"strings"

	"github.com/zguest/zguest/agent/sysfs"
)

// Platform names one platform.
type Platform string

// The platforms.
const (
	ZVM Platform = "zvm"
	DPM Platform = "dpm" // an LPAR: DPM or classic mode look alike from inside
	KVM Platform = "kvm"
)

// Parse reads a --platform value; "auto" and "" give "".
func Parse(s string) (Platform, error) {
	switch Platform(strings.ToLower(s)) {
	case ZVM, DPM, KVM:
		return Platform(strings.ToLower(s)), nil
	case "auto", "":
		return "", nil
	}
	return "", fmt.Errorf("platform %q: want zvm, dpm, kvm or auto", s)
}

// Info is what /proc/sysinfo says.
type Info struct {
	Platform Platform
	// Hypervisor is the VM00 control program ("z/VM    7.3.0"), "" in an
	// LPAR.
	Hypervisor string
	// GuestName is VM00's name (the z/VM userid), "" in an LPAR.
	GuestName string
}

// ErrUnknown is returned for a hypervisor the agent does not know.
var ErrUnknown = errors.New("unknown hypervisor")

// ParseSysinfo reads /proc/sysinfo's text.
func ParseSysinfo(text string) (Info, error) {
	var info Info
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "VM00 Control Program":
			info.Hypervisor = strings.TrimSpace(v)
		case "VM00 Name":
			info.GuestName = strings.TrimSpace(v)
		}
	}
	if err := sc.Err(); err != nil {
		return info, fmt.Errorf("read /proc/sysinfo: %w", err)
	}
	switch {
	case info.Hypervisor == "":
		info.Platform = DPM
	case strings.HasPrefix(info.Hypervisor, "z/VM"):
		info.Platform = ZVM
	case strings.Contains(strings.ToUpper(info.Hypervisor), "KVM"):
		info.Platform = KVM
	default:
		return info, fmt.Errorf("/proc/sysinfo: VM00 Control Program %q: %w; pass --platform", info.Hypervisor, ErrUnknown)
	}
	return info, nil
}

// Detect reads proc/sysinfo below f. Without /proc/sysinfo (not s390x)
// it is an error: pass --platform.
func Detect(f sysfs.FS) (Info, error) {
	b, err := f.ReadFile("proc/sysinfo")
	if err != nil {
		return Info{}, fmt.Errorf("detect the platform: %w; pass --platform zvm|dpm|kvm", err)
	}
	return ParseSysinfo(string(b))
}
