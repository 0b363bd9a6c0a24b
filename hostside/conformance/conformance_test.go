package conformance

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zguest/zguest/builder/dasd"
	"github.com/zguest/zguest/builder/xcat"
	"github.com/zguest/zguest/hostside/zvm"
	"github.com/zguest/zguest/hostside/zvmsim"
	"github.com/zguest/zguest/internal/sshdtest"
	"github.com/zguest/zguest/internal/testutil"
	"github.com/zguest/zguest/internal/tools/hostdproc"
)

// python is Debian's interpreter, the one python3-nova is installed for
// (another python3 may come first on PATH).
const python = "/usr/bin/python3"

// Glance ids of the images the steps spawn from. Neither is imported
// into the daemon before the suite runs: nova's spawn must import it.
const (
	mainImage  = "5c6e2a4e-0000-4000-8000-000000000001"
	gzip0Image = "5c6e2a4e-0000-4000-8000-000000000002"
)

// step is one driver call of the suite and what a backend expects of it.
type step struct {
	name string
	// na, when set, says why the step does not apply to the backend; it
	// is not run.
	na string
	// fails, when set, says why the step is expected to fail on the
	// backend today; the subtest checks that it fails with an error
	// containing failsWith and reports when it starts to pass.
	fails, failsWith string
}

// allSteps is nova-compute's order: start-up, the resource tracker's
// periodic task, spawn and the instance actions, snapshot, destroy; then
// a flavor with an ephemeral disk and an uncompressed xCAT image.
var allSteps = []string{
	"construct", "init_host", "get_available_nodes", "get_available_resource", "update_provider_tree",
	"get_host_uptime", "list_instances",
	"spawn", "instance_exists", "get_info", "get_console_output",
	"power_off", "power_on", "reboot_soft", "reboot_hard", "pause", "unpause",
	"snapshot", "destroy",
	"spawn_ephemeral", "destroy_ephemeral",
	"spawn_gzip0", "destroy_gzip0",
}

type image struct {
	Path     string `json:"path"`
	OSDistro string `json:"os_distro"`
}

type result struct {
	Step    string  `json:"step"`
	Seconds float64 `json:"seconds"`
	OK      bool    `json:"ok"`
	Detail  string  `json:"detail"`
	Error   string  `json:"error"`
}

// requireNova skips unless nova's driver and its tools are installed
// (make test installs them: APT_PKGS in hostside/hostside.mk).
func requireNova(t *testing.T) {
	t.Helper()
	testutil.RequireRoot(t, "the suite runs a private sshd for the daemon's scp")
	testutil.RequireTool(t, python)
	testutil.RequireTool(t, "genisoimage")
	if out, err := exec.Command(python, "-c", "import nova.virt.zvm.driver, zvmconnector").CombinedOutput(); err != nil {
		t.Skipf("needs Debian's python3-nova and python3-zvmcloudconnector: %v\n%s", err, out)
	}
}

// binDir holds the daemon built once for all the package's tests.
var (
	binDir   string
	builtBin string
)

func TestMain(m *testing.M) {
	var err error
	if binDir, err = os.MkdirTemp("", "zguest-conformance-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(binDir)
	os.Exit(code)
}

// buildDaemon builds zguest-hostd as it ships, once per test binary.
func buildDaemon(t *testing.T) string {
	t.Helper()
	if builtBin == "" {
		builtBin = testutil.GoBuild(t, filepath.Join(binDir, "zguest-hostd"), "github.com/zguest/zguest/cmd/zguest-hostd", "", "CGO_ENABLED=0")
	}
	return builtBin
}

// useSSH makes the daemon (started after this, it inherits the
// environment) log in to the private sshd with the agent's key.
func useSSH(t *testing.T, s *sshdtest.Server) {
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

// runDriver runs the harness with the steps that apply and reports each
// as a subtest.
func runDriver(t *testing.T, url string, images map[string]image, steps []step, extra ...any) {
	t.Helper()
	work := t.TempDir()
	var names []string
	want := map[string]step{}
	for _, s := range steps {
		if s.na != "" {
			t.Logf("step %s does not apply: %s", s.name, s.na)
			continue
		}
		names = append(names, s.name)
		want[s.name] = s
	}
	c := map[string]any{"url": url, "workdir": work, "my_ip": "127.0.0.1", "images": images,
		"main_image": mainImage, "gzip0_image": gzip0Image, "steps": names}
	for i := 0; i+1 < len(extra); i += 2 {
		c[extra[i].(string)] = extra[i+1]
	}
	cfg, _ := json.Marshal(c)
	cfgPath := filepath.Join(work, "harness.json")
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	logPath := filepath.Join(work, "nova.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.CommandContext(ctx, python, "novadriver.py", cfgPath)
	cmd.Stderr = logf
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	start := time.Now()
	if err := cmd.Run(); err != nil {
		b, _ := os.ReadFile(logPath)
		t.Fatalf("harness: %v\n%s\n%s", err, stdout.String(), tail(string(b), 40))
	}
	t.Logf("nova's driver ran %d steps in %v", len(names), time.Since(start).Round(time.Millisecond))
	got := map[string]result{}
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		var r result
		if strings.HasPrefix(sc.Text(), `{"step"`) && json.Unmarshal(sc.Bytes(), &r) == nil {
			got[r.Step] = r
		}
	}
	novaLog, _ := os.ReadFile(logPath)
	for _, n := range names {
		s := want[n]
		t.Run(n, func(t *testing.T) {
			r, ok := got[n]
			switch {
			case !ok:
				t.Fatalf("the harness reported nothing for %s\n%s", n, tail(string(novaLog), 30))
			case s.fails != "" && r.OK:
				t.Errorf("expected to fail (%s) but passed: %s; remove the expectation", s.fails, r.Detail)
			case s.fails != "":
				if !strings.Contains(r.Error, s.failsWith) {
					t.Errorf("expected to fail (%s) with %q, failed with: %s", s.fails, s.failsWith, r.Error)
				}
				t.Logf("fails as expected (%s): %s", s.fails, r.Error)
			case !r.OK:
				t.Errorf("%s\nnova's log for the step:\n%s", r.Error, stepLog(string(novaLog), n))
			default:
				t.Logf("ok in %.3fs: %s", r.Seconds, r.Detail)
			}
		})
	}
}

// stepLog is the nova log of a failed step: the traceback the harness
// printed, and the connector errors nova logged before it.
func stepLog(log, step string) string {
	i := strings.Index(log, "step "+step+" failed:")
	if i < 0 {
		return tail(log, 20)
	}
	j := strings.Index(log[i+1:], "\nstep ")
	end := len(log)
	if j >= 0 {
		end = i + 1 + j
	}
	before := log[:i]
	var errs []string
	for _, l := range strings.Split(before, "\n") {
		if strings.Contains(l, "ERROR nova.virt.zvm") {
			errs = append(errs, l)
		}
	}
	if len(errs) > 3 {
		errs = errs[len(errs)-3:]
	}
	return strings.Join(errs, "\n") + "\n" + log[i:end]
}

func tail(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// xcatGzip0 writes an xCAT CKD image the way creatediskimage does with
// compression level 0: the 512-byte version 2 header ("GZIP: 0" at
// offset 48, the level at 54) and then the disk's tracks in ckdencode's
// CiKaDa encoding, stored as they are.
func xcatGzip0(t *testing.T, path string, cyls int) {
	t.Helper()
	disk := make([]byte, cyls*zvm.CylinderBytes)
	copy(disk, "zguest conformance: uncompressed xCAT payload\n")
	var b bytes.Buffer
	if err := xcat.Write(&b, bytes.NewReader(disk), dasd.Disk{Cylinders: int64(cyls), Layout: dasd.LDL}, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b.Bytes()[:512], []byte("GZIP: 0")) {
		t.Fatalf("header %q", b.Bytes()[:60])
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestNovaDriverZVM: every step on the z/VM backend against the z/VM
// simulator.
func TestNovaDriverZVM(t *testing.T) {
	requireNova(t)
	ssh := sshdtest.Start(t)
	useSSH(t, ssh)
	bin := buildDaemon(t)
	dir := t.TempDir()
	sim, err := zvmsim.New(zvmsim.Options{DiskDir: filepath.Join(dir, "disks")})
	if err != nil {
		t.Fatal(err)
	}
	smapiSrv := sim.Serve(listen(t))
	t.Cleanup(func() { smapiSrv.Close() })
	cpSrv := sim.ServeCP(listen(t))
	t.Cleanup(func() { cpSrv.Close() })

	type addr struct {
		Mode    string `json:"mode,omitempty"`
		Address string `json:"address"`
	}
	var opts struct {
		SMAPI     addr   `json:"smapi"`
		CP        addr   `json:"cp"`
		ImageRepo string `json:"image_repository"`
		DiskPool  string `json:"disk_pool"`
		SSHPort   int    `json:"remotehost_sshd_port"`
	}
	opts.SMAPI = addr{Address: smapiSrv.Addr()}
	opts.CP = addr{Mode: "simulation", Address: cpSrv.Addr()}
	opts.ImageRepo, opts.DiskPool, opts.SSHPort = filepath.Join(dir, "images"), "ECKD:POOL1", ssh.Port
	d, err := hostdproc.Start(context.Background(), hostdproc.Options{Binary: bin, Dir: dir, Backend: "zvm", BackendOptions: opts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Stop)
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(d.LogTail())
		}
	})

	raw := filepath.Join(dir, "glance-main.raw")
	data := make([]byte, 8<<20)
	copy(data, "zguest conformance: raw root disk\n")
	if err := os.WriteFile(raw, data, 0o644); err != nil {
		t.Fatal(err)
	}
	gz0 := filepath.Join(dir, "glance-gzip0.img")
	xcatGzip0(t, gz0, 4)
	var steps []step
	for _, n := range allSteps {
		steps = append(steps, step{name: n})
	}
	runDriver(t, d.Client.Base, map[string]image{
		mainImage:  {Path: raw, OSDistro: "ubuntu22.04"},
		gzip0Image: {Path: gz0, OSDistro: "ubuntu22.04"},
	}, steps)
}
