package api

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Defaults of the request limits (Options).
const (
	// DefaultMaxInFlight bounds requests being served at once; the next
	// one gets 503 in the envelope of a full deploy/capture semaphore.
	DefaultMaxInFlight = 64
	// DefaultBodyReadTimeout is how long a client may take to send a
	// request body once its headers are in.
	DefaultBodyReadTimeout = 30 * time.Second
	// failedTokenLimit failed admin-token attempts per client within
	// failedTokenWindow get 429 until the window ends.
	failedTokenLimit  = 5
	failedTokenWindow = 10 * time.Second
)

// bodyLimits are the largest bodies each route accepts, sized to what
// its schema can legitimately carry: a create with its disk list,
// comments and dedicated devices, an interface with its networks, a
// deploy or import with paths of up to PATH_MAX. Routes not listed take
// no body beyond defaultBodyLimit.
var bodyLimits = map[string]int64{
	"POST /guests":                    64 << 10,
	"PUT /guests/{userid}/disks":      64 << 10,
	"POST /guests/{userid}/interface": 64 << 10,
	"POST /guests/{userid}/action":    16 << 10,
	"POST /images":                    16 << 10,
	"PUT /images/{name}":              16 << 10,
}

const defaultBodyLimit = 4 << 10

func bodyLimit(pattern string) int64 {
	if n, ok := bodyLimits[pattern]; ok {
		return n
	}
	return defaultBodyLimit
}

// tooLarge is the 413 for a body over the route's limit.
func tooLarge(limit int64) *Error {
	return wsgiError(http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes, the limit of this route", limit))
}

// bodyReadError maps a failed body read to its envelope.
func bodyReadError(err error) *Error {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return tooLarge(mb.Limit)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return wsgiError(http.StatusRequestTimeout, "the request body did not arrive in time; the connection is closed")
	}
	return wsgiError(http.StatusBadRequest, "cannot read the request body: "+err.Error())
}

// deadlineBody clears the connection's read deadline once the body is
// read: the deadline bounds the body only, not the work of a
// long deploy, whose request context must stay alive.
type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	once sync.Once
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	// Only a complete body lifts the deadline: after a timeout the
	// server still drains what is left, and must not wait forever.
	if err == io.EOF {
		b.once.Do(func() { _ = b.rc.SetReadDeadline(time.Time{}) })
	}
	return n, err
}

// limitBody bounds r's body by the route's limit and by the body read
// timeout. It answers 413 itself when Content-Length already exceeds
// the limit.
func (h *Handler) limitBody(w http.ResponseWriter, r *http.Request, pattern string) *Error {
	limit := bodyLimit(pattern)
	if r.ContentLength > limit {
		// The body stays unread: close the connection rather than
		// let the server drain it.
		w.Header().Set("Connection", "close")
		return tooLarge(limit)
	}
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	return nil
}

// bodyDeadline bounds the time the client may take to send r's body,
// whether or not a handler reads it (the server drains an unread body
// before it answers).
func (h *Handler) bodyDeadline(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
		return
	}
	rc := http.NewResponseController(w)
	if rc.SetReadDeadline(time.Now().Add(h.opt.BodyReadTimeout)) == nil {
		r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
	}
}

// enter takes an in-flight slot without waiting.
func (h *Handler) enter() (func(), *Error) {
	select {
	case h.inflight <- struct{}{}:
		return func() { <-h.inflight }, nil
	default:
		return nil, &Error{OverallRC: 503, ModID: ModWSGI, RC: 503, RS: 1,
			Msg: fmt.Sprintf("Max concurrent requests (%d) received, request is rejected. Retry later.", cap(h.inflight))}
	}
}

// throttle counts failed admin-token attempts per client address and
// logs them once per window.
type throttle struct {
	mu      sync.Mutex
	clients map[string]*attempts
	now     func() time.Time
}

type attempts struct {
	start  time.Time
	failed int
	logged bool
}

func clientOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// blocked says whether client has used up its failed attempts; the
// duration is how long until it may try again.
func (t *throttle) blocked(client string) (bool, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	a := t.clients[client]
	if a == nil {
		return false, 0
	}
	left := failedTokenWindow - t.now().Sub(a.start)
	if left <= 0 {
		delete(t.clients, client)
		return false, 0
	}
	return a.failed >= failedTokenLimit, left
}

// fail records a failed attempt and reports whether to log it: the
// first failure of a window is logged, the rest are counted into the
// next window's first line.
func (t *throttle) fail(client string) (log bool, count int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if len(t.clients) > 10000 { // bound the table under a spray of addresses
		for k, a := range t.clients {
			if now.Sub(a.start) >= failedTokenWindow {
				delete(t.clients, k)
			}
		}
	}
	a := t.clients[client]
	if a == nil || now.Sub(a.start) >= failedTokenWindow {
		a = &attempts{start: now}
		t.clients[client] = a
	}
	a.failed++
	if a.logged {
		return false, a.failed
	}
	a.logged = true
	return true, a.failed
}

// checkName is the REST layer's check of an image name (a body field
// or a path segment) before it reaches a backend that makes file names
// of it: the original's schema only bounds its length, a NUL, a slash or
// a name of dots would otherwise fail deep down as a 500.
func checkName(field, v string) *Error { return checkNameOf(field, v, false) }

// checkImageRef is checkName for the image a deploy names: a backend's
// reference may hold slashes (DPM: "storage-volume:/api/storage-groups/...").
func checkImageRef(field, v string) *Error { return checkNameOf(field, v, true) }

func checkNameOf(field, v string, slashes bool) *Error {
	bad := ""
	switch {
	case v == "":
		bad = "is empty"
	case len(v) > 255:
		bad = fmt.Sprintf("is %d bytes long, longer than 255", len(v))
	case !utf8.ValidString(v):
		bad = "is not valid UTF-8"
	case !slashes && strings.ContainsAny(v, "/\\"):
		bad = "contains a slash"
	case v == "." || v == "..":
		bad = "is a dot name"
	case strings.IndexFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0:
		bad = "contains a control character (NUL, newline, ...)"
	}
	if bad == "" {
		return nil
	}
	return validationError(fmt.Sprintf("Invalid input for field/attribute %s. Value: %s. The name %s.", field, pyRepr(v), bad))
}

// checkSource refuses a local file a request names (a file:// URL's
// path, transportfiles) that the source policy does not admit, before
// any work starts. Paths on a remote host are not checked here.
func (h *Handler) checkSource(field, path string) *Error {
	if h.opt.Sources == nil {
		return nil
	}
	if err := h.opt.Sources.Check(path); err != nil {
		return inputError(fmt.Sprintf("%s: %v", field, err))
	}
	return nil
}

// checkDest is checkSource for a file to write (export).
func (h *Handler) checkDest(field, path string) *Error {
	if h.opt.Sources == nil {
		return nil
	}
	if err := h.opt.Sources.CheckDest(path); err != nil {
		return inputError(fmt.Sprintf("%s: %v", field, err))
	}
	return nil
}

// fileURLPath is the path of a file:// URL, "" for any other.
func fileURLPath(u string) string {
	p, ok := strings.CutPrefix(u, "file://")
	if !ok {
		return ""
	}
	if q, err := url.PathUnescape(p); err == nil {
		return q
	}
	return p
}
