package zvmsim

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/zguest/zguest/hostside/smapi"
	"github.com/zguest/zguest/internal/zvm/spool"
)

// HostConfig describes the simulated z/VM system and the LPAR it runs
// in: what the connector reads from its own guest's /proc/sysinfo, from
// CP QUERY USERID and from the SMAPI host queries.
type HostConfig struct {
	SystemName string // CP's system name, QUERY USERID's "AT" (default ZVMSIM1)
	Level      string // z/VM level, "7.3.0"
	CECType    string // machine type in /proc/sysinfo "Type:" (default 3931, z16)
	// IFLs processors are online (MASTER, ALTERNATE), Standby more are
	// STANDBY (counted in the total, not as used).
	IFLs, Standby int
	StorageMB     int64 // LPAR storage online (default 65536)
	// CPMB is the storage CP and the service machines use with no guest
	// logged on (default 2048). guess: any plausible base will do.
	CPMB int64
}

func (h HostConfig) withDefaults() HostConfig {
	if h.SystemName == "" {
		h.SystemName = "ZVMSIM1"
	}
	if h.Level == "" {
		h.Level = "7.3.0"
	}
	if h.CECType == "" {
		h.CECType = "3931"
	}
	if h.IFLs == 0 {
		h.IFLs = 8
	}
	if h.StorageMB == 0 {
		h.StorageMB = 65536
	}
	if h.CPMB == 0 {
		h.CPMB = 2048
	}
	return h
}

// handleHost answers the host queries (getHost.py's SMAPI calls); ok is
// false for other functions. Called with s.mu held.
func (s *Sim) handleHost(fn string, params []byte) (smapi.Response, bool) {
	h := s.opts.Host
	switch fn {
	case smapi.FnSystemProcessorQuery:
		var recs []string
		for i := 0; i < h.IFLs+h.Standby; i++ {
			status := "ALTERNATE"
			switch {
			case i == 0:
				status = "MASTER-PROCESSOR"
			case i >= h.IFLs:
				status = "STANDBY"
			}
			recs = append(recs, fmt.Sprintf("%04X %s IFL %04X", i, status, i))
		}
		var p smapi.Params
		p.String("Z/VM").Array(recs)
		return smapi.Response{Data: p.Bytes()}, true
	case smapi.FnSystemInformationQuery:
		ipl := s.ipl
		// guess: the token order of these lines is as getHost.py indexes
		// them (STORAGE's online size after its second "=", STANDBY as
		// the 5th token; IPL_TIME, IPL_DATE, IPL_TIME_ZONE as the 6th to
		// 8th); the real buffer was not seen.
		return smapi.Response{Data: smapi.InfoBuffer(
			fmt.Sprintf("TIME=%s DATE=%s TIME_ZONE=%s", s.opts.Clock().Format("15:04:05"), s.opts.Clock().Format("2006-01-02"), s.opts.Clock().Format("MST")),
			fmt.Sprintf("STORAGE=ONLINE=%dM CONFIGURED=%dM INC=256M RESERVED=0 STANDBY=0", h.StorageMB, h.StorageMB),
			fmt.Sprintf("SYSTEM_NAME=%s SYSTEM_LEVEL=%s SLU=0000 CPU_ID=FF0123453931 LPAR=LP01 IPL_TIME=%s IPL_DATE=%s IPL_TIME_ZONE=%s",
				h.SystemName, h.Level, ipl.Format("15:04:05"), ipl.Format("2006-01-02"), ipl.Format("MST")),
		)}, true
	case smapi.FnSystemPerformanceInfoQuery:
		if _, _, err := smapi.NewParamReader(params).Keywords(); err != nil {
			return reply(24, 13), true // guess: a malformed keyword area is a syntax error
		}
		pages := s.memoryInUseMB() * 256 // 4-KiB pages
		// guess: one line of tokens; getHost.py takes MEMORY_IN_USE's
		// value after the "=" as a count of 4-KiB pages.
		return smapi.Response{Data: smapi.InfoBuffer(
			fmt.Sprintf("LPAR_CPUS=%d MEMORY_TOTAL=%d MEMORY_IN_USE=%d", h.IFLs, h.StorageMB*256, pages),
		)}, true
	case smapi.FnImageVolumeSpaceQueryDM:
		return s.volumeSpace(params), true
	}
	return smapi.Response{}, false
}

// memoryInUseMB is CP's base plus the storage of every logged-on guest
// (its USER statement's initial storage).
func (s *Sim) memoryInUseMB() int64 {
	total := s.opts.Host.CPMB
	for id, e := range s.dir {
		if st, _ := s.spool.QueryUser(id); st != spool.LoggedOn || len(e.records) == 0 {
			continue
		}
		f := strings.Fields(e.records[0])
		if len(f) >= 4 {
			total += storageMB(f[3])
		}
	}
	return total
}

// storageMB reads a directory storage size ("2048M", "4G", "512K").
func storageMB(s string) int64 {
	if s == "" {
		return 0
	}
	n, err := strconv.ParseInt(s[:len(s)-1], 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	switch strings.ToUpper(s[len(s)-1:]) {
	case "K":
		return n / 1024
	case "M":
		return n
	case "G":
		return n << 10
	case "T":
		return n << 20
	}
	return 0
}

// volumeSpace answers Image_Volume_Space_Query_DM for groups: query type 2
// gives each pool's free extent, 3 one record per minidisk in it.
// guess: the record layout "<volser> <type> <start> <size> <group>" is
// the 5-field form getHost.py reads; one volume per pool.
func (s *Sim) volumeSpace(params []byte) smapi.Response {
	qt, et, names, err := smapi.DecodeVolumeSpaceQuery(params)
	if err != nil || et != smapi.VolEntryGroup || (qt != smapi.VolQueryFree && qt != smapi.VolQueryUsed) {
		return reply(24, 13) // guess: only what the connector asks is modelled
	}
	want := map[string]bool{}
	for _, n := range names {
		want[strings.ToUpper(n)] = true
	}
	var recs []string
	for _, name := range s.poolNames() {
		p := s.pools[name]
		if !want["*"] && !want[name] {
			continue
		}
		typ, unit := "3390-09", int64(CylinderBytes)
		if p.Type == "FBA" {
			typ, unit = "9336-10", BlockBytes
		}
		if qt == smapi.VolQueryFree {
			recs = append(recs, fmt.Sprintf("%s %s %04d %d %s", volser(name), typ, p.used/unit+1, (p.Capacity-p.used)/unit, name))
			continue
		}
		for _, e := range s.dir {
			for _, d := range e.disks {
				if d.pool == name {
					recs = append(recs, fmt.Sprintf("%s %s %04d %d %s", volser(name), typ, d.start, d.units, name))
				}
			}
		}
	}
	sort.Strings(recs)
	var p smapi.Params
	p.Array(recs)
	return smapi.Response{Data: p.Bytes()}
}

func (s *Sim) poolNames() []string {
	out := make([]string, 0, len(s.pools))
	for n := range s.pools {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Sysinfo is the connector guest's /proc/sysinfo: the machine, the LPAR
// the z/VM system runs in, and the guest's own level 3 block (VM00).
// Field names and column are the kernel's (arch/s390/kernel/sysinfo.c).
func (s *Sim) Sysinfo() []byte {
	h := s.opts.Host
	line := func(k, v string) string { return fmt.Sprintf("%-22s%s\n", k+":", v) }
	var b strings.Builder
	b.WriteString(line("Manufacturer", "IBM"))
	b.WriteString(line("Type", h.CECType))
	b.WriteString(line("Model", "701              A01"))
	b.WriteString(line("Sequence Code", "0000000000012345"))
	b.WriteString(line("Plant", "02"))
	b.WriteString("\n")
	b.WriteString(line("LPAR Number", "1"))
	b.WriteString(line("LPAR Characteristics", "Shared"))
	b.WriteString(line("LPAR Name", "LP01"))
	b.WriteString(line("LPAR Adjustment", "250"))
	b.WriteString(line("LPAR CPUs Total", strconv.Itoa(h.IFLs+h.Standby)))
	b.WriteString(line("LPAR CPUs Configured", strconv.Itoa(h.IFLs)))
	b.WriteString(line("LPAR CPUs Standby", strconv.Itoa(h.Standby)))
	b.WriteString(line("LPAR CPUs Reserved", "0"))
	b.WriteString(line("LPAR CPUs Dedicated", "0"))
	b.WriteString(line("LPAR CPUs Shared", strconv.Itoa(h.IFLs)))
	b.WriteString("\n")
	b.WriteString(line("VM00 Name", s.HostID()))
	b.WriteString(line("VM00 Control Program", "z/VM    "+h.Level))
	b.WriteString(line("VM00 Adjustment", "500"))
	b.WriteString(line("VM00 CPUs Total", "2"))
	b.WriteString(line("VM00 CPUs Configured", "2"))
	b.WriteString(line("VM00 CPUs Standby", "0"))
	b.WriteString(line("VM00 CPUs Reserved", "0"))
	return []byte(b.String())
}

// Sysinfo implements the connector guest's /proc/sysinfo for the
// in-process CP access (zvm's sysinfo seam).
func (h *HostCP) Sysinfo(context.Context) ([]byte, error) { return h.s.Sysinfo(), nil }

// WriteGuestRoot writes the connector guest's files the daemon reads
// through its root prefix (proc/sysinfo) under root.
func (s *Sim) WriteGuestRoot(root string) error {
	dir := filepath.Join(root, "proc")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("zvmsim: guest root: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sysinfo"), s.Sysinfo(), 0o644); err != nil {
		return fmt.Errorf("zvmsim: guest root: %w", err)
	}
	return nil
}
