package hmc

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fake is a tiny HMC: sessions, one resource, scripted failures.
type fake struct {
	mu       sync.Mutex
	sessions map[string]bool
	n        int
	logons   int
	logoffs  int
	busy     int // answer 409/2 this many times
	expire   bool
	jobPolls int
	jobFail  bool
}

func (f *fake) handler(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fail := func(status, reason int, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"http-status": status, "reason": reason, "message": msg, "request-method": r.Method, "request-uri": r.URL.Path})
	}
	if r.URL.Path == "/api/sessions" && r.Method == http.MethodPost {
		var b map[string]string
		json.NewDecoder(r.Body).Decode(&b)
		if b["userid"] != "admin" || b["password"] != "s3cret-pw" {
			fail(403, 0, "logon failed")
			return
		}
		f.n++
		f.logons++
		id := fmt.Sprintf("sess%d", f.n)
		f.sessions[id] = true
		json.NewEncoder(w).Encode(map[string]any{"api-session": id, "api-major-version": 4, "api-minor-version": 10})
		return
	}
	s := r.Header.Get("X-API-Session")
	if s == "" {
		fail(403, 4, "no session")
		return
	}
	if f.expire {
		f.expire = false
		delete(f.sessions, s)
	}
	if !f.sessions[s] {
		fail(403, 5, "session not valid")
		return
	}
	if f.busy > 0 {
		f.busy--
		fail(409, 2, "busy")
		return
	}
	switch {
	case r.URL.Path == "/api/sessions/this-session" && r.Method == http.MethodDelete:
		delete(f.sessions, s)
		f.logoffs++
		w.WriteHeader(204)
	case r.URL.Path == "/api/thing" && r.Method == http.MethodGet:
		json.NewEncoder(w).Encode(map[string]any{"name": "thing"})
	case r.URL.Path == "/api/partitions/p1/operations/start":
		w.WriteHeader(202)
		json.NewEncoder(w).Encode(map[string]any{"job-uri": "/api/jobs/j1"})
	case r.URL.Path == "/api/jobs/j1" && r.Method == http.MethodGet:
		f.jobPolls++
		switch {
		case f.jobPolls < 3:
			json.NewEncoder(w).Encode(map[string]any{"status": "running"})
		case f.jobFail:
			json.NewEncoder(w).Encode(map[string]any{"status": "complete", "job-status-code": 500, "job-reason-code": 263, "job-results": map[string]any{"message": "boot failed"}})
		default:
			json.NewEncoder(w).Encode(map[string]any{"status": "complete", "job-status-code": 204, "job-results": nil})
		}
	case r.URL.Path == "/api/jobs/j1" && r.Method == http.MethodDelete:
		w.WriteHeader(204)
	default:
		fail(404, 1, "no such object")
	}
}

func start(t *testing.T) (*fake, *Client, *bytes.Buffer) {
	t.Helper()
	f := &fake{sessions: map[string]bool{}}
	srv := httptest.NewTLSServer(http.HandlerFunc(f.handler))
	t.Cleanup(srv.Close)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	var logs bytes.Buffer
	c, err := New(Config{URL: srv.URL, CA: ca, UserID: "admin", Password: "s3cret-pw", Backoff: time.Millisecond,
		Log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	return f, c, &logs
}

func TestLogonReuseRelogonLogoff(t *testing.T) {
	f, c, logs := start(t)
	ctx := context.Background()
	var v map[string]string
	for i := 0; i < 3; i++ {
		if err := c.Get(ctx, "/api/thing", &v); err != nil || v["name"] != "thing" {
			t.Fatalf("get: %v %v", v, err)
		}
	}
	if f.logons != 1 {
		t.Errorf("%d logons, want 1 (session reuse)", f.logons)
	}
	if ma, mi := c.APIVersion(); ma != 4 || mi != 10 {
		t.Errorf("version %d.%d", ma, mi)
	}
	f.mu.Lock()
	f.expire = true
	f.mu.Unlock()
	if err := c.Get(ctx, "/api/thing", &v); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	if f.logons != 2 {
		t.Errorf("%d logons, want 2 (re-logon on 403/5)", f.logons)
	}
	if err := c.Close(ctx); err != nil || f.logoffs != 1 {
		t.Errorf("close: %v, %d logoffs", err, f.logoffs)
	}
	if c.Calls() != 8 { // logon, 3 gets, refused get, logon, get, logoff
		t.Errorf("%d calls, want 8", c.Calls())
	}
	if strings.Contains(logs.String(), "s3cret-pw") || strings.Contains(logs.String(), "sess1") {
		t.Errorf("credentials or session id logged:\n%s", logs)
	}
}

func TestErrorKeepsHMCFieldsAndNoPassword(t *testing.T) {
	_, c, _ := start(t)
	err := c.Get(context.Background(), "/api/nothing", nil)
	var e *Error
	if !errors.As(err, &e) || e.HTTPStatus != 404 || e.Reason != 1 || e.Message != "no such object" || e.Method != "GET" || e.URI != "/api/nothing" {
		t.Fatalf("got %#v", err)
	}
	if !errors.Is(err, Code(404, 1)) || errors.Is(err, Code(409, 1)) {
		t.Error("errors.Is by code")
	}
	c.pass = "wrong"
	c.session = ""
	err = c.Get(context.Background(), "/api/thing", nil)
	if err == nil || strings.Contains(fmt.Sprintf("%v %#v", err, err), "wrong") {
		t.Errorf("logon failure: %v", err)
	}
}

func TestBusyRetried(t *testing.T) {
	f, c, _ := start(t)
	f.busy = 3
	if err := c.Get(context.Background(), "/api/thing", nil); err != nil {
		t.Fatalf("busy x3: %v", err)
	}
	f.busy = 100
	err := c.Get(context.Background(), "/api/thing", nil)
	if !errors.Is(err, Code(409, 2)) {
		t.Fatalf("busy forever: %v", err)
	}
}

func TestJobs(t *testing.T) {
	f, c, _ := start(t)
	ctx := context.Background()
	job, err := c.StartJob(ctx, "/api/partitions/p1/operations/start", nil)
	if err != nil || job != "/api/jobs/j1" {
		t.Fatalf("start: %q %v", job, err)
	}
	if err := c.WaitJob(ctx, job, time.Millisecond, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	f.jobPolls, f.jobFail = 0, true
	err = c.WaitJob(ctx, job, time.Millisecond, 5*time.Second)
	var e *Error
	if !errors.As(err, &e) || e.HTTPStatus != 500 || e.Reason != 263 || !strings.Contains(e.Message, "boot failed") {
		t.Fatalf("failed job: %v", err)
	}
	f.jobPolls = -1 << 30
	err = c.WaitJob(ctx, job, time.Millisecond, 50*time.Millisecond)
	if !errors.As(err, &e) || e.HTTPStatus != 0 || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("timeout: %v", err)
	}
}

func TestTLSVerified(t *testing.T) {
	if _, err := New(Config{URL: "https://h", UserID: "u"}); err == nil {
		t.Error("no CA accepted")
	}
	if _, err := New(Config{URL: "http://h", CA: []byte("x"), UserID: "u"}); err == nil {
		t.Error("plain http accepted")
	}
	f := &fake{sessions: map[string]bool{}}
	srv := httptest.NewTLSServer(http.HandlerFunc(f.handler))
	defer srv.Close()
	// A CA that is not the server's: the certificate must be refused.
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "other CA"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	c, err := New(Config{URL: srv.URL, CA: ca, UserID: "admin", Password: "s3cret-pw", Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Get(context.Background(), "/api/thing", nil)
	var e *Error
	if !errors.As(err, &e) || e.HTTPStatus != 0 || f.logons != 0 {
		t.Fatalf("untrusted server: %v", err)
	}
}
