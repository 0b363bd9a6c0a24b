// Package hmc is a small client of the HMC Web Services API (reference
// docs/facts/dpm.md §3): logon with session reuse, a transparent
// re-logon when the HMC says the session is no longer valid (403 reason 4
// or 5, once per request), logoff on Close, TLS verified against a
// configured CA only, retries with backoff on transient failures (409
// reason 2 "busy", connection resets), asynchronous job polling with a
// bounded timeout, and errors that keep the HMC's status, reason and
// message (*Error).
//
// The client never logs the password or the session id; its log lines
// name the method, URI, status and duration only.
package hmc

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Config configures a Client.
type Config struct {
	URL      string // "https://hmc.example.com:6794"
	CA       []byte // PEM certificates the HMC's certificate must chain to
	UserID   string
	Password string
	// Timeout bounds one HTTP round trip; 0 means 60s.
	Timeout time.Duration
	// Retries is how many times a busy (409/2) answer or a connection
	// reset is retried; 0 means 5, negative means none.
	Retries int
	// Backoff is the first retry delay, doubled each time; 0 means 200ms.
	Backoff time.Duration
	Log     *slog.Logger // nil discards
}

// Client talks to one HMC. It is safe for concurrent use; all requests
// share one session.
type Client struct {
	base    *url.URL
	http    *http.Client
	user    string
	pass    string
	retries int
	backoff time.Duration
	log     *slog.Logger

	mu      sync.Mutex // guards session, version; held during logon
	session string
	major   int
	minor   int

	calls atomic.Int64
}

// New checks cfg and returns a client; it does not log on yet.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("hmc: URL %q: want https://host[:port]", cfg.URL)
	}
	if u.Port() == "" {
		u.Host += ":6794"
	}
	if len(cfg.CA) == 0 {
		return nil, errors.New("hmc: a CA certificate is required (TLS to the HMC is always verified)")
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(cfg.CA) {
		return nil, errors.New("hmc: the CA file holds no PEM certificate")
	}
	if cfg.UserID == "" {
		return nil, errors.New("hmc: userid is required")
	}
	c := &Client{base: u, user: cfg.UserID, pass: cfg.Password, retries: cfg.Retries, backoff: cfg.Backoff, log: cfg.Log}
	if c.retries == 0 {
		c.retries = 5
	} else if c.retries < 0 {
		c.retries = 0
	}
	if c.backoff == 0 {
		c.backoff = 200 * time.Millisecond
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	to := cfg.Timeout
	if to == 0 {
		to = 60 * time.Second
	}
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		MaxIdleConnsPerHost: 32,
		IdleConnTimeout:     90 * time.Second,
	}
	c.http = &http.Client{Transport: tr, Timeout: to}
	return c, nil
}

// Calls is the number of HTTP requests sent so far (logon, retries and
// job polls included).
func (c *Client) Calls() int64 { return c.calls.Load() }

// APIVersion is the HMC's API version from the last logon (0.0 before).
func (c *Client) APIVersion() (major, minor int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.major, c.minor
}

// AtLeast reports whether the API version is major.minor or later,
// logging on first if needed.
func (c *Client) AtLeast(ctx context.Context, major, minor int) (bool, error) {
	if _, err := c.ensureSession(ctx, ""); err != nil {
		return false, err
	}
	ma, mi := c.APIVersion()
	return ma > major || ma == major && mi >= minor, nil
}

// Error is a failed HMC request: the HMC's HTTP status, reason code and
// message, and the request. Status 0 means the HMC was not reached.
type Error struct {
	HTTPStatus int
	Reason     int
	Message    string
	Method     string
	URI        string
	Err        error // transport error, if any
}

func (e *Error) Error() string {
	if e.HTTPStatus == 0 {
		return fmt.Sprintf("HMC unreachable: %s %s: %v", e.Method, e.URI, e.Err)
	}
	return fmt.Sprintf("HMC %d,%d: %s [%s %s]", e.HTTPStatus, e.Reason, e.Message, e.Method, e.URI)
}

func (e *Error) Unwrap() error { return e.Err }

// Is matches another *Error by HTTPStatus and Reason (a zero field
// matches anything), so errors.Is(err, &hmc.Error{HTTPStatus: 409, Reason: 1}) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok {
		return false
	}
	return (t.HTTPStatus == 0 || t.HTTPStatus == e.HTTPStatus) && (t.Reason == 0 || t.Reason == e.Reason)
}

// Code returns an *Error for errors.Is: Code(404, 1) matches "not found".
func Code(status, reason int) error { return &Error{HTTPStatus: status, Reason: reason} }

// IsStatus reports whether err is an HMC error with that HTTP status.
func IsStatus(err error, status int) bool {
	var e *Error
	return errors.As(err, &e) && e.HTTPStatus == status
}

// errorBody is the HMC's standard error response body.
type errorBody struct {
	HTTPStatus int    `json:"http-status"`
	Reason     int    `json:"reason"`
	Message    string `json:"message"`
}

// Response is a successful answer.
type Response struct {
	Status   int
	Location string
	Body     []byte
}

// Decode unmarshals the body into v.
func (r *Response) Decode(v any) error {
	if len(r.Body) == 0 {
		return errors.New("hmc: empty response body")
	}
	return json.Unmarshal(r.Body, v)
}

// Get is GET uri; v (if not nil) receives the JSON body.
func (c *Client) Get(ctx context.Context, uri string, v any) error {
	r, err := c.Do(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return err
	}
	if v != nil {
		return r.Decode(v)
	}
	return nil
}

// Post is POST uri with body (nil: no body).
func (c *Client) Post(ctx context.Context, uri string, body any) (*Response, error) {
	return c.Do(ctx, http.MethodPost, uri, body)
}

// Delete is DELETE uri.
func (c *Client) Delete(ctx context.Context, uri string) error {
	_, err := c.Do(ctx, http.MethodDelete, uri, nil)
	return err
}

// Do sends one request with the session, logging on first if needed; a
// 403 reason 4 or 5 logs on again and repeats the request once; a 409
// reason 2 or a connection reset is retried with backoff.
func (c *Client) Do(ctx context.Context, method, uri string, body any) (*Response, error) {
	var data []byte
	if body != nil {
		var err error
		if data, err = json.Marshal(body); err != nil {
			return nil, fmt.Errorf("hmc: %s %s: encode body: %w", method, uri, err)
		}
	}
	relogged := false
	for {
		sess, err := c.ensureSession(ctx, "")
		if err != nil {
			return nil, err
		}
		r, err := c.send(ctx, method, uri, data, sess)
		var he *Error
		if !relogged && errors.As(err, &he) && he.HTTPStatus == 403 && (he.Reason == 4 || he.Reason == 5) {
			relogged = true
			c.log.Info("HMC session no longer valid; logging on again", "method", method, "uri", uri, "reason", he.Reason)
			if _, err := c.ensureSession(ctx, sess); err != nil {
				return nil, err
			}
			continue
		}
		return r, err
	}
}

// ensureSession returns the current session, logging on when there is
// none or when the current one is stale (equal to the session a request
// just had refused).
func (c *Client) ensureSession(ctx context.Context, stale string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.session != "" && c.session != stale {
		return c.session, nil
	}
	c.session = ""
	body, _ := json.Marshal(map[string]string{"userid": c.user, "password": c.pass})
	r, err := c.send(ctx, http.MethodPost, "/api/sessions", body, "")
	if err != nil {
		return "", err
	}
	var lr struct {
		Session string `json:"api-session"`
		Major   int    `json:"api-major-version"`
		Minor   int    `json:"api-minor-version"`
	}
	if err := r.Decode(&lr); err != nil || lr.Session == "" {
		return "", &Error{HTTPStatus: r.Status, Message: "logon response without api-session", Method: http.MethodPost, URI: "/api/sessions", Err: err}
	}
	c.session, c.major, c.minor = lr.Session, lr.Major, lr.Minor
	c.log.Info("logged on to the HMC", "userid", c.user, "api_version", fmt.Sprintf("%d.%d", lr.Major, lr.Minor))
	return c.session, nil
}

// Close logs off (DELETE /api/sessions/this-session) if logged on.
func (c *Client) Close(ctx context.Context) error {
	c.mu.Lock()
	sess := c.session
	c.session = ""
	c.mu.Unlock()
	if sess == "" {
		return nil
	}
	_, err := c.send(ctx, http.MethodDelete, "/api/sessions/this-session", nil, sess)
	if err != nil && !IsStatus(err, 403) {
		return err
	}
	c.http.CloseIdleConnections()
	return nil
}

// send is one request with retries on busy and connection resets.
func (c *Client) send(ctx context.Context, method, uri string, data []byte, sess string) (*Response, error) {
	delay := c.backoff
	for attempt := 0; ; attempt++ {
		r, err := c.once(ctx, method, uri, data, sess)
		if err == nil || attempt >= c.retries || !transient(err) {
			return r, err
		}
		c.log.Info("HMC busy or connection reset; retrying", "method", method, "uri", uri, "attempt", attempt+1, "delay", delay, "error", err)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, &Error{Method: method, URI: uri, Err: ctx.Err()}
		case <-t.C:
		}
		delay *= 2
	}
}

// transient: 409 reason 2 (busy) and connection resets or unexpected EOFs.
func transient(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	if e.HTTPStatus == 409 && e.Reason == 2 {
		return true
	}
	if e.HTTPStatus == 0 && e.Err != nil {
		return errors.Is(e.Err, syscall.ECONNRESET) || errors.Is(e.Err, io.EOF) || errors.Is(e.Err, io.ErrUnexpectedEOF) || errors.Is(e.Err, syscall.ECONNREFUSED)
	}
	return false
}

func (c *Client) once(ctx context.Context, method, uri string, data []byte, sess string) (*Response, error) {
	var rd io.Reader
	if data != nil {
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base.String()+uri, rd)
	if err != nil {
		return nil, &Error{Method: method, URI: uri, Err: err}
	}
	req.Header.Set("Accept", "*/*")
	if data != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if sess != "" {
		req.Header.Set("X-API-Session", sess)
	}
	c.calls.Add(1)
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, &Error{Method: method, URI: uri, Err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, &Error{Method: method, URI: uri, Err: err}
	}
	c.log.Debug("HMC request", "method", method, "uri", uri, "status", resp.StatusCode, "duration", time.Since(start))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return &Response{Status: resp.StatusCode, Location: resp.Header.Get("Location"), Body: b}, nil
	}
	e := &Error{HTTPStatus: resp.StatusCode, Method: method, URI: uri}
	var eb errorBody
	if json.Unmarshal(b, &eb) == nil {
		e.Reason, e.Message = eb.Reason, eb.Message
	}
	if e.Message == "" {
		e.Message = strings.TrimSpace(http.StatusText(resp.StatusCode))
	}
	return nil, e
}
