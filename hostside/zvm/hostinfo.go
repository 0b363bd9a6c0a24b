package zvm

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/smapi"
)

// HostInfo implements api.Backend as the original connector does
// (smtLayer getHost.py GENERAL and DISKPOOLSPACE, zvmsdk hostops.py):
//
//   - CP QUERY USERID: the connector's own userid and the z/VM host name;
//   - the connector guest's /proc/sysinfo (under Config.Root): the CEC
//     type, the LPAR's CPUs and the z/VM level of "VM00 Control Program";
//   - SMAPI System_Processor_Query: the LPAR's CP and IFL processors
//     (vcpus) and those online (vcpus_used), overriding /proc/sysinfo;
//   - System_Information_Query: the LPAR's storage and the IPL time;
//   - System_Performance_Information_Query: the storage in use;
//   - Image_Volume_Space_Query_DM of the disk pool: free and used extents.
//
// Config.HostName, if set, replaces hypervisor_hostname (and nothing else).
func (b *Backend) HostInfo(ctx context.Context) (api.HostInfo, error) {
	h := api.HostInfo{HypervisorType: "zvm", CPUInfo: api.CPUInfo{Architecture: "s390x"}}
	r, err := b.c.CP.Exec(ctx, "QUERY USERID")
	if err != nil {
		return api.HostInfo{}, hostErr("CP QUERY USERID", err)
	}
	f := strings.Fields(r.Text)
	if r.RC != 0 || len(f) < 3 || !strings.EqualFold(f[1], "AT") {
		return api.HostInfo{}, hostErr("CP QUERY USERID", fmt.Errorf("rc %d, answer %q: want \"<userid> AT <system>\"", r.RC, strings.TrimSpace(r.Text)))
	}
	h.ZCCUserID, h.ZVMHost, h.HypervisorHostname = f[0], f[2], f[2]
	if b.c.HostName != "" {
		h.HypervisorHostname = b.c.HostName
	}

	data, path, err := b.sysinfo(ctx)
	if err != nil {
		return api.HostInfo{}, hostErr("read the connector guest's sysinfo", err)
	}
	si, err := ParseSysinfo(data)
	if err != nil {
		return api.HostInfo{}, hostErr(path, err)
	}
	h.CPUInfo.CECModel = si.Type
	h.HypervisorVersion = si.VersionNumber()
	h.VCPUs, h.VCPUsUsed = si.LPARCPUsTotal, float64(si.LPARCPUsConfigured)

	procs, err := b.c.SMAPI.SystemProcessorQuery(ctx)
	if err != nil {
		return api.HostInfo{}, smapiErr("query the LPAR's processors", err)
	}
	if total, used := procs.Counts(); total != 0 {
		h.VCPUs = total
		if used != 0 {
			h.VCPUsUsed = float64(used)
		}
	}

	sys, err := b.c.SMAPI.SystemInformationQuery(ctx)
	if err != nil {
		return api.HostInfo{}, smapiErr("query the system information", err)
	}
	storage := sys["STORAGE"]
	if i := strings.LastIndexByte(storage, '='); i >= 0 {
		storage = storage[i+1:]
	}
	mb, err := sizeMB(storage)
	if err != nil {
		return api.HostInfo{}, hostErr("System_Information_Query STORAGE", err)
	}
	h.MemoryMB = int(mb)
	if h.IPLTime, err = iplTime(sys); err != nil {
		return api.HostInfo{}, hostErr("System_Information_Query IPL time", err)
	}

	perf, err := b.c.SMAPI.SystemPerformanceInfoQuery(ctx, "detailed_cpu=show=no")
	if err != nil {
		return api.HostInfo{}, smapiErr("query the storage in use", err)
	}
	pages, err := strconv.ParseFloat(perf["MEMORY_IN_USE"], 64)
	if err != nil || pages < 0 {
		return api.HostInfo{}, hostErr("System_Performance_Information_Query", fmt.Errorf("MEMORY_IN_USE %q is not a page count", perf["MEMORY_IN_USE"]))
	}
	used, _ := sizeMB(cvtToMag(pages * 4096))
	h.MemoryMBUsed = used

	_, group, _ := parsePool(b.c.DiskPool)
	var free, inUse float64
	for _, q := range []byte{smapi.VolQueryFree, smapi.VolQueryUsed} {
		ext, err := b.c.SMAPI.ImageVolumeSpaceQueryDM(ctx, q, smapi.VolEntryGroup, group)
		if err != nil {
			return api.HostInfo{}, smapiErr("query disk pool "+group, err)
		}
		for _, e := range ext {
			if !strings.EqualFold(e.Group, group) {
				continue
			}
			if q == smapi.VolQueryFree {
				free += float64(e.Bytes())
			} else {
				inUse += float64(e.Bytes())
			}
		}
	}
	h.DiskTotal, h.DiskUsed, h.DiskAvailable = poolGB(free+inUse), poolGB(inUse), poolGB(free)
	return h, nil
}

// sysinfoReader is a CP access that knows the connector guest's
// /proc/sysinfo (zvmcp.Native under its root, the simulator's CP).
type sysinfoReader interface {
	Sysinfo(ctx context.Context) ([]byte, error)
}

// sysinfo reads <Config.Root>/proc/sysinfo when Root is set, else asks
// the CP access, else reads /proc/sysinfo.
func (b *Backend) sysinfo(ctx context.Context) ([]byte, string, error) {
	if r, ok := b.c.CP.(sysinfoReader); ok && b.c.Root == "" {
		data, err := r.Sysinfo(ctx)
		return data, "the connector guest's /proc/sysinfo", err
	}
	path := filepath.Join(b.c.Root, "proc", "sysinfo")
	if b.c.Root == "" {
		path = "/proc/sysinfo"
	}
	data, err := os.ReadFile(path)
	return data, path, err
}

func hostErr(what string, err error) error {
	return &api.Error{OverallRC: 500, ModID: api.ModGeneric, RC: 500, RS: 0,
		Msg: fmt.Sprintf("host information: %s: %v", what, err), Err: err}
}

// iplTime formats the IPL as getHost.py does: "IPL at 06/02/17 11:07:10 EDT".
func iplTime(kv smapi.KeyValues) (string, error) {
	d, err := time.Parse("2006-01-02", kv["IPL_DATE"])
	if err != nil {
		return "", fmt.Errorf("IPL_DATE %q: want YYYY-MM-DD", kv["IPL_DATE"])
	}
	if _, err := time.Parse("15:04:05", kv["IPL_TIME"]); err != nil {
		return "", fmt.Errorf("IPL_TIME %q: want hh:mm:ss", kv["IPL_TIME"])
	}
	return fmt.Sprintf("IPL at %s %s %s", d.Format("01/02/06"), kv["IPL_TIME"], kv["IPL_TIME_ZONE"]), nil
}

// cvtToMag is getHost.py's size text: "%.1fG" above 5 GiB, else "%.1fM".
func cvtToMag(bytes float64) string {
	mb := bytes / (1 << 20)
	if mb > 5*1024 {
		return fmt.Sprintf("%.1fG", mb/1024)
	}
	return fmt.Sprintf("%.1fM", mb)
}

// poolGB is a pool figure in whole GiB as hostops.py diskpool_get_info
// rounds getHost.py's text: G values round at the first decimal, M
// values drop the decimal, then round at 512 MiB.
func poolGB(bytes float64) int {
	s := cvtToMag(bytes)
	n, _ := strconv.ParseFloat(s[:len(s)-1], 64)
	if strings.HasSuffix(s, "G") {
		whole := math.Floor(n)
		if n-whole >= 0.45 { // the first decimal is 5 or more
			whole++
		}
		return int(whole)
	}
	m := int(n)
	gb := m / 1024
	if m%1024 >= 512 {
		gb++
	}
	return gb
}

// sizeMB is zvmsdk utils.convert_to_mb: "64G", "2048M", "1T", or bytes.
func sizeMB(s string) (float64, error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	mult := 1.0 / (1 << 20)
	switch {
	case strings.HasSuffix(s, "T"):
		mult = 1 << 20
	case strings.HasSuffix(s, "G"):
		mult = 1 << 10
	case strings.HasSuffix(s, "M"):
		mult = 1
	}
	if mult >= 1 {
		s = strings.TrimSpace(s[:len(s)-1])
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n < 0 || math.IsInf(n, 0) || math.IsNaN(n) {
		return 0, fmt.Errorf("size %q: want a number with M, G or T, or bytes", s)
	}
	return n * mult, nil
}

// Sysinfo is what the connector reads from its guest's /proc/sysinfo.
type Sysinfo struct {
	Manufacturer, Type                string
	LPARCPUsTotal, LPARCPUsConfigured int
	// ControlProgram is VM00's "z/VM    7.3.0".
	ControlProgram string
}

// VersionNumber is hostops.py's hypervisor_version: the level's digits,
// "7.3.0" -> 730; 0 if there is none.
func (s Sysinfo) VersionNumber() int {
	f := strings.Fields(s.ControlProgram)
	if len(f) < 2 {
		return 0
	}
	n, err := strconv.Atoi(strings.ReplaceAll(f[1], ".", ""))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// ParseSysinfo reads the fields the connector uses from /proc/sysinfo
// ("Key:   value" lines). Every one must be there, as getHost.py reports
// each missing one.
func ParseSysinfo(b []byte) (Sysinfo, error) {
	var s Sysinfo
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		var err error
		switch k {
		case "Manufacturer":
			s.Manufacturer = v
		case "Type":
			s.Type = v
		case "LPAR CPUs Total":
			s.LPARCPUsTotal, err = strconv.Atoi(v)
		case "LPAR CPUs Configured":
			s.LPARCPUsConfigured, err = strconv.Atoi(v)
		case "VM00 Control Program":
			s.ControlProgram = v
		default:
			continue
		}
		if err != nil || v == "" || s.LPARCPUsTotal < 0 || s.LPARCPUsConfigured < 0 {
			return Sysinfo{}, fmt.Errorf("sysinfo field %q has value %q", k, v)
		}
		seen[k] = true
	}
	if err := sc.Err(); err != nil {
		return Sysinfo{}, fmt.Errorf("sysinfo: %w", err)
	}
	for _, k := range []string{"Manufacturer", "Type", "LPAR CPUs Total", "LPAR CPUs Configured", "VM00 Control Program"} {
		if !seen[k] {
			return Sysinfo{}, fmt.Errorf("sysinfo has no %q line: is this a z/VM guest? (the connector must run in a z/VM guest)", k)
		}
	}
	if s.VersionNumber() == 0 {
		return Sysinfo{}, fmt.Errorf("sysinfo VM00 Control Program %q: want \"z/VM <version.release.mod>\"", s.ControlProgram)
	}
	return s, nil
}

// ownUserid is the connector's own userid (CP QUERY USERID's first
// word), asked once; "" while CP does not answer.
func (b *Backend) ownUserid(ctx context.Context) string {
	if id, ok := b.selfID.Load().(string); ok {
		return id
	}
	r, err := b.c.CP.Exec(ctx, "QUERY USERID")
	if f := strings.Fields(r.Text); err == nil && r.RC == 0 && len(f) >= 3 {
		id := strings.ToUpper(f[0])
		b.selfID.Store(id)
		return id
	}
	return ""
}
