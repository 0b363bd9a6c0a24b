package main_test

// Black-box tests: the real, built zguest-agent binary runs against the
// emulated IBM Z kernel (a FUSE sysfs/procfs, real macvlan interfaces in a
// private network namespace, an emulated udevd broadcasting on netlink).
// They need root and skip without it; CI runs them as root.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zguest/zguest/agent/state"
	"github.com/zguest/zguest/internal/testutil"
	"github.com/zguest/zguest/internal/zkernel"
	"github.com/zguest/zguest/internal/zkernel/zkerneltest"
)

var (
	buildOnce sync.Once
	agentBin  string
	buildErr  error
)

// agent builds the binary once per test run, as the Makefile does.
func agent(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "zguest-agent-bin")
		if err != nil {
			buildErr = err
			return
		}
		agentBin = filepath.Join(dir, "zguest-agent")
		cmd := exec.Command("go", "build", "-tags", "netgo,osusergo", "-o", agentBin, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return agentBin
}

type run struct {
	code   int
	stderr string
	state  *state.State
}

func runAgent(t *testing.T, env *zkerneltest.Env, args ...string) run {
	t.Helper()
	bin := agent(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	full := append([]string{"--root", env.Root, "--timeout", "20s"}, args...)
	cmd := env.Command(ctx, bin, full...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = &stderr
	err := cmd.Run()
	r := run{stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run agent: %v\n%s", err, stderr.String())
	}
	s, err := state.Load(env.Root)
	if err != nil {
		t.Fatalf("state: %v", err)
	}
	r.state = s
	t.Logf("zguest-agent %s: exit %d\n%s", strings.Join(args, " "), r.code, r.stderr)
	return r
}

// nics makes n DPM NICs and returns their devices, tokens and MACs.
func nics(n int, base uint16, upper bool) ([]zkernel.Device, []string, map[string]string) {
	devs, list := zkerneltest.DPMNICs(n, base, upper)
	toks := make([]string, len(list))
	want := map[string]string{}
	for i, x := range list {
		toks[i] = x.Token
		want[x.BusID] = x.MAC
	}
	return devs, toks, want
}

// checkUp verifies every NIC is online in layer 2, named by udev, carries
// its MAC on the real interface, and is not up.
func checkUp(t *testing.T, env *zkerneltest.Env, want map[string]string) {
	t.Helper()
	for id, mac := range want {
		g, ok := env.Kernel.Group(id)
		if !ok || !g.Online || g.Layer2 != 1 {
			t.Errorf("%s: group %+v", id, g)
			continue
		}
		name := zkernel.SystemdName(id)
		if g.IfName != name {
			t.Errorf("%s: interface %q, want %q", id, g.IfName, name)
		}
		l, err := env.Link(name)
		if err != nil {
			t.Errorf("%s: %v", id, err)
			continue
		}
		if l.MAC != mac {
			t.Errorf("%s: MAC %s, want %s", name, l.MAC, mac)
		}
		if l.Up {
			t.Errorf("%s: the agent must not set the link up", name)
		}
	}
}

func TestBlackBoxDPM(t *testing.T) {
	testutil.RequireRoot(t, "FUSE mounts and network namespaces for the emulated kernel")
	for _, tc := range []struct {
		name  string
		n     int
		upper bool
		join  string
	}{
		{"1 NIC", 1, false, " "},
		{"12 NICs space separated upper case", 12, true, " "},
		{"12 NICs back to back", 12, false, ""},
		{"64 NICs", 64, false, " "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			devs, toks, want := nics(tc.n, 0x1000, tc.upper)
			env := zkerneltest.Start(t, zkernel.Config{Devices: devs, Cmdline: "root=UUID=0001abcd-0000-4000-8000-0123456789ab ro " + strings.Join(toks, tc.join), RenameDelay: 5 * time.Millisecond})
			r := runAgent(t, env, "activate")
			if r.code != 0 || !r.state.OK || len(r.state.NICs) != tc.n {
				t.Fatalf("exit %d ok=%v nics=%d", r.code, r.state.OK, len(r.state.NICs))
			}
			checkUp(t, env, want)
			if got := strings.Count(r.stderr, `msg="NIC up"`); got != tc.n {
				t.Errorf("%d 'NIC up' lines, want %d", got, tc.n)
			}
		})
	}
}

func TestBlackBoxSecondRunChangesNothing(t *testing.T) {
	testutil.RequireRoot(t, "FUSE mounts and network namespaces for the emulated kernel")
	devs, toks, want := nics(3, 0xf500, false)
	env := zkerneltest.Start(t, zkernel.Config{Devices: devs, Cmdline: strings.Join(toks, " ")})
	if r := runAgent(t, env, "activate"); r.code != 0 {
		t.Fatal("first run failed")
	}
	before := len(env.Kernel.Uevents())
	r := runAgent(t, env, "activate")
	if r.code != 0 {
		t.Fatal("second run failed")
	}
	for _, n := range r.state.NICs {
		if len(n.Changed) != 0 {
			t.Errorf("%s changed %v", n.BusID, n.Changed)
		}
	}
	if after := len(env.Kernel.Uevents()); after != before {
		t.Errorf("second run caused %d uevents", after-before)
	}
	checkUp(t, env, want)
}

func TestBlackBoxRDZNetHiperSocketsAndIgnored(t *testing.T) {
	testutil.RequireRoot(t, "FUSE mounts and network namespaces for the emulated kernel")
	iqd, _ := zkernel.QethDevices(zkernel.KindIQD, 0xf0, "0.0.7000")
	osd, _ := zkernel.QethDevices(zkernel.KindOSD, 0x10, "0.0.f500")
	extra, _ := zkernel.QethDevices(zkernel.KindOSD, 0x10, "0.0.f503")
	osd = append(osd, extra[1]) // 0.0.f504: a data subchannel other than read+2
	for i := range osd {
		osd[i].Ignored = true
	}
	env := zkerneltest.Start(t, zkernel.Config{
		Devices:           append(iqd, osd...),
		Cmdline:           "cio_ignore=all,!condev rd.znet=qeth,0.0.f500,0.0.f501,0.0.f504,layer2=1,portno=1 7000,0,020000007000;",
		RegistrationDelay: 30 * time.Millisecond,
	})
	r := runAgent(t, env, "activate")
	if r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	checkUp(t, env, map[string]string{"0.0.7000": "02:00:00:00:70:00"})
	g, _ := env.Kernel.Group("0.0.f500")
	if !g.Online || g.PortNo != 1 || g.Layer2 != 1 {
		t.Errorf("rd.znet NIC: %+v", g)
	}
	ign, _ := os.ReadFile(filepath.Join(env.Root, "proc/cio_ignore"))
	if strings.Contains(string(ign), "0.0.f500\n") {
		t.Errorf("0.0.f500 still ignored:\n%s", ign)
	}
}

func TestBlackBoxRepairsAndFailures(t *testing.T) {
	testutil.RequireRoot(t, "FUSE mounts and network namespaces for the emulated kernel")
	mk := func(read string, chpid uint8, mod func(*zkernel.Device)) []zkernel.Device {
		d, _ := zkernel.QethDevices(zkernel.KindOSD, chpid, read)
		for i := range d {
			if mod != nil {
				mod(&d[i])
			}
		}
		return d
	}
	var devs []zkernel.Device
	devs = append(devs, mk("0.0.a000", 1, nil)...)                                                                    // pre-grouped, wrong layer and port
	devs = append(devs, mk("0.0.b000", 2, func(d *zkernel.Device) { d.FailOnline = syscall.ENODEV })...)              // hardware fails
	devs = append(devs, mk("0.0.c000", 3, func(d *zkernel.Device) { d.MACInUse = []string{"02:00:00:00:c0:00"} })...) // MAC taken on the LAN
	devs = append(devs, mk("0.0.d000", 4, nil)[:2]...)                                                                // data subchannel missing
	devs = append(devs, mk("0.0.e000", 5, nil)...)                                                                    // fine
	env := zkerneltest.Start(t, zkernel.Config{
		Devices: devs,
		Groups:  []zkernel.Group{{BusIDs: [3]string{"0.0.a000", "0.0.a001", "0.0.a002"}, Layer2: 0, PortNo: 0}},
		Cmdline: "a000,1,02000000a000; b000,0,02000000b000; c000,0,02000000c000; d000,0,02000000d000; e000,0,02000000e000;",
	})
	bin := agent(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := env.Command(ctx, bin, "--root", env.Root, "--timeout", "30s", "--device-timeout", "700ms", "activate")
	var out bytes.Buffer
	cmd.Stderr, cmd.Stdout = &out, &out
	err := cmd.Run()
	t.Logf("%s", out.String())
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("want exit 1, got %v", err)
	}
	s, _ := state.Load(env.Root)
	got := map[string]state.NIC{}
	for _, n := range s.NICs {
		got[n.BusID] = n
	}
	for id, want := range map[string]string{
		"0.0.a000": "",
		"0.0.b000": "no such device: the card did not come online",
		"0.0.c000": "address already in use: another guest or host on this LAN already has it",
		"0.0.d000": "subchannels not ready after 700ms: 0.0.d002 does not exist",
		"0.0.e000": "",
	} {
		n := got[id]
		if want == "" && n.Outcome != state.OutcomeUp {
			t.Errorf("%s: %s %s", id, n.Outcome, n.Error)
		}
		if want != "" && (n.Outcome != state.OutcomeFailed || !strings.Contains(n.Error, want)) {
			t.Errorf("%s: outcome %s error %q, want %q", id, n.Outcome, n.Error, want)
		}
	}
	checkUp(t, env, map[string]string{"0.0.a000": "02:00:00:00:a0:00", "0.0.e000": "02:00:00:00:e0:00"})
	if g, _ := env.Kernel.Group("0.0.a000"); g.PortNo != 1 {
		t.Errorf("port not repaired: %+v", g)
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.Contains(line, `msg="NIC failed"`) && !strings.Contains(line, "busid=") {
			t.Errorf("failure line without bus id: %s", line)
		}
	}
	// status prints the same and exits 1.
	st := env.Command(ctx, bin, "--root", env.Root, "status")
	so, err := st.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(so), "0.0.c000") {
		t.Errorf("status: %v\n%s", err, so)
	}
	js := env.Command(ctx, bin, "--root", env.Root, "status", "--json")
	jo, _ := js.Output()
	var parsed state.State
	if err := json.Unmarshal(jo, &parsed); err != nil || len(parsed.NICs) != 5 {
		t.Errorf("status --json: %v\n%s", err, jo)
	}
}

func TestBlackBoxSlowUdevAndOnlineLayer3(t *testing.T) {
	testutil.RequireRoot(t, "FUSE mounts and network namespaces for the emulated kernel")
	a, _ := zkernel.QethDevices(zkernel.KindOSD, 1, "0.0.f500")
	b, _ := zkernel.QethDevices(zkernel.KindOSD, 2, "0.0.f600")
	env := zkerneltest.Start(t, zkernel.Config{
		Devices:     append(a, b...),
		Groups:      []zkernel.Group{{BusIDs: [3]string{"0.0.f600", "0.0.f601", "0.0.f602"}, Layer2: 0, Online: true}},
		Cmdline:     "f500,0,02000000f500; f600,0,02000000f600;",
		RenameDelay: 1500 * time.Millisecond,
	})
	r := runAgent(t, env, "activate")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1", r.code)
	}
	checkUp(t, env, map[string]string{"0.0.f500": "02:00:00:00:f5:00"})
	if g, _ := env.Kernel.Group("0.0.f600"); !g.Online || g.Layer2 != 0 {
		t.Errorf("online layer-3 group was touched: %+v", g)
	}
	if !strings.Contains(r.stderr, "online in layer 3 but layer 2 is wanted") {
		t.Error("layer-3 refusal not reported")
	}
}

func TestBlackBoxSetmac(t *testing.T) {
	testutil.RequireRoot(t, "FUSE mounts and network namespaces for the emulated kernel")
	devs, toks, want := nics(2, 0x0600, false)
	env := zkerneltest.Start(t, zkernel.Config{Devices: devs, Cmdline: strings.Join(toks, " ")})
	r := runAgent(t, env, "setmac", "0.0.0601") // a member of the first NIC
	if r.code != 0 || len(r.state.NICs) != 1 {
		t.Fatalf("exit %d nics %d", r.code, len(r.state.NICs))
	}
	r = runAgent(t, env, "setmac", "0.0.0603")
	if r.code != 0 || len(r.state.NICs) != 2 {
		t.Fatalf("exit %d nics %d", r.code, len(r.state.NICs))
	}
	checkUp(t, env, want)
	r = runAgent(t, env, "setmac", "enc600")
	if r.code != 0 || len(r.state.NICs[0].Changed) != 0 {
		t.Fatalf("by name: exit %d %+v", r.code, r.state.NICs[0])
	}
	if r := runAgent(t, env, "setmac", "0.0.0900"); r.code != 0 || !strings.Contains(r.stderr, "not listed") {
		t.Errorf("unlisted device: exit %d", r.code)
	}
	if r := runAgent(t, env, "setmac", "../x"); r.code != 3 {
		t.Errorf("bad target: exit %d", r.code)
	}
}

// A universally administered MAC is accepted with a warning and set on the
// real interface; a command line whose only tokens are rejected says how
// many were, not that none was listed.
func TestBlackBoxUniversalMACAndRejectedTokens(t *testing.T) {
	testutil.RequireRoot(t, "FUSE mounts and network namespaces for the emulated kernel")
	devs, err := zkernel.QethDevices(zkernel.KindOSD, 1, "0.0.0001")
	if err != nil {
		t.Fatal(err)
	}
	env := zkerneltest.Start(t, zkernel.Config{Devices: devs, Cmdline: "ro 0001,0,000000000011;"})
	r := runAgent(t, env, "activate")
	if r.code != 0 || !r.state.OK {
		t.Fatalf("exit %d", r.code)
	}
	checkUp(t, env, map[string]string{"0.0.0001": "00:00:00:00:00:11"})
	if !strings.Contains(r.stderr, "level=WARN") || !strings.Contains(r.stderr, "universally administered") {
		t.Errorf("no warning about the universally administered MAC")
	}

	env = zkerneltest.Start(t, zkernel.Config{Devices: devs, Cmdline: "ro 0001,0,010000000011; 0004,2;"})
	r = runAgent(t, env, "activate")
	if r.code == 0 || r.state.OK {
		t.Errorf("exit %d ok=%v: rejected tokens must fail the run", r.code, r.state.OK)
	}
	if !strings.Contains(r.stderr, "no valid NICs (2 tokens rejected)") || strings.Contains(r.stderr, "nothing to do") {
		t.Errorf("want \"no valid NICs (2 tokens rejected)\" and no \"nothing to do\"")
	}
}
