package main

// Black-box tests of the built daemon on the dpm backend against the HMC
// simulator (hostside/hmcsim) in-process on loopback, over real HTTPS
// verified against the simulator's CA, driven through the REST API.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zguest/zguest/hostside/api/apitest"
	"github.com/zguest/zguest/hostside/hmcsim"
)

const (
	dpmCPC     = "1f5b4c7e-0a4a-4c1a-9f1e-5a0c2b7d9e01"
	dpmVSwitch = "5e000002-0000-4000-8000-000000000002" // adapter 1 port 1
	dpmSG      = "56000001-0000-4000-8000-000000000001"
	dpmVolume  = "/api/storage-groups/" + dpmSG + "/storage-volumes/5f000001-0000-4000-8000-000000000001"
	dpmHost    = "bbhost"
	dpmPW      = "hmcpass-sim"
)

// syncBuffer is the daemon's stderr, read while the daemon writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// dpmEnv is one simulator and one daemon configured for it.
type dpmEnv struct {
	t      *testing.T
	bin    string
	sim    *hmcsim.Sim
	cfg    string
	cl     *apitest.Client
	cmd    *exec.Cmd
	stderr *syncBuffer
}

func newDPMEnv(t *testing.T, bin string) *dpmEnv {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	sim, err := hmcsim.Start(ctx, hmcsim.Options{Listen: "127.0.0.1:0", InventoryFile: "../../testdata/hmc/dpm-z14.yaml",
		JobDuration: 20 * time.Millisecond, DeferredStatus: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	dir := t.TempDir()
	ca := filepath.Join(dir, "hmc-ca.pem")
	pw := filepath.Join(dir, "hmc.pw")
	if err := os.WriteFile(ca, sim.CACertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pw, []byte(dpmPW+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	cfg := filepath.Join(dir, "hostd.json")
	os.WriteFile(cfg, fmt.Appendf(nil, `{"listen":"127.0.0.1:%d","backend":"dpm","state_dir":%q,"backend_options":{
		"hmc":{"url":%q,"ca_file":%q,"userid":"hmcuser","password_file":%q,"timeout":"20s"},
		"cpc_object_id":%q,"host":%q,"max_processors":8,"max_memory_mb":65536,
		"networks":{"physnet1":{"virtual_switch":%q}},
		"job_timeout":"20s","status_timeout":"20s"}}`,
		port, filepath.Join(dir, "state"), sim.URL(), ca, pw, dpmCPC, dpmHost, dpmVSwitch), 0o600)
	e := &dpmEnv{t: t, bin: bin, sim: sim, cfg: cfg, stderr: &syncBuffer{},
		cl: &apitest.Client{Base: fmt.Sprintf("http://127.0.0.1:%d", port)}}
	t.Cleanup(func() {
		e.kill()
		if strings.Contains(e.stderr.String(), dpmPW) {
			t.Errorf("the daemon logged the HMC password")
		}
	})
	e.start()
	return e
}

// start runs the daemon and waits until it answers.
func (e *dpmEnv) start() {
	e.t.Helper()
	e.cmd = exec.Command(e.bin, "--config", e.cfg)
	e.cmd.Stderr = e.stderr
	if err := e.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := e.cl.Version(context.Background())
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("daemon never answered: %v\n%s", err, e.stderr.String())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// kill SIGKILLs the daemon (Process.Kill) and reaps it.
func (e *dpmEnv) kill() {
	if e.cmd != nil {
		e.cmd.Process.Kill()
		e.cmd.Wait()
		e.cmd = nil
	}
}

// ok returns a check that the reply is a success: e.ok("what")(call).
func (e *dpmEnv) ok(what string) func(*apitest.Reply, error) *apitest.Reply {
	return func(r *apitest.Reply, err error) *apitest.Reply {
		e.t.Helper()
		return e.check(what, r, err)
	}
}

func (e *dpmEnv) check(what string, r *apitest.Reply, err error) *apitest.Reply {
	e.t.Helper()
	if err != nil || r.Status != 200 || r.OverallRC != 0 {
		raw := ""
		if r != nil {
			raw = string(r.Raw)
		}
		e.t.Fatalf("%s: %v %s\n%s", what, err, raw, e.stderr.String())
	}
	return r
}

func (e *dpmEnv) partition(userid string) (hmcsim.PartitionInfo, bool) {
	return e.sim.Partition("OpenStack-" + dpmHost + "-" + userid)
}

// waitStatus polls the simulator until userid's partition has status.
func (e *dpmEnv) waitStatus(userid, status string) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		p, ok := e.partition(userid)
		if ok && p.Status == status {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("partition of %s: %q (exists %v), want %q", userid, p.Status, ok, status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func dpmNets(n int) []map[string]any {
	var nets []map[string]any
	for i := range n {
		nets = append(nets, map[string]any{"ip_addr": fmt.Sprintf("10.0.0.%d", 10+i), "cidr": "10.0.0.0/24",
			"mac_addr": fmt.Sprintf("02:00:00:00:0a:%02x", i), "nic_id": fmt.Sprintf("port-%d", i)})
	}
	return nets
}

func dpmTokens(n int) string {
	devnos := []string{"0001", "0004", "0007", "000A", "000D", "0010"}
	var s string
	for i := range n {
		s += fmt.Sprintf(" %s,1,020000000a%02x;", devnos[i], i) // port 1: the switch's
	}
	return s
}

func (e *dpmEnv) power(userid string) string {
	e.t.Helper()
	r := e.ok("power_state " + userid)(e.cl.GuestGetPowerState(context.Background(), userid))
	return string(r.Output)
}

// TestBinaryDPM runs the built daemon on the dpm backend against the HMC
// simulator over HTTPS and drives it through the REST API.
func TestBinaryDPM(t *testing.T) {
	bin := build(t)
	ctx := context.Background()

	t.Run("operations", func(t *testing.T) {
		e := newDPMEnv(t, bin)
		e.ok("create")(e.cl.GuestCreate(ctx, "VM1", 2, 2048, nil))
		e.ok("interface")(e.cl.GuestCreateNetworkInterface(ctx, "VM1", "rhel9", dpmNets(4)))
		p, _ := e.partition("VM1")
		// Device numbers as the HMC gives them: upper case (000A).
		if want := dpmTokens(4); p.BootOSSpecificParameters != want {
			t.Errorf("boot-os-specific-parameters\n got %q\nwant %q", p.BootOSSpecificParameters, want)
		}
		for i, n := range p.NICs {
			if dn, _ := n["device-number"].(string); dn != strings.ToUpper(dn) {
				t.Errorf("NIC %d device-number %q", i, dn)
			}
			if n["mac-address"] != fmt.Sprintf("02:00:00:00:0a:%02x", i) {
				t.Errorf("NIC %d mac-address %v (API 2.20 sets it)", i, n["mac-address"])
			}
		}
		e.ok("deploy")(e.cl.GuestDeploy(ctx, "VM1", "storage-volume:"+dpmVolume, "", ""))
		p, _ = e.partition("VM1")
		if p.Properties["boot-device"] != "storage-volume" || p.Properties["boot-storage-volume"] != dpmVolume {
			t.Errorf("boot properties: %v %v", p.Properties["boot-device"], p.Properties["boot-storage-volume"])
		}
		if fmt.Sprint(p.StorageGroups) != "["+dpmSG+"]" {
			t.Errorf("storage groups after deploy: %v", p.StorageGroups)
		}
		e.ok("start")(e.cl.GuestAction(ctx, "VM1", "start", nil))
		if p, _ := e.partition("VM1"); p.Status != "active" {
			t.Errorf("status after start: %s", p.Status)
		}
		if got := e.power("VM1"); got != `"on"` {
			t.Errorf("power state after start: %s", got)
		}
		r := e.ok("info")(e.cl.GuestGetInfo(ctx, "VM1"))
		var info map[string]any
		if err := r.Out(&info); err != nil || info["power_state"] != "on" || info["num_cpu"] != 2.0 || info["mem_kb"] != 2048.0*1024 || info["max_mem_kb"] != 2048.0*1024 {
			t.Errorf("info %s %v", r.Output, err)
		}
		r = e.ok("list")(e.cl.GuestList(ctx))
		if string(r.Output) != `["VM1"]` {
			t.Errorf("guests %s", r.Output)
		}
		e.ok("stop")(e.cl.GuestAction(ctx, "VM1", "stop", nil))
		if got := e.power("VM1"); got != `"off"` {
			t.Errorf("power state after stop: %s", got)
		}
		e.ok("stop again")(e.cl.GuestAction(ctx, "VM1", "stop", nil))
		e.ok("reboot")(e.cl.GuestAction(ctx, "VM1", "reboot", nil))
		if got := e.power("VM1"); got != `"on"` {
			t.Errorf("power state after reboot: %s", got)
		}
		e.ok("delete")(e.cl.GuestDelete(ctx, "VM1"))
		e.ok("delete again")(e.cl.GuestDelete(ctx, "VM1"))
		if ps := e.sim.Partitions(); len(ps) != 0 {
			t.Errorf("partitions left after delete: %v", ps)
		}
		if n := e.sim.Counts()["POST /api/partitions/{id}/operations/detach-storage-group"]; n != 1 {
			t.Errorf("%d detach-storage-group calls at delete, want 1", n)
		}
		r = e.ok("list after delete")(e.cl.GuestList(ctx))
		if string(r.Output) != `[]` {
			t.Errorf("guests after delete %s", r.Output)
		}
		if r, err := e.cl.GuestGetPowerState(ctx, "VM1"); err != nil || r.OverallRC != 404 {
			t.Errorf("power state of a deleted guest: %v %s", err, r.Raw)
		}
		if e.sim.JobCount() != 0 {
			t.Errorf("%d jobs left undeleted", e.sim.JobCount())
		}
	})

	t.Run("thirteen NICs refused", func(t *testing.T) {
		e := newDPMEnv(t, bin)
		e.ok("create")(e.cl.GuestCreate(ctx, "VM13", 1, 1024, nil))
		e.sim.ResetCounts()
		r, err := e.cl.GuestCreateNetworkInterface(ctx, "VM13", "rhel9", dpmNets(13))
		if err != nil || r.OverallRC == 0 || r.RS != 256 || !strings.Contains(r.ErrMsg, "256") {
			t.Fatalf("13 NICs: %v %s", err, r.Raw)
		}
		if n := e.sim.Counts()["POST /api/partitions/{id}/nics"]; n != 0 {
			t.Errorf("%d NIC creations for a refused request", n)
		}
		p, _ := e.partition("VM13")
		if len(p.NICs) != 0 || p.BootOSSpecificParameters != "" {
			t.Errorf("left behind: %d NICs, string %q", len(p.NICs), p.BootOSSpecificParameters)
		}
		// 12 fit.
		e.ok("12 NICs")(e.cl.GuestCreateNetworkInterface(ctx, "VM13", "rhel9", dpmNets(12)))
		if p, _ := e.partition("VM13"); len(p.NICs) != 12 || len(p.BootOSSpecificParameters) > 256 {
			t.Errorf("12 NICs: %d NICs, %d characters", len(p.NICs), len(p.BootOSSpecificParameters))
		}
	})

	t.Run("session expires mid-spawn", func(t *testing.T) {
		e := newDPMEnv(t, bin)
		e.sim.ResetCounts()
		e.ok("create")(e.cl.GuestCreate(ctx, "VMS", 1, 1024, nil))
		e.sim.ExpireSessions()
		e.ok("interface")(e.cl.GuestCreateNetworkInterface(ctx, "VMS", "rhel9", dpmNets(2)))
		e.sim.ExpireSessions()
		e.ok("deploy")(e.cl.GuestDeploy(ctx, "VMS", "storage-volume:"+dpmVolume, "", ""))
		e.sim.ExpireSessions()
		e.ok("start")(e.cl.GuestAction(ctx, "VMS", "start", nil))
		if n := e.sim.Counts()["POST /api/sessions"]; n != 3 {
			t.Errorf("%d logons after 3 expiries, want 3", n)
		}
		if p, _ := e.partition("VMS"); p.Status != "active" || p.BootOSSpecificParameters != dpmTokens(2) {
			t.Errorf("after the spawn: %s %q", p.Status, p.BootOSSpecificParameters)
		}
	})

	t.Run("start job fails", func(t *testing.T) {
		e := newDPMEnv(t, bin)
		e.ok("create")(e.cl.GuestCreate(ctx, "VMF", 1, 1024, nil))
		e.ok("interface")(e.cl.GuestCreateNetworkInterface(ctx, "VMF", "rhel9", dpmNets(1)))
		e.ok("deploy")(e.cl.GuestDeploy(ctx, "VMF", "storage-volume:"+dpmVolume, "", ""))
		e.sim.FailNextStart(500, 263, "")
		r, err := e.cl.GuestAction(ctx, "VMF", "start", nil)
		if err != nil || r.OverallRC == 0 || r.RC != 500 || r.RS != 263 || !strings.Contains(r.ErrMsg, hmcsim.FailMessage) {
			t.Fatalf("failed start: %v %s", err, r.Raw)
		}
		e.waitStatus("VMF", "stopped")
		if got := e.power("VMF"); got != `"off"` {
			t.Errorf("power state after a failed start: %s", got)
		}
		e.ok("start again")(e.cl.GuestAction(ctx, "VMF", "start", nil))
		if got := e.power("VMF"); got != `"on"` {
			t.Errorf("power state after the second start: %s", got)
		}
	})

	t.Run("busy retried", func(t *testing.T) {
		e := newDPMEnv(t, bin)
		e.ok("create")(e.cl.GuestCreate(ctx, "VMB", 1, 1024, nil))
		e.sim.ResetCounts()
		e.sim.Busy(3, "POST /api/partitions/{id}/nics")
		e.ok("interface")(e.cl.GuestCreateNetworkInterface(ctx, "VMB", "rhel9", dpmNets(2)))
		if n := e.sim.Counts()["POST /api/partitions/{id}/nics"]; n != 2+3 {
			t.Errorf("%d NIC creation requests for 2 NICs and 3 busy answers, want 5", n)
		}
		if p, _ := e.partition("VMB"); len(p.NICs) != 2 || p.BootOSSpecificParameters != dpmTokens(2) {
			t.Errorf("after busy: %d NICs, %q", len(p.NICs), p.BootOSSpecificParameters)
		}
		e.sim.Busy(2, "")
		e.ok("deploy while busy")(e.cl.GuestDeploy(ctx, "VMB", "storage-volume:"+dpmVolume, "", ""))
		e.ok("start")(e.cl.GuestAction(ctx, "VMB", "start", nil))
	})

	t.Run("killed between NIC creation and start", func(t *testing.T) {
		e := newDPMEnv(t, bin)
		e.ok("create")(e.cl.GuestCreate(ctx, "VMK", 2, 2048, nil))
		// Hold the boot string's update (busy, retried with backoff) so
		// that the NICs exist and the string does not name them yet.
		const update = "POST /api/partitions/{id}"
		e.sim.ResetCounts()
		e.sim.Busy(3, update)
		done := make(chan struct{})
		go func() {
			defer close(done)
			e.cl.GuestCreateNetworkInterface(ctx, "VMK", "rhel9", dpmNets(3))
		}()
		deadline := time.Now().Add(10 * time.Second)
		for {
			p, _ := e.partition("VMK")
			if len(p.NICs) == 3 && e.sim.Counts()[update] >= 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the interface call never reached the string's update\n%s", e.stderr.String())
			}
			time.Sleep(2 * time.Millisecond)
		}
		e.kill()
		<-done
		p, _ := e.partition("VMK")
		if len(p.NICs) != 3 || p.BootOSSpecificParameters != "" {
			t.Fatalf("at the kill: %d NICs, string %q (the window was missed)", len(p.NICs), p.BootOSSpecificParameters)
		}

		// Restart: the takeover adopts the partition and deletes the NICs
		// the boot string does not name.
		e.start()
		p, _ = e.partition("VMK")
		if len(p.NICs) != 0 || p.BootOSSpecificParameters != "" || p.Status != "stopped" {
			t.Errorf("after the restart: %d NICs, string %q, status %s", len(p.NICs), p.BootOSSpecificParameters, p.Status)
		}
		if n := strings.Count(e.stderr.String(), "deleting a NIC left by an interrupted interface call"); n != 3 {
			t.Errorf("%d orphan NIC deletions logged, want 3\n%s", n, e.stderr.String())
		}
		if !strings.Contains(e.stderr.String(), "adopted partition") {
			t.Errorf("adoption not logged")
		}
		r := e.ok("list after the restart")(e.cl.GuestList(ctx))
		if string(r.Output) != `["VMK"]` {
			t.Errorf("guests after the restart %s", r.Output)
		}
		r = e.ok("info after the restart")(e.cl.GuestGetInfo(ctx, "VMK"))
		var info map[string]any
		if err := r.Out(&info); err != nil || info["num_cpu"] != 2.0 || info["power_state"] != "off" {
			t.Errorf("info after the restart %s %v", r.Output, err)
		}
		// The adopted guest's memory counts against the subset: a create
		// of the same userid is refused as existing.
		if r, err := e.cl.GuestCreate(ctx, "VMK", 1, 1024, nil); err != nil || r.OverallRC != 409 {
			t.Errorf("create of the adopted guest again: %v %s", err, r.Raw)
		}

		// Complete the spawn, with a second kill after the interface call
		// succeeded: NICs named in the string are kept.
		e.ok("interface after the restart")(e.cl.GuestCreateNetworkInterface(ctx, "VMK", "rhel9", dpmNets(3)))
		if p, _ := e.partition("VMK"); len(p.NICs) != 3 || p.BootOSSpecificParameters != dpmTokens(3) {
			t.Errorf("interface after the restart: %d NICs, %q", len(p.NICs), p.BootOSSpecificParameters)
		}
		e.ok("deploy")(e.cl.GuestDeploy(ctx, "VMK", "storage-volume:"+dpmVolume, "", ""))
		e.kill()
		e.start()
		if p, _ := e.partition("VMK"); len(p.NICs) != 3 || p.BootOSSpecificParameters != dpmTokens(3) {
			t.Errorf("after a kill past the interface call: %d NICs, %q", len(p.NICs), p.BootOSSpecificParameters)
		}
		e.ok("start")(e.cl.GuestAction(ctx, "VMK", "start", nil))
		if got := e.power("VMK"); got != `"on"` {
			t.Errorf("power state after the completed spawn: %s", got)
		}
		if p, _ := e.partition("VMK"); p.Status != "active" || fmt.Sprint(p.StorageGroups) != "["+dpmSG+"]" {
			t.Errorf("after the completed spawn: %s, groups %v", p.Status, p.StorageGroups)
		}
	})
}
