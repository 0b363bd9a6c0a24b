package hmcsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Messages used in several places. The 409/1 and 400/8 texts are the
// real HMC's (docs/facts/dpm.md 3.2 and 2.1).
const (
	msgBadState   = "The partition is not in a valid state to perform the operation"
	msgNotUnique  = "The value of name does not provide a unique value for the corresponding data model property as required"
	msgBusy       = "The object is busy performing another operation; retry later" // guess: text
	msgNoSession  = "The request does not include an X-API-Session header"         // guess: text
	msgBadSession = "The session identified by the X-API-Session header is not valid or has expired"
)

// apiError is a standard HMC error response.
type apiError struct {
	status, reason int
	msg            string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d,%d: %s", e.status, e.reason, e.msg) }

func errf(status, reason int, format string, a ...any) *apiError {
	return &apiError{status, reason, fmt.Sprintf(format, a...)}
}

// req is one request being served.
type req struct {
	w      http.ResponseWriter
	r      *http.Request
	params []string
	sess   *session
	body   []byte
	now    time.Time
}

type handler func(s *Sim, q *req) (int, any, *apiError)

type route struct {
	method, tmpl string
	segs         []string
	auth         bool
	h            handler
}

var routes []route

func init() {
	add := func(method, tmpl string, auth bool, h handler) {
		routes = append(routes, route{method, tmpl, strings.Split(strings.Trim(tmpl, "/"), "/"), auth, h})
	}
	add("GET", "/api/version", false, hVersion)
	add("POST", "/api/sessions", false, hLogon)
	add("DELETE", "/api/sessions/this-session", true, hLogoff)
	add("POST", "/api/services/metrics/context", true, hMetricsCreate)
	add("DELETE", "/api/services/metrics/context/{id}", true, hNoContent)
	add("GET", "/api/cpcs", true, hCPCList)
	add("GET", "/api/cpcs/{id}", true, hCPCGet)
	add("GET", "/api/cpcs/{id}/partitions", true, hPartList)
	add("POST", "/api/cpcs/{id}/partitions", true, hPartCreate)
	add("GET", "/api/cpcs/{id}/adapters", true, hAdapterList)
	add("GET", "/api/cpcs/{id}/virtual-switches", true, hVSList)
	add("GET", "/api/partitions/{id}", true, hPartGet)
	add("POST", "/api/partitions/{id}", true, hPartUpdate)
	add("DELETE", "/api/partitions/{id}", true, hPartDelete)
	add("POST", "/api/partitions/{id}/operations/start", true, hPartStart)
	add("POST", "/api/partitions/{id}/operations/stop", true, hPartStop)
	add("POST", "/api/partitions/{id}/nics", true, hNICCreate)
	add("GET", "/api/partitions/{id}/nics/{id}", true, hNICGet)
	add("POST", "/api/partitions/{id}/nics/{id}", true, hNICUpdate)
	add("DELETE", "/api/partitions/{id}/nics/{id}", true, hNICDelete)
	add("POST", "/api/partitions/{id}/hbas", true, hHBACreate)
	add("GET", "/api/partitions/{id}/hbas/{id}", true, hHBAGet)
	add("POST", "/api/partitions/{id}/hbas/{id}", true, hHBAUpdate)
	add("DELETE", "/api/partitions/{id}/hbas/{id}", true, hHBADelete)
	add("POST", "/api/partitions/{id}/operations/attach-storage-group", true, hSGAttach)
	add("POST", "/api/partitions/{id}/operations/detach-storage-group", true, hSGDetach)
	add("GET", "/api/adapters/{id}", true, hAdapterGet)
	add("GET", "/api/adapters/{id}/network-ports/{id}", true, hPortGet)
	add("GET", "/api/adapters/{id}/storage-ports/{id}", true, hPortGet)
	add("GET", "/api/virtual-switches/{id}", true, hVSGet)
	add("POST", "/api/virtual-switches/{id}/operations/get-connected-vnics", true, hVSVnics)
	add("GET", "/api/storage-groups", true, hSGList)
	add("GET", "/api/storage-groups/{id}", true, hSGGet)
	add("GET", "/api/storage-groups/{id}/storage-volumes", true, hSVList)
	add("GET", "/api/storage-groups/{id}/storage-volumes/{id}", true, hSVGet)
	add("GET", "/api/jobs/{id}", true, hJobGet)
	add("DELETE", "/api/jobs/{id}", true, hJobDelete)
	add("POST", "/api/jobs/{id}/operations/cancel", true, hJobCancel)
}

// match finds the route for a path; tmpl is "" when no route has that
// path shape, and allowed says whether the method matched.
func match(method, path string) (rt *route, params []string, tmpl string) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for i := range routes {
		r := &routes[i]
		if len(r.segs) != len(segs) {
			continue
		}
		var ps []string
		ok := true
		for k, seg := range r.segs {
			if seg == "{id}" {
				if segs[k] == "" {
					ok = false
					break
				}
				ps = append(ps, segs[k])
			} else if seg != segs[k] {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		tmpl = r.tmpl
		if r.method == method {
			return r, ps, tmpl
		}
	}
	return nil, nil, tmpl
}

// ServeHTTP serves the HMC API under /api/ and the simulator's admin
// endpoints under /sim/.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/sim/") {
		s.serveAdmin(w, r)
		return
	}
	rt, params, tmpl := match(r.Method, r.URL.Path)
	key := r.Method + " " + tmpl
	if tmpl == "" {
		key = r.Method + " " + "(unknown)"
	}
	s.mu.Lock()
	s.counts[key]++
	lat := s.faults.latency
	s.mu.Unlock()
	if lat > 0 {
		t := time.NewTimer(lat)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return
	}
	q := &req{w: w, r: r, params: params, body: body}
	if rt == nil {
		if tmpl != "" {
			s.writeErr(q, errf(405, 0, "The HTTP method %s is not supported for URI %s", r.Method, r.URL.Path)) // guess: reason 0
		} else {
			s.writeErr(q, errf(404, 1, "The URI %s does not designate an existing resource", r.URL.Path))
		}
		return
	}
	status, out, aerr := s.serveLocked(rt, q, key)
	if aerr != nil {
		s.writeErr(q, aerr)
		return
	}
	s.writeJSON(w, status, out)
}

func (s *Sim) serveLocked(rt *route, q *req, key string) (status int, out any, aerr *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("hmcsim: handler panic", "route", key, "panic", r)
			status, out, aerr = 0, nil, errf(500, 0, "internal simulator error: %v", r)
		}
	}()
	q.now = time.Now()
	s.advance(q.now)
	if rt.auth {
		id := q.r.Header.Get("X-API-Session")
		if id == "" {
			return 0, nil, errf(403, 4, msgNoSession)
		}
		ss, ok := s.sessions[id]
		if ok && !ss.expired && s.idle > 0 && q.now.Sub(ss.lastUsed) > s.idle {
			ss.expired = true
		}
		if !ok || ss.expired {
			return 0, nil, errf(403, 5, msgBadSession)
		}
		ss.lastUsed = q.now
		q.sess = ss
	}
	if rt.tmpl != "/api/sessions" && rt.tmpl != "/api/version" && s.faults.takeBusy(key) {
		return 0, nil, errf(409, 2, msgBusy)
	}
	return rt.h(s, q)
}

func (s *Sim) writeJSON(w http.ResponseWriter, status int, out any) {
	if status == http.StatusNoContent || out == nil {
		w.WriteHeader(status)
		return
	}
	b, err := json.Marshal(out)
	if err != nil {
		status, b = 500, []byte(`{"http-status":500,"reason":0,"message":"encode"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

func (s *Sim) writeErr(q *req, e *apiError) {
	body := map[string]any{
		"http-status":    e.status,
		"reason":         e.reason,
		"message":        e.msg,
		"request-method": q.r.Method,
		"request-uri":    q.r.URL.RequestURI(),
		"stack":          nil,
		"error-details":  nil,
	}
	if q.r.URL.RawQuery != "" {
		body["request-query-parms"] = queryParms(q)
	}
	if q.sess != nil {
		body["request-authenticated-as"] = q.sess.user
	}
	if len(q.body) > 0 && !strings.HasPrefix(q.r.URL.Path, "/api/sessions") {
		if len(q.body) > 1000 {
			body["request-body-as-string"] = string(q.body[:1000])
			body["request-body-as-string-partial"] = true
		} else {
			body["request-body-as-string"] = string(q.body)
			body["request-body-as-string-partial"] = false
		}
	}
	s.writeJSON(q.w, e.status, body)
}

func queryParms(q *req) []map[string]string {
	var out []map[string]string
	for k, vs := range q.r.URL.Query() {
		for _, v := range vs {
			out = append(out, map[string]string{"name": k, "value": v})
		}
	}
	return out
}

// decodeBody decodes a JSON object request body. Missing body → 400/3
// (mock), not an object → 400/2 (guess).
func decodeBody(body []byte) (map[string]any, *apiError) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, errf(400, 3, "The request requires a request body, but none was provided")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, errf(400, 2, "The request body is not a valid JSON object: %v", err) // guess: reason 2
	}
	if dec.More() {
		return nil, errf(400, 2, "The request body contains data after the JSON object") // guess: reason 2
	}
	if m == nil {
		return nil, errf(400, 2, "The request body is not a JSON object") // guess: reason 2
	}
	return m, nil
}

// checkQuery refuses query parameters outside allowed (400/1, mock).
func checkQuery(q *req, allowed ...string) *apiError {
	for k := range q.r.URL.Query() {
		ok := false
		for _, a := range allowed {
			if k == a {
				ok = true
			}
		}
		if !ok {
			return errf(400, 1, "The query parameter %q is not valid for this operation", k)
		}
	}
	return nil
}

// filterProps applies ?properties=a,b (GET properties); the object URI
// keys are always kept.
func filterProps(q *req, m map[string]any) (map[string]any, *apiError) {
	ps := q.r.URL.Query().Get("properties")
	if ps == "" {
		return m, nil
	}
	out := map[string]any{}
	for _, k := range []string{"object-uri", "element-uri", "class", "parent"} {
		if v, ok := m[k]; ok {
			out[k] = v
		}
	}
	for _, k := range strings.Split(ps, ",") {
		v, ok := m[k]
		if !ok {
			return nil, errf(400, 14, "The properties query parameter names an unknown property %q", k)
		}
		out[k] = v
	}
	return out, nil
}
