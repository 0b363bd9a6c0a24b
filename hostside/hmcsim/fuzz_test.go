package hmcsim

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// FuzzAPI sends arbitrary bodies to every create/update/operation
// route through the full handler (session check, decoding, validation,
// state machine). No request may panic (500) and every answer body must
// be JSON; errors must carry the standard fields.
func FuzzAPI(f *testing.F) {
	for i, s := range []string{`{"name":"a","ifl-processors":1,"initial-memory":1024,"maximum-memory":1024}`,
		`{"boot-os-specific-parameters":" 0001,0,020000000001;","boot-device":"storage-volume"}`,
		`{"name":"n","virtual-switch-uri":"/api/virtual-switches/5e000001-0000-4000-8000-000000000001"}`,
		`{"storage-group-uri":"/api/storage-groups/56000001-0000-4000-8000-000000000001"}`,
		`{"name":"h","adapter-port-uri":"/api/adapters/ad000004-0000-4000-8000-000000000004/storage-ports/0"}`,
		`{"device-number":"00ff","mac-address":"02:00:00:00:00:01"}`, `{"userid":"hmcuser","password":"x"}`, `{`, ``, `null`} {
		f.Add(uint8(i), []byte(s))
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.Cleanup(cancel)
	s, err := Start(ctx, Options{Listen: "127.0.0.1:0", InventoryFile: z14File})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	call := func(method, path, sess, body string) (int, map[string]any) {
		r := httptest.NewRequest(method, "https://127.0.0.1"+path, strings.NewReader(body))
		if sess != "" {
			r.Header.Set("X-API-Session", sess)
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		var m map[string]any
		if w.Body.Len() > 0 {
			if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
				f.Fatalf("%s %s: not JSON: %q", method, path, w.Body.String())
			}
		}
		return w.Code, m
	}
	_, lo := call("POST", "/api/sessions", "", `{"userid":"hmcuser","password":"hmcpass-sim"}`)
	sess := lo["api-session"].(string)
	_, pm := call("POST", "/api/cpcs/"+z14CPC+"/partitions", sess, `{"name":"fz","ifl-processors":1,"initial-memory":1024,"maximum-memory":1024}`)
	p := pm["object-uri"].(string)
	_, nm := call("POST", p+"/nics", sess, `{"name":"n","virtual-switch-uri":"`+z14VS0+`"}`)
	n := nm["element-uri"].(string)
	targets := [][2]string{
		{"POST", "/api/sessions"}, {"POST", "/api/cpcs/" + z14CPC + "/partitions"}, {"POST", p},
		{"POST", p + "/nics"}, {"POST", n}, {"POST", p + "/hbas"},
		{"POST", p + "/operations/attach-storage-group"}, {"POST", p + "/operations/detach-storage-group"},
		{"POST", p + "/operations/start"}, {"POST", p + "/operations/stop"},
		{"GET", "/api/cpcs/" + z14CPC + "/partitions?name=f."}, {"POST", "/api/services/metrics/context"},
	}
	f.Fuzz(func(t *testing.T, op uint8, body []byte) {
		tg := targets[int(op)%len(targets)]
		code, m := call(tg[0], tg[1], sess, string(body))
		if code >= 500 {
			t.Fatalf("%s %s %q: %d %v", tg[0], tg[1], body, code, m)
		}
		if code >= 400 {
			if m["http-status"] == nil || m["reason"] == nil || m["message"] == nil {
				t.Fatalf("%s %s: error body %v", tg[0], tg[1], m)
			}
		}
	})
}

// TestConcurrentLatency: latency is served outside the lock, so 20
// concurrent calls at 50 ms take about as long as one.
func TestConcurrentLatency(t *testing.T) {
	c := start(t, z14File, Options{Latency: 50 * time.Millisecond})
	t0 := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.do("GET", "/api/cpcs/"+z14CPC, nil)
		}()
	}
	wg.Wait()
	if d := time.Since(t0); d > 500*time.Millisecond {
		t.Fatalf("20 concurrent calls took %v", d)
	}
}
