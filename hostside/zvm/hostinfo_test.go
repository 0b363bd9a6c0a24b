package zvm_test

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/zvm"
	"github.com/zguest/zguest/hostside/zvmsim"
)

// hostRig is a backend on a simulator with a 100 GiB ECKD pool whose
// connector guest's /proc/sysinfo is under the backend's root.
func hostRig(t *testing.T, hostName string) (*zvmsim.Sim, *zvm.Backend) {
	t.Helper()
	dir := t.TempDir()
	sim, cl := serveSim(t, zvmsim.Options{DiskDir: filepath.Join(dir, "disks"),
		Pools: []zvmsim.Pool{{Name: "POOL1", Type: "ECKD", Capacity: 100 << 30}}})
	root := filepath.Join(dir, "root")
	if err := sim.WriteGuestRoot(root); err != nil {
		t.Fatal(err)
	}
	b, err := zvm.New(zvm.Config{SMAPI: cl, CP: sim.CP(), Disks: sim.CP(), ImageRepo: filepath.Join(dir, "images"), DiskPool: "ECKD:POOL1", Root: root, HostName: hostName})
	if err != nil {
		t.Fatal(err)
	}
	return sim, b
}

var iplRe = regexp.MustCompile(`^IPL at \d\d/\d\d/\d\d \d\d:\d\d:\d\d \S+$`)

// acceptable checks what nova's z/VM driver and placement need of GET
// /host: a node name, inventories with total >= 1 (update_provider_tree
// uses total as max_unit), used within total, and an uptime string.
func acceptable(t *testing.T, h api.HostInfo) {
	t.Helper()
	if h.HypervisorHostname == "" || h.HypervisorType != "zvm" || h.HypervisorVersion < 1 {
		t.Errorf("identity: %+v", h)
	}
	if h.VCPUs < 1 || h.MemoryMB < 1 || h.DiskTotal < 1 {
		t.Errorf("a total below 1: vcpus %d memory_mb %d disk_total %d", h.VCPUs, h.MemoryMB, h.DiskTotal)
	}
	if h.VCPUsUsed > float64(h.VCPUs) || h.MemoryMBUsed > float64(h.MemoryMB) || h.DiskUsed+h.DiskAvailable < h.DiskTotal-1 || h.DiskUsed > h.DiskTotal {
		t.Errorf("used figures beyond the totals: %+v", h)
	}
	if !iplRe.MatchString(h.IPLTime) {
		t.Errorf("ipl_time %q", h.IPLTime)
	}
}

func TestHostInfoFromZVM(t *testing.T) {
	sim, b := hostRig(t, "")
	ctx := context.Background()
	h, err := b.HostInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	acceptable(t, h)
	want := api.HostInfo{HypervisorHostname: "ZVMSIM1", HypervisorType: "zvm", HypervisorVersion: 730, VCPUs: 8, VCPUsUsed: 8,
		MemoryMB: 65536, MemoryMBUsed: 2048, DiskTotal: 100, DiskUsed: 0, DiskAvailable: 100, IPLTime: h.IPLTime,
		CPUInfo: api.CPUInfo{CECModel: "3931", Architecture: "s390x"}, ZVMHost: "ZVMSIM1", ZCCUserID: sim.HostID()}
	if h != want {
		t.Errorf("got  %+v\nwant %+v", h, want)
	}
	// A running guest's storage and its minidisks count as used.
	g := api.GuestSpec{UserID: "BIG1", VCPUs: 2, Memory: 4096, DiskList: []api.Disk{{Size: "20g", IsBootDisk: true}}}
	if _, err := b.CreateGuest(ctx, g); err != nil {
		t.Fatal(err)
	}
	h2, err := b.HostInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h2.MemoryMBUsed != 2048 || h2.DiskUsed != 20 || h2.DiskAvailable != 80 || h2.DiskTotal != 100 {
		t.Errorf("after create (logged off): %+v", h2)
	}
	if err := b.Action(ctx, "BIG1", api.PowerAction{Name: "start"}); err != nil {
		t.Fatal(err)
	}
	h3, err := b.HostInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	acceptable(t, h3)
	if h3.MemoryMBUsed != 2048+4096 {
		t.Errorf("memory_mb_used %v with BIG1 running: want %d", h3.MemoryMBUsed, 2048+4096)
	}
}

func TestHostInfoNameOverrideOnly(t *testing.T) {
	_, b := hostRig(t, "compute-7.example.com")
	h, err := b.HostInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if h.HypervisorHostname != "compute-7.example.com" || h.ZVMHost != "ZVMSIM1" || h.VCPUs != 8 {
		t.Errorf("%+v", h)
	}
}

// Without Root the CP access gives the sysinfo (here the simulator's).
func TestHostInfoSysinfoFromCP(t *testing.T) {
	dir := t.TempDir()
	sim, cl := serveSim(t, zvmsim.Options{DiskDir: filepath.Join(dir, "disks"), Host: zvmsim.HostConfig{Level: "7.4.0", CECType: "9175"}})
	b, err := zvm.New(zvm.Config{SMAPI: cl, CP: sim.CP(), Disks: sim.CP(), ImageRepo: filepath.Join(dir, "images")})
	if err != nil {
		t.Fatal(err)
	}
	h, err := b.HostInfo(context.Background())
	if err != nil || h.HypervisorVersion != 740 || h.CPUInfo.CECModel != "9175" {
		t.Errorf("%+v %v", h, err)
	}
}

func TestHostInfoWithoutSysinfo(t *testing.T) {
	dir := t.TempDir()
	sim, cl := serveSim(t, zvmsim.Options{DiskDir: filepath.Join(dir, "disks")})
	b, err := zvm.New(zvm.Config{SMAPI: cl, CP: sim.CP(), Disks: sim.CP(), ImageRepo: filepath.Join(dir, "images"), Root: dir})
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.HostInfo(context.Background())
	if e := apiErr(t, err); e.OverallRC != 500 || !strings.Contains(e.Msg, "sysinfo") {
		t.Errorf("%+v", e)
	}
}

func TestParseSysinfo(t *testing.T) {
	sim, _ := hostRig(t, "")
	s, err := zvm.ParseSysinfo(sim.Sysinfo())
	if err != nil || s.Type != "3931" || s.LPARCPUsTotal != 8 || s.LPARCPUsConfigured != 8 || s.VersionNumber() != 730 || s.Manufacturer != "IBM" {
		t.Fatalf("%+v %v", s, err)
	}
	// A KVM or LPAR Linux has no VM00 block.
	lpar := strings.Split(string(sim.Sysinfo()), "\nVM00")[0]
	if _, err := zvm.ParseSysinfo([]byte(lpar)); err == nil || !strings.Contains(err.Error(), "VM00 Control Program") {
		t.Errorf("no VM00: %v", err)
	}
	bad := strings.Replace(string(sim.Sysinfo()), "LPAR CPUs Total:      8", "LPAR CPUs Total:      eight", 1)
	if _, err := zvm.ParseSysinfo([]byte(bad)); err == nil {
		t.Error("non-numeric CPU count accepted")
	}
}

func FuzzParseSysinfo(f *testing.F) {
	dir := f.TempDir()
	sim, err := zvmsim.New(zvmsim.Options{DiskDir: dir})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sim.Sysinfo())
	f.Add([]byte("VM00 Control Program: z/VM\nType: 1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := zvm.ParseSysinfo(b)
		if err == nil && (s.VersionNumber() <= 0 || s.Type == "" || s.LPARCPUsTotal < 0 || s.LPARCPUsConfigured < 0) {
			t.Fatalf("%+v", s)
		}
	})
}
