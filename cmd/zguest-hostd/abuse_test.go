package main

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zguest/zguest/hostside/api/apitest"
	"github.com/zguest/zguest/hostside/zvmsim"
)

// The abuse and fault suite: the built daemon on the zvm backend
// against an in-process simulator, on loopback, driven as a hostile or
// careless caller would. Every loop is bounded. Each test is a finding
// of the hardening issue that the daemon failed before.

type abuseRig struct {
	t      *testing.T
	bin    string
	dir    string // source_dirs and the daemon's files
	cfg    string
	port   int
	cmd    *exec.Cmd
	stderr *syncBuffer
	cl     *apitest.Client
}

// newAbuseRig builds the daemon, starts a simulator and writes a
// configuration with extra top-level settings (JSON members, with a
// trailing comma).
func newAbuseRig(t *testing.T, extra string) *abuseRig {
	t.Helper()
	r := &abuseRig{t: t, bin: build(t), dir: t.TempDir(), port: freePort(t), stderr: &syncBuffer{}}
	sim, err := zvmsim.New(zvmsim.Options{DiskDir: filepath.Join(r.dir, "disks"), UserID: "ADMIN", Password: "s3cret",
		Pools: []zvmsim.Pool{{Name: "POOL1", Type: "ECKD", Capacity: 200 << 30}}})
	if err != nil {
		t.Fatal(err)
	}
	listen := func() net.Listener {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	smapiSrv := sim.Serve(listen())
	t.Cleanup(func() { smapiSrv.Close() })
	cpSrv := sim.ServeCP(listen())
	t.Cleanup(func() { cpSrv.Close() })
	pw := filepath.Join(r.dir, "smapi.pw")
	os.WriteFile(pw, []byte("s3cret\n"), 0o600)
	r.cfg = filepath.Join(r.dir, "hostd.json")
	os.WriteFile(r.cfg, fmt.Appendf(nil, `{"listen":"127.0.0.1:%d",%s"backend":"zvm","state_dir":%q,"source_dirs":[%q],"backend_options":{
		"smapi":{"address":%q,"userid":"ADMIN","password_file":%q},
		"cp":{"mode":"simulation","address":%q},
		"image_repository":%q,"disk_pool":"ECKD:POOL1"}}`,
		r.port, extra, filepath.Join(r.dir, "state"), r.dir, smapiSrv.Addr(), pw, cpSrv.Addr(), filepath.Join(r.dir, "images")), 0o600)
	r.cl = &apitest.Client{Base: fmt.Sprintf("http://127.0.0.1:%d", r.port)}
	r.start()
	t.Cleanup(func() { r.cmd.Process.Kill(); r.cmd.Wait() })
	return r
}

func (r *abuseRig) start() {
	r.t.Helper()
	r.cmd = exec.Command(r.bin, "--config", r.cfg)
	r.cmd.Stderr = r.stderr
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	for range 400 {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", r.port))
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	r.t.Fatalf("daemon never listened\n%s", r.stderr.String())
}

func (r *abuseRig) ok(what string, rep *apitest.Reply, err error) {
	r.t.Helper()
	if err != nil || rep.Status != 200 || rep.OverallRC != 0 {
		raw := ""
		if rep != nil {
			raw = string(rep.Raw)
		}
		r.t.Fatalf("%s: %v %s\n%s", what, err, raw, r.stderr.String())
	}
}

// file writes a file under the rig's source directory.
func (r *abuseRig) file(name string, size int64) string {
	p := filepath.Join(r.dir, name)
	f, err := os.Create(p)
	if err != nil {
		r.t.Fatal(err)
	}
	f.Write([]byte("abuse"))
	if err := f.Truncate(size); err != nil {
		r.t.Fatal(err)
	}
	f.Close()
	return p
}

// peakRSS is the daemon's VmHWM in bytes.
func (r *abuseRig) peakRSS() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", r.cmd.Process.Pid))
	if err != nil {
		r.t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	r.t.Fatal("no VmHWM")
	return 0
}

// TestAbuseFIFOTransportFiles: 20 deploys whose transportfiles are FIFOs
// nobody writes, clients gone after 2 s; later deploys still get a slot
// and DELETE of such a guest does not hang.
func TestAbuseFIFOTransportFiles(t *testing.T) {
	r := newAbuseRig(t, "")
	ctx := context.Background()
	rep, err := r.cl.ImageImport(ctx, "img", "file://"+r.file("img.raw", 1<<20), map[string]any{"os_version": "rhel9"}, "")
	r.ok("import", rep, err)
	var wg sync.WaitGroup
	for i := range 20 {
		user := fmt.Sprintf("FIFO%02d", i)
		rep, err := r.cl.GuestCreate(ctx, user, 1, 512, []map[string]any{{"size": "10m", "is_boot_disk": true}})
		r.ok("create "+user, rep, err)
		fifo := filepath.Join(r.dir, fmt.Sprintf("cfg%02d.iso", i))
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			rep, err := r.cl.GuestDeploy(cctx, user, "img", fifo, "")
			if err == nil && (rep.Status != 400 || !strings.Contains(rep.ErrMsg, "FIFO")) {
				t.Errorf("deploy %s with a FIFO: %s", user, rep.Raw)
			}
		}()
	}
	wg.Wait()
	iso := r.file("cfgdrive.iso", 4096)
	rep, err = r.cl.GuestCreate(ctx, "LATER", 1, 512, []map[string]any{{"size": "10m", "is_boot_disk": true}})
	r.ok("create LATER", rep, err)
	rep, err = r.cl.GuestDeploy(ctx, "LATER", "img", iso, "")
	r.ok("deploy after the FIFO deploys", rep, err)
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	rep, err = r.cl.GuestDelete(dctx, "FIFO00")
	r.ok("delete of a FIFO guest", rep, err)
}

// TestAbuseHostileBodies: 100 concurrent POST /guests with 1 MiB bodies
// (349k empty comments) are refused and the daemon's peak RSS stays
// under 150 MiB (it reached 2.99 GB before).
func TestAbuseHostileBodies(t *testing.T) {
	r := newAbuseRig(t, "")
	body := []byte(`{"guest":{"userid":"g1","vcpus":1,"memory":1024,"comments":[` + strings.Repeat(`"",`, 349_000) + `""]}}`)
	var wg sync.WaitGroup
	codes := make(chan int, 100)
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rep, err := r.cl.Raw(context.Background(), "POST", "/guests", http.Header{"Content-Type": {"application/json"}}, body)
			if err != nil {
				codes <- -1
				return
			}
			codes <- rep.Status
		}()
	}
	wg.Wait()
	close(codes)
	n := map[int]int{}
	for c := range codes {
		n[c]++
	}
	// -1: the daemon answered 413 and closed the connection while the
	// client was still sending (connection reset): refused too.
	if n[413]+n[503]+n[-1] != 100 || n[413] == 0 {
		t.Errorf("answers %v, want all refused (413, 503 or a reset)", n)
	}
	if rss := r.peakRSS(); rss > 150<<20 {
		t.Errorf("peak RSS %d MiB under 100 hostile bodies, want < 150 MiB", rss>>20)
	} else {
		t.Logf("peak RSS %d MiB", rss>>20)
	}
}

// TestAbuseSlowBody: headers, then one body byte every 2 s: the daemon
// answers 408 and closes the connection after body_read_timeout.
func TestAbuseSlowBody(t *testing.T) {
	r := newAbuseRig(t, `"body_read_timeout":2,`)
	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", r.port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /guests HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000\r\n\r\n")
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for range 30 {
			select {
			case <-stop:
				return
			case <-time.After(time.Second):
				conn.Write([]byte(" "))
			}
		}
	}()
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("slow body: no answer: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("slow body: HTTP %d, want 408", resp.StatusCode)
	}
	if _, err := conn.Read(make([]byte, 1)); err == nil {
		t.Error("connection still open")
	}
}

// TestAbuseKillDuringImport: SIGKILL while a 1 GiB import is copying;
// after the restart neither a partial file nor an unrecorded image
// directory is left, and the import succeeds.
func TestAbuseKillDuringImport(t *testing.T) {
	r := newAbuseRig(t, "")
	ctx := context.Background()
	src := r.file("big.raw", 1<<30)
	go r.cl.ImageImport(ctx, "big", "file://"+src, map[string]any{"os_version": "rhel9"}, "")
	staging := filepath.Join(r.dir, "images", ".staging")
	killed := false
	for range 4000 {
		ents, _ := os.ReadDir(staging)
		if len(ents) > 0 {
			if fi, err := os.Stat(filepath.Join(staging, ents[0].Name(), "0100")); err == nil && fi.Size() > 0 {
				r.cmd.Process.Kill()
				r.cmd.Wait()
				killed = true
				break
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	if !killed {
		t.Fatalf("the import never started copying\n%s", r.stderr.String())
	}
	r.start()
	rep, err := r.cl.Raw(ctx, "GET", "/images", nil, nil)
	r.ok("query", rep, err)
	if string(rep.Output) != "[]" {
		t.Errorf("images after the killed import: %s", rep.Output)
	}
	if ents, _ := os.ReadDir(staging); len(ents) != 0 {
		t.Errorf("staging holds %d entries after the restart", len(ents))
	}
	if _, err := os.Stat(filepath.Join(r.dir, "images", "netboot", "rhel9", "big")); !os.IsNotExist(err) {
		t.Errorf("image directory after the restart: %v", err)
	}
	rep, err = r.cl.ImageImport(ctx, "big", "file://"+r.file("small.raw", 1<<20), map[string]any{"os_version": "rhel9"}, "")
	r.ok("import after the restart", rep, err)
}

func signJWT(key, payload string) string {
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	s := h + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(s))
	return s + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// TestAbuseHostFilesAndTokens, in token mode: /etc/shadow and
// /proc/self/environ as an import or transportfiles, relative and ".."
// paths, a symlink out of source_dirs are refused naming the path and
// the setting; a JWT without exp is refused; NUL and 300-byte image
// names are 400s naming the field; 200 wrong admin tokens are throttled
// and logged once.
func TestAbuseHostFilesAndTokens(t *testing.T) {
	tokFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokFile, []byte("admin-s3cret\n"), 0o600)
	r := newAbuseRig(t, fmt.Sprintf(`"auth":"token","token_path":%q,`, tokFile))
	r.cl.AdminToken = "admin-s3cret"
	ctx := context.Background()
	rep, err := r.cl.GuestCreate(ctx, "LINUX01", 1, 512, []map[string]any{{"size": "10m", "is_boot_disk": true}})
	r.ok("create", rep, err)
	rep, err = r.cl.ImageImport(ctx, "img", "file://"+r.file("img.raw", 1<<20), map[string]any{"os_version": "rhel9"}, "")
	r.ok("import", rep, err)
	os.Symlink("/etc/shadow", filepath.Join(r.dir, "shadow-link"))
	for _, p := range []string{"/etc/shadow", "/proc/self/environ", r.dir + "/../../etc/shadow", filepath.Join(r.dir, "shadow-link")} {
		rep, err := r.cl.ImageImport(ctx, "leak", "file://"+p, map[string]any{"os_version": "rhel9"}, "")
		if err != nil || rep.Status != 400 || !strings.Contains(rep.ErrMsg, p) {
			t.Errorf("import of %s: %v %s", p, err, rep.Raw)
		}
		rep, err = r.cl.GuestDeploy(ctx, "LINUX01", "img", p, "")
		if err != nil || rep.Status != 400 || !strings.Contains(rep.ErrMsg, p) {
			t.Errorf("transportfiles %s: %v %s", p, err, rep.Raw)
		}
	}
	rep, err = r.cl.ImageImport(ctx, "leak", "file:///etc/shadow", map[string]any{"os_version": "rhel9"}, "")
	if err != nil || !strings.Contains(rep.ErrMsg, "source_dirs") {
		t.Errorf("refusal does not name the setting: %s", rep.Raw)
	}
	rep, err = r.cl.GuestDeploy(ctx, "LINUX01", "img", "cfgdrive.iso", "")
	if err != nil || rep.Status != 400 {
		t.Errorf("relative transportfiles: %v %s", err, rep.Raw)
	}
	rep, err = r.cl.Raw(ctx, "GET", "/images", nil, nil)
	if err != nil || strings.Contains(string(rep.Output), "leak") {
		t.Errorf("a refused import was recorded: %s", rep.Raw)
	}
	for _, name := range []string{"a\x00b", strings.Repeat("n", 300)} {
		rep, err := r.cl.ImageImport(ctx, name, "file://"+filepath.Join(r.dir, "img.raw"), map[string]any{"os_version": "rhel9"}, "")
		if err != nil || rep.Status != 400 || !strings.Contains(rep.ErrMsg, "image_name") {
			t.Errorf("image_name %q: %v %s", name[:3], err, rep.Raw)
		}
	}
	noExp := signJWT("admin-s3cret", `{"sub":"x"}`)
	rep, err = r.cl.Raw(ctx, "GET", "/guests", http.Header{"X-Auth-Token": {noExp}}, nil)
	if err != nil || rep.Status != 401 {
		t.Errorf("JWT without exp: %v %s", err, rep.Raw)
	}
	r.cl.AdminToken = ""
	codes := map[int]int{}
	for range 200 {
		rep, _, err := r.cl.Token(ctx, "wrong")
		if err != nil {
			t.Fatal(err)
		}
		codes[rep.Status]++
	}
	if codes[429] < 190 {
		t.Errorf("wrong admin tokens answered %v, want throttled (429)", codes)
	}
	if n := strings.Count(r.stderr.String(), "token refused"); n != 1 {
		t.Errorf("%d 'token refused' log lines for 200 attempts, want 1", n)
	}
}
