package api

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/zguest/zguest/hostside/source"
)

// DefaultMaxDeployCapture is [wsgi] max_concurrent_deploy_capture's default.
const DefaultMaxDeployCapture = 20

// APIVersion is the REST API version GET / reports.
const APIVersion = "1.0"

// Options configure a Handler.
type Options struct {
	// Logger gets one line per request (never bodies or tokens); nil
	// discards.
	Logger *slog.Logger
	// Auth is token mode; nil is auth = none.
	Auth *Auth
	// MaxDeployCapture bounds concurrent deploy and capture actions;
	// the next one gets 503 (overallRC 503, modID 120, rs 1). 0 means
	// DefaultMaxDeployCapture.
	MaxDeployCapture int
	// Version is the connector version GET / reports.
	Version string
	// MaxInFlight bounds requests served at once (0: DefaultMaxInFlight);
	// past it: 503 (overallRC 503, modID 120, rs 1).
	MaxInFlight int
	// BodyReadTimeout bounds the time a client takes to send a body
	// (0: DefaultBodyReadTimeout); past it the connection is closed.
	BodyReadTimeout time.Duration
	// Sources is the policy for host files requests name (file://
	// imports, transportfiles, export destinations); nil checks none.
	Sources *source.Policy
	// Observer sees requests and backend work (metrics); nil: none.
	Observer Observer
}

// Handler serves the cloud connector REST API over a Backend. It
// validates requests, serializes operations per userid, bounds
// concurrent deploys and captures, checks tokens and writes the envelope.
type Handler struct {
	b     Backend
	opt   Options
	log   *slog.Logger
	mux   *http.ServeMux
	locks keyedMutex
	slots chan struct{} // deploy/capture semaphore
	// inflight bounds requests being served; tokens throttles failed
	// admin-token attempts.
	inflight chan struct{}
	tokens   throttle
}

// NewHandler returns the handler for b.
func NewHandler(b Backend, o Options) *Handler {
	if o.MaxDeployCapture <= 0 {
		o.MaxDeployCapture = DefaultMaxDeployCapture
	}
	if o.Version == "" {
		o.Version = "0.0.0"
	}
	h := &Handler{b: b, opt: o, log: o.Logger, mux: http.NewServeMux(),
		slots: make(chan struct{}, o.MaxDeployCapture)}
	if h.log == nil {
		h.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.MaxInFlight <= 0 {
		h.opt.MaxInFlight = DefaultMaxInFlight
	}
	if o.BodyReadTimeout <= 0 {
		h.opt.BodyReadTimeout = DefaultBodyReadTimeout
	}
	h.inflight = make(chan struct{}, h.opt.MaxInFlight)
	h.tokens = throttle{clients: map[string]*attempts{}, now: time.Now}
	h.routes()
	return h
}

// route is one method on one path. useridCheck says how a bad {userid}
// is reported: the GET routes validate it with a query schema in the
// REST layer (validationError), the others in the sdkserver (inputError).
type route struct {
	method, path string
	fn           func(*call) (any, error)
	special      func(*Error) int
	useridCheck  int
}

const (
	noUserid = iota
	useridBySDK
	useridByQuerySchema
)

// call is one request on its way through a route.
type call struct {
	w      http.ResponseWriter
	r      *http.Request
	ctx    context.Context
	userid string // validated, upper-cased
	rawUID string // as given in the path
}

func (h *Handler) routes() {
	rs := []route{
		{"GET", "/{$}", h.version, nil, noUserid},
		{"POST", "/token", nil, nil, noUserid}, // handled in token
		{"GET", "/host", h.hostInfo, nil, noUserid},
		{"GET", "/guests", h.listGuests, nil, noUserid},
		{"POST", "/guests", h.createGuest, alreadyExists, noUserid},
		{"DELETE", "/guests/{userid}", h.deleteGuest, nil, useridBySDK},
		{"POST", "/guests/{userid}/action", h.action, notFoundOrConflict, useridBySDK},
		{"GET", "/guests/{userid}/info", h.guestInfo, notFound, useridByQuerySchema},
		{"GET", "/guests/{userid}/power_state", h.powerState, notFound, useridByQuerySchema},
		{"PUT", "/guests/{userid}/disks", h.configMinidisks, nil, useridBySDK},
		{"POST", "/guests/{userid}/interface", h.createInterface, nil, useridBySDK},
		{"DELETE", "/guests/{userid}/interface", h.deleteInterface, nil, useridBySDK},
		{"POST", "/guests/{userid}/nic", h.createNIC, nil, useridBySDK},
		{"PUT", "/guests/{userid}/nic/{vdev}", h.coupleNIC, nil, useridBySDK},
		{"DELETE", "/guests/{userid}/nic/{vdev}", h.deleteNIC, nil, useridBySDK},
		{"POST", "/images", h.importImage, alreadyExists, noUserid},
		{"GET", "/images", h.queryImages, notFound, noUserid},
		{"PUT", "/images/{name}", h.exportImage, notFound, noUserid},
		{"DELETE", "/images/{name}", h.deleteImage, nil, noUserid},
		{"GET", "/images/{name}/root_disk_size", h.rootDiskSize, nil, noUserid},
	}
	allowed := map[string][]string{}
	var paths []string
	for _, rt := range rs {
		if _, ok := allowed[rt.path]; !ok {
			paths = append(paths, rt.path)
		}
		allowed[rt.path] = append(allowed[rt.path], rt.method)
		if rt.path == "/token" {
			h.mux.HandleFunc(rt.method+" "+rt.path, h.token)
			continue
		}
		h.mux.Handle(rt.method+" "+rt.path, h.wrap(rt))
	}
	// A path that exists with another method: 405 with Allow, in the
	// envelope (handler.py handle_not_allowed). A method-less pattern
	// is less specific than the ones above, so it only gets the rest.
	for _, p := range paths {
		allow := strings.Join(allowed[p], ", ")
		h.mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			writeError(w, wsgiError(http.StatusMethodNotAllowed, msgNotAllowed), nil)
		})
	}
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, wsgiError(http.StatusNotFound, msgNotFound), nil)
	})
}

// ServeHTTP logs the request and dispatches it.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w}
	h.bodyDeadline(w, r)
	leave, full := h.enter()
	switch {
	case full != nil:
		h.obs().Rejected("requests_in_flight")
		w.Header().Set("Connection", "close")
		writeError(rec, full, nil)
	case r.ContentLength > 0 && r.Header.Get("Content-Type") == "":
		// handler.py: a body needs a Content-Type.
		writeError(rec, wsgiError(http.StatusBadRequest, "content-type header required when content-length > 0"), nil)
	default:
		h.mux.ServeHTTP(rec, r)
	}
	if leave != nil {
		leave()
	}
	d := time.Since(start)
	route := r.Pattern
	if route == "" {
		route = "unmatched"
	}
	h.obs().Request(route, rec.status, rec.overallRC, d)
	if !rec.quiet {
		h.logRequest(r, rec, d)
	}
}

var useridRE = regexp.MustCompile(`^[a-zA-Z0-9]{1,8}$`)

// wrap turns a route into an http.Handler: token check, userid check,
// per-userid lock, the call, the envelope.
func (h *Handler) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e := h.checkToken(r); e != nil {
			writeError(w, e, nil)
			return
		}
		if e := h.limitBody(w, r, rt.method+" "+rt.path); e != nil {
			h.obs().Rejected("body_too_large")
			writeError(w, e, nil)
			return
		}
		defer func() {
			if p := recover(); p != nil {
				h.log.Error("handler panic", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(p))
				writeError(w, &Error{OverallRC: 500, ModID: ModWSGI, RC: 500, RS: 1, Msg: "internal error"}, nil)
			}
		}()
		c := &call{w: w, r: r, ctx: r.Context()}
		if rt.useridCheck != noUserid {
			c.rawUID = r.PathValue("userid")
			if !useridRE.MatchString(c.rawUID) {
				if rt.useridCheck == useridByQuerySchema {
					writeError(w, wsgiError(http.StatusBadRequest, "ValidationError: Validation error: Invalid input for query parameters userid. Value: "+
						c.rawUID+". "+pyRepr(c.rawUID)+" does not match "+pyRepr(useridRE.String())), nil)
				} else {
					writeError(w, inputError("Invalid string value found at the #1 parameter, length should be less or equal to 8 and should not be null or contain spaces."), nil)
				}
				return
			}
			c.userid = strings.ToUpper(c.rawUID)
		}
		began := time.Now()
		out, err := rt.fn(c)
		if e := AsErrorOrNil(err); e != nil {
			h.obs().Backend(rt.method+" "+rt.path, e.OverallRC, time.Since(began))
		} else {
			h.obs().Backend(rt.method+" "+rt.path, 0, time.Since(began))
		}
		if err != nil {
			e := AsError(err)
			if e == nil { // a typed nil *Error from a backend
				writeOK(w, out)
				return
			}
			if st := writeError(w, e, rt.special); st >= 500 {
				h.log.Warn("request failed", "method", r.Method, "path", r.URL.Path, "error", err)
			}
			return
		}
		writeOK(w, out)
	})
}

// lockGuest serializes c's work on its userid (or another key).
func (h *Handler) lockKey(c *call, key string) (func(), error) {
	unlock, err := h.locks.lock(c.ctx, key)
	if err != nil {
		return nil, &Error{OverallRC: 500, ModID: ModWSGI, RC: 500, RS: 2,
			Msg: "request abandoned while waiting for another operation on " + key, Err: err}
	}
	return unlock, nil
}

// withGuest runs fn holding c.userid's lock.
func (h *Handler) withGuest(c *call, fn func() (any, error)) (any, error) {
	unlock, err := h.lockKey(c, "guest/"+c.userid)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return fn()
}

// withImage runs fn holding the image name's lock.
func (h *Handler) withImage(c *call, name string, fn func() (any, error)) (any, error) {
	unlock, err := h.lockKey(c, "image/"+name)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return fn()
}

// body reads and validates c's body against s.
func (c *call) body(s *schema) (map[string]any, error) {
	v, e := readJSON(c.r)
	if e != nil {
		return nil, e
	}
	m, e := checkBody(s, v)
	if e != nil {
		return nil, e
	}
	return m, nil
}
