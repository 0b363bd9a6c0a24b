package daemon

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/api/apitest"
	"github.com/zguest/zguest/hostside/store"
)

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig([]byte(`{"backend":"zvm"}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != DefaultListen || c.Auth != "none" || c.MaxConcurrentDeployCapture != 20 || c.TokenValidationPeriod != 3600 || c.StateDir != DefaultStateDir {
		t.Errorf("defaults %+v", c)
	}
	for in, want := range map[string]string{
		`{"backend":"zvm","lisen":"x"}`:    `unknown field "lisen"`,
		`{"backend":"zvm","auth":"basic"}`: `"auth" is "basic"`,
		`{"backend":"zvm","tls_cert":"c"}`: `"tls_cert" and "tls_key" go together`,
		`{}`:                               `"backend" is not set`,
		`{"backend":"zvm","max_concurrent_deploy_capture":"x"}`: "cannot unmarshal",
	} {
		if _, err := ParseConfig([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", in, err, want)
		}
	}
}

func TestListenPolicy(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string // "" = allowed
	}{
		{Config{Listen: "127.0.0.1:8080", Auth: "none"}, ""},
		{Config{Listen: "[::1]:8080", Auth: "none"}, ""},
		{Config{Listen: "localhost:8080", Auth: "none"}, ""},
		{Config{Listen: ":8080", Auth: "none"}, `every interface`},
		{Config{Listen: "0.0.0.0:8080", Auth: "token"}, `set "tls_cert" and "tls_key", or`},
		{Config{Listen: "10.1.2.3:8080", Auth: "none", TLSCert: "c", TLSKey: "k"}, `set "auth": "token"`},
		{Config{Listen: "zvm.example.org:8080", Auth: "none"}, `"tls_cert" and "tls_key" and "auth": "token"`},
		{Config{Listen: "0.0.0.0:8080", Auth: "token", TLSCert: "c", TLSKey: "k"}, ""},
		{Config{Listen: "nonsense", Auth: "none"}, `missing port`},
	} {
		err := c.cfg.CheckListen()
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s auth=%s tls=%v: %v, want %q", c.cfg.Listen, c.cfg.Auth, c.cfg.TLSCert != "", err, c.want)
		}
	}
}

// storedFake is a backend for restart tests: the fake, seeded from the
// store, recording created guests in it as a real backend does.
type storedFake struct {
	*apitest.Fake
	st *store.Store
}

func (s storedFake) CreateGuest(ctx context.Context, g api.GuestSpec) ([]api.Disk, error) {
	d, err := s.Fake.CreateGuest(ctx, g)
	if err == nil {
		err = s.st.PutGuest(store.Guest{UserID: g.UserID, Progress: store.Created})
	}
	return d, err
}

func storedFactory(ctx context.Context, env BackendEnv) (api.Backend, error) {
	f := apitest.NewFake()
	gs, err := env.Store.Guests()
	if err != nil {
		return nil, err
	}
	for _, g := range gs {
		f.CreateGuest(ctx, api.GuestSpec{UserID: g.UserID, VCPUs: 1, Memory: 512})
	}
	return storedFake{f, env.Store}, nil
}

type running struct {
	addr   string
	cancel context.CancelFunc
	done   chan error
	notes  *notes
	logs   *syncBuf
}

type notes struct {
	mu sync.Mutex
	l  []string
}

func (n *notes) add(s string) error { n.mu.Lock(); n.l = append(n.l, s); n.mu.Unlock(); return nil }
func (n *notes) has(s string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, x := range n.l {
		if x == s {
			return true
		}
	}
	return false
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func start(t *testing.T, cfg *Config) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1), notes: &notes{}, logs: &syncBuf{}}
	ready := make(chan string, 1)
	go func() {
		r.done <- Run(ctx, cfg, Deps{
			Logger:   slog.New(slog.NewTextHandler(r.logs, nil)),
			Backends: map[string]BackendFactory{"stored": storedFactory},
			Version:  "test", Notify: r.notes.add,
			Ready: func(a net.Addr) { ready <- a.String() },
		})
	}()
	select {
	case r.addr = <-ready:
	case err := <-r.done:
		t.Fatalf("Run: %v", err)
	}
	t.Cleanup(func() { cancel() })
	return r
}

func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	if err := <-r.done; err != nil {
		t.Fatalf("Run after stop: %v", err)
	}
}

// TestRestartReadsStore: a guest created before a restart is listed
// after it; READY=1 and STOPPING=1 are sent.
func TestRestartReadsStore(t *testing.T) {
	dir := t.TempDir()
	cfg := &Config{Listen: "127.0.0.1:0", Backend: "stored", StateDir: dir}
	cfg.defaults()
	ctx := context.Background()

	r := start(t, cfg)
	cl := &apitest.Client{Base: "http://" + r.addr}
	if rep, err := cl.GuestCreate(ctx, "keep1", 1, 512, nil); err != nil || rep.Status != 200 {
		t.Fatalf("create: %v %+v", err, rep)
	}
	if !r.notes.has("READY=1") {
		t.Error("no READY=1")
	}
	r.stop(t)
	if !r.notes.has("STOPPING=1") {
		t.Error("no STOPPING=1")
	}

	r = start(t, cfg)
	cl = &apitest.Client{Base: "http://" + r.addr}
	rep, err := cl.GuestList(ctx)
	if err != nil || string(rep.Output) != `["KEEP1"]` {
		t.Errorf("after restart: %v %s", err, rep.Raw)
	}
	r.stop(t)
}

// TestGracefulShutdown: a request in flight when the daemon is told to
// stop finishes; new connections are refused.
func TestGracefulShutdown(t *testing.T) {
	f := apitest.NewFake()
	f.Delay("HostInfo", 300*time.Millisecond)
	cfg := &Config{Listen: "127.0.0.1:0", Backend: "slow", StateDir: t.TempDir()}
	cfg.defaults()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, cfg, Deps{Backends: map[string]BackendFactory{"slow": func(context.Context, BackendEnv) (api.Backend, error) { return f, nil }},
			Notify: func(string) error { return nil }, Ready: func(a net.Addr) { ready <- a.String() }})
	}()
	addr := <-ready
	cl := &apitest.Client{Base: "http://" + addr}
	got := make(chan *apitest.Reply, 1)
	go func() { r, _ := cl.HostGetInfo(context.Background()); got <- r }()
	time.Sleep(100 * time.Millisecond)
	cancel()
	r := <-got
	if r == nil || r.Status != 200 {
		t.Errorf("in-flight request: %+v", r)
	}
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("still accepting after shutdown")
	}
}

// TestWatchdog: with WATCHDOG_USEC set, WATCHDOG=1 is sent at half the
// interval.
func TestWatchdog(t *testing.T) {
	t.Setenv("WATCHDOG_USEC", "100000")
	t.Setenv("WATCHDOG_PID", "")
	cfg := &Config{Listen: "127.0.0.1:0", Backend: "stored", StateDir: t.TempDir()}
	cfg.defaults()
	r := start(t, cfg)
	time.Sleep(300 * time.Millisecond)
	r.notes.mu.Lock()
	n := 0
	for _, s := range r.notes.l {
		if s == "WATCHDOG=1" {
			n++
		}
	}
	r.notes.mu.Unlock()
	if n < 3 {
		t.Errorf("%d WATCHDOG=1 in 300ms at a 100ms interval", n)
	}
	r.stop(t)
}

// TestTLSAndTokenOnAllInterfaces: the policy allows 0.0.0.0 with TLS
// and token auth, and both are in force.
func TestTLSAndTokenOnAllInterfaces(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM := selfSigned(t)
	os.WriteFile(filepath.Join(dir, "cert.pem"), certPEM, 0o600)
	os.WriteFile(filepath.Join(dir, "key.pem"), keyPEM, 0o600)
	tokPath := filepath.Join(dir, "token")
	os.WriteFile(tokPath, []byte("admin-XYZ\n"), 0o644)
	cfg := &Config{Listen: "0.0.0.0:0", Backend: "stored", StateDir: dir, Auth: "token", TokenPath: tokPath,
		TLSCert: filepath.Join(dir, "cert.pem"), TLSKey: filepath.Join(dir, "key.pem")}
	cfg.defaults()
	err := Run(context.Background(), cfg, Deps{Backends: map[string]BackendFactory{"stored": storedFactory}})
	if err == nil || !strings.Contains(err.Error(), "readable by others") {
		t.Fatalf("world-readable token file: %v", err)
	}
	os.Chmod(tokPath, 0o600)

	r := start(t, cfg)
	_, port, _ := net.SplitHostPort(r.addr)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}}}
	cl := &apitest.Client{Base: "https://127.0.0.1:" + port, HTTP: hc}
	ctx := context.Background()
	if rep, err := cl.GuestList(ctx); err != nil || rep.Status != 401 {
		t.Errorf("without token: %v %+v", err, rep)
	}
	cl.AdminToken = "admin-XYZ"
	if rep, err := cl.GuestList(ctx); err != nil || rep.Status != 200 {
		t.Errorf("with token: %v %+v", err, rep)
	}
	plain := &apitest.Client{Base: "http://127.0.0.1:" + port}
	if rep, err := plain.GuestList(ctx); err == nil && rep.Status == 200 {
		t.Error("plain HTTP served on the TLS port")
	}
	r.stop(t)
	if strings.Contains(r.logs.String(), "admin-XYZ") {
		t.Errorf("admin token in the log:\n%s", r.logs.String())
	}
}

func TestRunRefusals(t *testing.T) {
	cfg := &Config{Listen: "0.0.0.0:0", Backend: "stored", StateDir: t.TempDir()}
	cfg.defaults()
	if err := Run(context.Background(), cfg, Deps{}); err == nil || !strings.Contains(err.Error(), "refusing to listen") {
		t.Errorf("non-loopback: %v", err)
	}
	cfg.Listen = "127.0.0.1:0"
	cfg.Backend = "nosuch"
	if err := Run(context.Background(), cfg, Deps{Backends: map[string]BackendFactory{"stored": storedFactory}}); err == nil || !strings.Contains(err.Error(), `"backend" "nosuch" is not one of: stored`) {
		t.Errorf("unknown backend: %v", err)
	}
	cfg.Backend = "broken"
	boom := errors.New("SMAPI unreachable")
	err := Run(context.Background(), cfg, Deps{Backends: map[string]BackendFactory{"broken": func(context.Context, BackendEnv) (api.Backend, error) { return nil, boom }}})
	if !errors.Is(err, boom) {
		t.Errorf("backend failure: %v", err)
	}
}

func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}
