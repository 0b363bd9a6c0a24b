package dpm_test

// Tests against the HMC simulator (hostside/hmcsim) in-process, over
// real HTTPS, verifying the simulator's generated CA.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/dpm"
	"github.com/zguest/zguest/hostside/hmc"
	"github.com/zguest/zguest/hostside/hmcsim"
)

const (
	user     = "admin"
	password = "Sim-Passw0rd!"
	volURI   = "/api/storage-groups/sg1/storage-volumes/vol1"
)

func inventory(apiVersion string, storageMgmt bool) *hmcsim.Inventory {
	return &hmcsim.Inventory{
		User: user, Password: password, HMCName: "HMC1", HMCVersion: "2.14.0", APIVersion: apiVersion,
		CPCs: []hmcsim.CPC{{
			ObjectID: "cpc1", Name: "CPC1", DPMEnabled: true, SEVersion: "2.14.0", MachineType: "3906",
			ProcessorCountIFL: 16, StorageCustomer: 65536, StorageManagement: storageMgmt,
			Adapters: []hmcsim.Adapter{
				{ObjectID: "osa1", Name: "OSA 1", AdapterID: "100", Type: "osd", Ports: 2},
				{ObjectID: "fcp1", Name: "FCP 1", AdapterID: "120", Type: "fcp", Ports: 1},
			},
			VirtualSwitches: []hmcsim.VirtualSwitch{{ObjectID: "vs1", Name: "VS1", Adapter: "osa1", Port: 1}},
			StorageGroups: func() []hmcsim.StorageGroupIn {
				if !storageMgmt {
					return nil
				}
				return []hmcsim.StorageGroupIn{{ObjectID: "sg1", Name: "SG1", Volumes: []hmcsim.StorageVolume{{ObjectID: "vol1", Name: "boot", Size: 10, Usage: "boot"}}}}
			}(),
		}},
	}
}

type env struct {
	sim  *hmcsim.Sim
	c    *hmc.Client
	b    *dpm.Backend
	cfg  dpm.Config
	logs *bytes.Buffer
}

func setup(t *testing.T, inv *hmcsim.Inventory, mod func(*dpm.Config)) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	sim, err := hmcsim.Start(ctx, hmcsim.Options{Listen: "127.0.0.1:0", Inventory: inv, JobDuration: 20 * time.Millisecond, DeferredStatus: 30 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	e := &env{sim: sim, logs: &bytes.Buffer{}}
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.c, err = hmc.New(hmc.Config{URL: sim.URL(), CA: sim.CACertPEM(), UserID: user, Password: password, Backoff: time.Millisecond, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	e.cfg = dpm.Config{HMC: e.c, CPC: "cpc1", Host: "host-a", MaxProcessors: 4, MaxMemoryMB: 8192,
		Networks: map[string]dpm.Network{"physnet1": {VSwitch: "vs1"}},
		Poll:     5 * time.Millisecond, JobTimeout: 5 * time.Second, StatusTimeout: 5 * time.Second, Log: log}
	if mod != nil {
		mod(&e.cfg)
	}
	e.b, err = dpm.New(ctx, e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if strings.Contains(e.logs.String(), password) {
			t.Errorf("the password was logged")
		}
	})
	return e
}

func nets(n int) []api.GuestNetwork {
	var g []api.GuestNetwork
	for i := 0; i < n; i++ {
		g = append(g, api.GuestNetwork{MACAddr: fmt.Sprintf("02:00:00:00:01:%02x", i), NICID: fmt.Sprintf("port-%d", i)})
	}
	return g
}

func apiErr(t *testing.T, err error) *api.Error {
	t.Helper()
	var ae *api.Error
	if !errors.As(err, &ae) {
		t.Fatalf("want *api.Error, got %v", err)
	}
	return ae
}

var ctx = context.Background()

// spawn runs the spawn sequence and returns the HMC calls it took.
func (e *env) spawn(t *testing.T, userid string, nics int) int64 {
	t.Helper()
	before := e.c.Calls()
	if _, err := e.b.CreateGuest(ctx, api.GuestSpec{UserID: userid, VCPUs: 2, Memory: 1024}); err != nil {
		t.Fatalf("create: %v", err)
	}
	if _, err := e.b.CreateNetworkInterface(ctx, userid, api.InterfaceSpec{OSVersion: "rhel9", GuestNetworks: nets(nics)}); err != nil {
		t.Fatalf("interface: %v", err)
	}
	if err := e.b.Deploy(ctx, userid, api.DeploySpec{Image: "storage-volume:" + volURI}); err != nil {
		t.Fatalf("deploy: %v", err)
	}
	if err := e.b.Action(ctx, userid, api.PowerAction{Name: "start"}); err != nil {
		t.Fatalf("start: %v", err)
	}
	return e.c.Calls() - before
}

func TestSpawnAndEveryOperation(t *testing.T) {
	e := setup(t, inventory("2.20", true), nil)
	e.c.Calls()
	e.sim.ResetCounts()
	calls := e.spawn(t, "GUEST1", 4)
	t.Logf("HMC calls for a 4-NIC spawn: %d; per operation: %v", calls, e.sim.Counts())

	p, ok := e.sim.Partition("OpenStack-host-a-GUEST1")
	if !ok {
		t.Fatal("no partition OpenStack-host-a-GUEST1")
	}
	if p.Status != "active" {
		t.Errorf("status %s", p.Status)
	}
	if got := p.Properties["boot-device"]; got != "storage-volume" {
		t.Errorf("boot-device %v", got)
	}
	want := " 0001,1,020000000100; 0004,1,020000000101; 0007,1,020000000102; 000A,1,020000000103;"
	if p.BootOSSpecificParameters != want {
		t.Errorf("boot-os-specific-parameters\n got %q\nwant %q", p.BootOSSpecificParameters, want)
	}
	for i, n := range p.NICs {
		if n["mac-address"] != fmt.Sprintf("02:00:00:00:01:%02x", i) {
			t.Errorf("NIC %d mac-address %v (API 2.20 sets it)", i, n["mac-address"])
		}
	}
	if e.sim.JobCount() != 0 {
		t.Errorf("%d jobs left undeleted", e.sim.JobCount())
	}

	if st, err := e.b.PowerState(ctx, "GUEST1"); st != "on" || err != nil {
		t.Errorf("power state %q %v", st, err)
	}
	gi, err := e.b.GuestInfo(ctx, "GUEST1")
	if err != nil || gi.PowerState != "on" || gi.MemKB != 1024*1024 || gi.MaxMemKB != 1024*1024 || gi.NumCPU != 2 {
		t.Errorf("info %+v %v", gi, err)
	}
	if ids, err := e.b.ListGuests(ctx); err != nil || fmt.Sprint(ids) != "[GUEST1]" {
		t.Errorf("list %v %v", ids, err)
	}
	hi, err := e.b.HostInfo(ctx)
	if err != nil || hi.VCPUs != 4 || hi.VCPUsUsed != 2 || hi.MemoryMB != 8192 || hi.MemoryMBUsed != 1024 || hi.HypervisorVersion != 2014000 || hi.HypervisorHostname != "host-a" {
		t.Errorf("host %+v %v", hi, err)
	}
	for _, a := range []string{"stop", "stop"} {
		if err := e.b.Action(ctx, "GUEST1", api.PowerAction{Name: a}); err != nil {
			t.Fatalf("%s: %v", a, err)
		}
	}
	if st, _ := e.b.PowerState(ctx, "GUEST1"); st != "off" {
		t.Errorf("after stop: %s", st)
	}
	if err := e.b.Action(ctx, "GUEST1", api.PowerAction{Name: "reboot"}); err != nil {
		t.Fatalf("reboot: %v", err)
	}
	if st, _ := e.b.PowerState(ctx, "GUEST1"); st != "on" {
		t.Errorf("after reboot: %s", st)
	}
	if err := e.b.Action(ctx, "GUEST1", api.PowerAction{Name: "pause"}); apiErr(t, err).OverallRC != 501 || apiErr(t, err).ModID != api.ModGuest || apiErr(t, err).RS != 1 {
		t.Errorf("pause: %v", err)
	}
	// NIC delete drops the token.
	if err := e.b.DeleteNIC(ctx, "GUEST1", "0004", false); err != nil {
		t.Fatalf("delete NIC: %v", err)
	}
	p, _ = e.sim.Partition("OpenStack-host-a-GUEST1")
	if p.BootOSSpecificParameters != " 0001,1,020000000100; 0007,1,020000000102; 000A,1,020000000103;" || len(p.NICs) != 3 {
		t.Errorf("after NIC delete: %q, %d NICs", p.BootOSSpecificParameters, len(p.NICs))
	}
	if err := e.b.CoupleNIC(ctx, "GUEST1", "000a", api.Couple{Couple: true, VSwitch: "physnet1"}); err != nil {
		t.Errorf("couple: %v", err)
	}
	// Delete an active guest: stopped first.
	if err := e.b.DeleteGuest(ctx, "GUEST1"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, ok := e.sim.Partition("OpenStack-host-a-GUEST1"); ok {
		t.Error("partition still there")
	}
	if err := e.b.DeleteGuest(ctx, "GUEST1"); err != nil {
		t.Errorf("second delete: %v", err)
	}
	if _, err := e.b.PowerState(ctx, "GUEST1"); apiErr(t, err).OverallRC != 404 {
		t.Errorf("power state of a deleted guest: %v", err)
	}
	if err := e.b.Close(ctx); err != nil || e.sim.SessionCount() != 0 {
		t.Errorf("logoff: %v, %d sessions", err, e.sim.SessionCount())
	}
}

func TestThirteenNICsRefusedNothingLeft(t *testing.T) {
	e := setup(t, inventory("2.20", true), nil)
	if _, err := e.b.CreateGuest(ctx, api.GuestSpec{UserID: "G13", VCPUs: 1, Memory: 512}); err != nil {
		t.Fatal(err)
	}
	before := e.c.Calls()
	_, err := e.b.CreateNetworkInterface(ctx, "G13", api.InterfaceSpec{GuestNetworks: nets(13)})
	ae := apiErr(t, err)
	if ae.ModID != api.ModNetwork || !strings.Contains(ae.Msg, "256") {
		t.Errorf("error %v", ae)
	}
	p, _ := e.sim.Partition("OpenStack-host-a-G13")
	if len(p.NICs) != 0 || p.BootOSSpecificParameters != "" {
		t.Errorf("left behind: %d NICs, %q", len(p.NICs), p.BootOSSpecificParameters)
	}
	if n := e.sim.Counts()["POST /api/partitions/{id}/nics"]; n != 0 {
		t.Errorf("%d NIC creates sent", n)
	}
	t.Logf("refusal took %d HMC calls", e.c.Calls()-before)
	// 12 fit; a 13th later is refused too.
	if _, err := e.b.CreateNetworkInterface(ctx, "G13", api.InterfaceSpec{GuestNetworks: nets(12)}); err != nil {
		t.Fatalf("12 NICs: %v", err)
	}
	_, err = e.b.CreateNIC(ctx, "G13", api.NICSpec{MACAddr: "02:00:00:00:02:00"})
	apiErr(t, err)
	p, _ = e.sim.Partition("OpenStack-host-a-G13")
	if len(p.NICs) != 12 || len(p.BootOSSpecificParameters) != 252 {
		t.Errorf("%d NICs, %d characters", len(p.NICs), len(p.BootOSSpecificParameters))
	}
}

func TestUpperCaseDeviceNumbers(t *testing.T) {
	e := setup(t, inventory("2.20", true), nil)
	if _, err := e.b.CreateGuest(ctx, api.GuestSpec{UserID: "UC", VCPUs: 1, Memory: 512}); err != nil {
		t.Fatal(err)
	}
	n, err := e.b.CreateNIC(ctx, "UC", api.NICSpec{Vdev: "fa0c", MACAddr: "02:AA:BB:CC:DD:EE"})
	if err != nil || n.Vdev != "FA0C" {
		t.Fatalf("%+v %v", n, err)
	}
	out, err := e.b.CreateNetworkInterface(ctx, "UC", api.InterfaceSpec{GuestNetworks: nets(4)})
	if err != nil {
		t.Fatal(err)
	}
	if out[3].NICVdev != "000A" {
		t.Errorf("vdev %q", out[3].NICVdev)
	}
	p, _ := e.sim.Partition("OpenStack-host-a-UC")
	if !strings.HasPrefix(p.BootOSSpecificParameters, " FA0C,1,02aabbccddee; ") || !strings.Contains(p.BootOSSpecificParameters, " 000A,1,") {
		t.Errorf("%q", p.BootOSSpecificParameters)
	}
	if !regexp.MustCompile(`^( [0-9A-F]{4},1,[0-9a-f]{12};)+$`).MatchString(p.BootOSSpecificParameters) {
		t.Errorf("format %q", p.BootOSSpecificParameters)
	}
}

func TestSessionExpiresMidSpawn(t *testing.T) {
	e := setup(t, inventory("2.20", true), nil)
	if _, err := e.b.CreateGuest(ctx, api.GuestSpec{UserID: "EXP", VCPUs: 1, Memory: 512}); err != nil {
		t.Fatal(err)
	}
	e.sim.ResetCounts()
	e.sim.ExpireSessions()
	if _, err := e.b.CreateNetworkInterface(ctx, "EXP", api.InterfaceSpec{GuestNetworks: nets(2)}); err != nil {
		t.Fatalf("interface after expiry: %v", err)
	}
	e.sim.ExpireSessions()
	if err := e.b.Action(ctx, "EXP", api.PowerAction{Name: "start"}); err != nil {
		t.Fatalf("start after expiry: %v", err)
	}
	if n := e.sim.Counts()["POST /api/sessions"]; n != 2 {
		t.Errorf("%d logons, want 2", n)
	}
}

func TestStartJobFails(t *testing.T) {
	e := setup(t, inventory("2.20", true), nil)
	e.spawn(t, "OK", 1)
	if _, err := e.b.CreateGuest(ctx, api.GuestSpec{UserID: "BAD", VCPUs: 1, Memory: 512}); err != nil {
		t.Fatal(err)
	}
	e.sim.FailNextStart(500, 263, "simulated boot failure")
	err := e.b.Action(ctx, "BAD", api.PowerAction{Name: "start"})
	ae := apiErr(t, err)
	if ae.RC != 500 || ae.RS != 263 || !strings.Contains(ae.Msg, "simulated boot failure") {
		t.Errorf("error %v", ae)
	}
	p, _ := e.sim.Partition("OpenStack-host-a-BAD")
	if p.Status != "stopped" || e.sim.JobCount() != 0 {
		t.Errorf("after failure: %s, %d jobs", p.Status, e.sim.JobCount())
	}
	// The caller's clean-up (delete) leaves nothing; the other guest runs on.
	if err := e.b.DeleteGuest(ctx, "BAD"); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.sim.Partition("OpenStack-host-a-BAD"); ok {
		t.Error("partition left")
	}
	if st, _ := e.b.PowerState(ctx, "OK"); st != "on" {
		t.Errorf("other guest %s", st)
	}
}

func TestBusyRetried(t *testing.T) {
	e := setup(t, inventory("2.20", true), nil)
	e.sim.Busy(2, "POST /api/cpcs/{id}/partitions")
	e.sim.Busy(3, "POST /api/partitions/{id}/nics")
	e.spawn(t, "BUSY", 2)
	p, _ := e.sim.Partition("OpenStack-host-a-BUSY")
	if len(p.NICs) != 2 || p.Status != "active" {
		t.Errorf("%d NICs, %s", len(p.NICs), p.Status)
	}
}

func TestNICFailureCleansUp(t *testing.T) {
	e := setup(t, inventory("2.20", true), nil)
	if _, err := e.b.CreateGuest(ctx, api.GuestSpec{UserID: "HALF", VCPUs: 1, Memory: 512}); err != nil {
		t.Fatal(err)
	}
	// The third NIC's create is refused (busy beyond the retries).
	e.sim.Busy(100, "POST /api/partitions/{id}/nics")
	_, err := e.b.CreateNetworkInterface(ctx, "HALF", api.InterfaceSpec{GuestNetworks: nets(3)})
	if ae := apiErr(t, err); ae.RC != 409 || ae.RS != 2 {
		t.Errorf("error %v", ae)
	}
	e2 := setup(t, inventory("2.20", true), nil)
	if _, err := e2.b.CreateGuest(ctx, api.GuestSpec{UserID: "HALF", VCPUs: 1, Memory: 512}); err != nil {
		t.Fatal(err)
	}
	e2.sim.Busy(100, "POST /api/partitions/{id}")
	_, err = e2.b.CreateNetworkInterface(ctx, "HALF", api.InterfaceSpec{GuestNetworks: nets(3)})
	apiErr(t, err)
	p, _ := e2.sim.Partition("OpenStack-host-a-HALF")
	if len(p.NICs) != 0 || p.BootOSSpecificParameters != "" {
		t.Errorf("left behind: %d NICs %q", len(p.NICs), p.BootOSSpecificParameters)
	}
}

func TestPausedIsStoppedBeforeStart(t *testing.T) {
	e := setup(t, inventory("2.20", true), nil)
	e.spawn(t, "PAUSE", 1)
	if err := e.sim.GuestShutdown("OpenStack-host-a-PAUSE"); err != nil {
		t.Fatal(err)
	}
	if st, _ := e.b.PowerState(ctx, "PAUSE"); st != "off" {
		t.Errorf("paused is %s", st)
	}
	if err := e.b.Action(ctx, "PAUSE", api.PowerAction{Name: "start"}); err != nil {
		t.Fatalf("start from paused: %v", err)
	}
	if p, _ := e.sim.Partition("OpenStack-host-a-PAUSE"); p.Status != "active" {
		t.Errorf("status %s", p.Status)
	}
}

func TestLimits(t *testing.T) {
	e := setup(t, inventory("2.20", true), nil)
	_, err := e.b.CreateGuest(ctx, api.GuestSpec{UserID: "BIG", VCPUs: 5, Memory: 512})
	if ae := apiErr(t, err); ae.OverallRC != 409 || ae.RS != 1 {
		t.Errorf("processors: %v", ae)
	}
	if _, err := e.b.CreateGuest(ctx, api.GuestSpec{UserID: "A", VCPUs: 4, Memory: 6144}); err != nil {
		t.Fatal(err)
	}
	_, err = e.b.CreateGuest(ctx, api.GuestSpec{UserID: "B", VCPUs: 1, Memory: 4096})
	if ae := apiErr(t, err); ae.OverallRC != 409 || ae.RS != 2 || !strings.Contains(ae.Msg, "2048 MiB of 8192 MiB left") {
		t.Errorf("memory: %v", ae)
	}
	if _, err := e.b.CreateGuest(ctx, api.GuestSpec{UserID: "A", VCPUs: 1, Memory: 512}); apiErr(t, err).OverallRC != 409 {
		t.Errorf("duplicate: %v", err)
	}
	if len(e.sim.Partitions()) != 1 {
		t.Errorf("%d partitions", len(e.sim.Partitions()))
	}
}

func TestReconcileAfterRestart(t *testing.T) {
	e := setup(t, inventory("2.20", true), nil)
	e.spawn(t, "KEEP", 2)
	if _, err := e.b.CreateGuest(ctx, api.GuestSpec{UserID: "MID", VCPUs: 1, Memory: 512}); err != nil {
		t.Fatal(err)
	}
	// A daemon killed between NIC creation and the string's update.
	mid, _ := e.sim.Partition("OpenStack-host-a-MID")
	if _, err := e.c.Create(ctx, "/api/partitions/"+mid.ObjectID+"/nics", map[string]any{"name": "orphan", "virtual-switch-uri": "/api/virtual-switches/vs1"}); err != nil {
		t.Fatal(err)
	}
	// Another host's partition on the same CPC.
	if _, err := e.c.Create(ctx, "/api/cpcs/cpc1/partitions", map[string]any{"name": "OpenStack-host-a-b-OTHER", "initial-memory": 512, "maximum-memory": 512, "ifl-processors": 1}); err != nil {
		t.Fatal(err)
	}
	c2, err := hmc.New(hmc.Config{URL: e.sim.URL(), CA: e.sim.CACertPEM(), UserID: user, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.cfg
	cfg.HMC = c2
	b2, err := dpm.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if ids, _ := b2.ListGuests(ctx); fmt.Sprint(ids) != "[KEEP MID]" {
		t.Errorf("guests %v", ids)
	}
	if mid, _ := e.sim.Partition("OpenStack-host-a-MID"); len(mid.NICs) != 0 {
		t.Errorf("orphan NIC kept: %v", mid.NICs)
	}
	if keep, _ := e.sim.Partition("OpenStack-host-a-KEEP"); len(keep.NICs) != 2 {
		t.Errorf("KEEP lost NICs: %d", len(keep.NICs))
	}
	// The adopted guests count against the subset.
	if hi, _ := b2.HostInfo(ctx); hi.MemoryMBUsed != 1024+512 {
		t.Errorf("memory used %v", hi.MemoryMBUsed)
	}
	if err := b2.Action(ctx, "KEEP", api.PowerAction{Name: "stop"}); err != nil {
		t.Error(err)
	}
}

func TestFCPBootThroughHBA(t *testing.T) {
	e := setup(t, inventory("2.13", false), func(c *dpm.Config) {
		c.Storage = []dpm.StorageMapping{{Adapter: "fcp1", Port: 0}}
	})
	if _, err := e.b.CreateGuest(ctx, api.GuestSpec{UserID: "Z13", VCPUs: 1, Memory: 512}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.b.CreateNetworkInterface(ctx, "Z13", api.InterfaceSpec{GuestNetworks: nets(1)}); err != nil {
		t.Fatal(err)
	}
	if err := e.b.Deploy(ctx, "Z13", api.DeploySpec{Image: "fcp:500507630b0017a8:4000400e"}); err != nil {
		t.Fatal(err)
	}
	p, _ := e.sim.Partition("OpenStack-host-a-Z13")
	if len(p.HBAs) != 1 || p.Properties["boot-device"] != "storage-adapter" || p.Properties["boot-storage-device"] != p.HBAs[0]["element-uri"] ||
		p.Properties["boot-world-wide-port-name"] != "500507630b0017a8" || p.Properties["boot-logical-unit-number"] != "000000004000400e" {
		t.Errorf("boot properties %v, HBAs %v", p.Properties, p.HBAs)
	}
	// API 2.13: mac-address is read-only; the token carries the MAC.
	if p.NICs[0]["mac-address"] == "02:00:00:00:01:00" || !strings.Contains(p.BootOSSpecificParameters, ",1,020000000100;") {
		t.Errorf("NIC %v, string %q", p.NICs[0], p.BootOSSpecificParameters)
	}
	if err := e.b.Action(ctx, "Z13", api.PowerAction{Name: "start"}); err != nil {
		t.Fatal(err)
	}
	if err := e.b.Deploy(ctx, "Z13", api.DeploySpec{Image: "storage-volume:" + volURI}); apiErr(t, err).RC != 400 {
		t.Errorf("storage volume on z13: %v", err)
	}
}

// BenchmarkSpawn4NICs spawns 4-NIC guests (create, interface, deploy,
// start) and reports the HMC calls per spawn, at 0 and 50 ms of
// simulated HMC latency, one at a time and 20 at once.
func BenchmarkSpawn4NICs(b *testing.B) {
	for _, lat := range []time.Duration{0, 50 * time.Millisecond} {
		for _, par := range []int{1, 20} {
			b.Run(fmt.Sprintf("latency=%v/concurrent=%d", lat, par), func(b *testing.B) {
				e := setupB(b)
				e.sim.SetLatency(lat)
				n := 0
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					before := e.c.Calls()
					errs := make(chan error, par)
					for j := 0; j < par; j++ {
						n++
						id := fmt.Sprintf("B%d", n)
						go func() { errs <- e.spawnErr(id, 4) }()
					}
					for j := 0; j < par; j++ {
						if err := <-errs; err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(e.c.Calls()-before)/float64(par), "calls/spawn")
					b.StopTimer()
					for j := n - par + 1; j <= n; j++ {
						_ = e.b.DeleteGuest(ctx, fmt.Sprintf("B%d", j))
					}
					b.StartTimer()
				}
			})
		}
	}
}

func setupB(b *testing.B) *env {
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	sim, err := hmcsim.Start(ctx, hmcsim.Options{Listen: "127.0.0.1:0", Inventory: inventory("2.20", true)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sim.Close() })
	e := &env{sim: sim}
	e.c, err = hmc.New(hmc.Config{URL: sim.URL(), CA: sim.CACertPEM(), UserID: user, Password: password})
	if err != nil {
		b.Fatal(err)
	}
	e.cfg = dpm.Config{HMC: e.c, CPC: "cpc1", Host: "bench", MaxProcessors: 4, MaxMemoryMB: 65536,
		Networks: map[string]dpm.Network{"physnet1": {VSwitch: "vs1"}}, Poll: 10 * time.Millisecond}
	if e.b, err = dpm.New(ctx, e.cfg); err != nil {
		b.Fatal(err)
	}
	return e
}

func (e *env) spawnErr(userid string, nics int) error {
	if _, err := e.b.CreateGuest(ctx, api.GuestSpec{UserID: userid, VCPUs: 1, Memory: 512}); err != nil {
		return err
	}
	if _, err := e.b.CreateNetworkInterface(ctx, userid, api.InterfaceSpec{GuestNetworks: nets(nics)}); err != nil {
		return err
	}
	if err := e.b.Deploy(ctx, userid, api.DeploySpec{Image: "storage-volume:" + volURI}); err != nil {
		return err
	}
	return e.b.Action(ctx, userid, api.PowerAction{Name: "start"})
}
