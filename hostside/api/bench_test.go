package api_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/api/apitest"
)

// BenchmarkREST measures the REST layer's own cost per call against the
// in-memory fake (whose work is a map lookup): routing, validation,
// per-guest locking, the envelope, the request log line. "inproc" calls
// ServeHTTP directly; "loopback" adds net/http over a kept-alive TCP
// connection, the way nova reaches the daemon on the same host.
func BenchmarkREST(b *testing.B) {
	f := apitest.NewFake()
	ctx := context.Background()
	f.CreateGuest(ctx, api.GuestSpec{UserID: "BENCH1", VCPUs: 1, Memory: 512})
	f.ImportImage(ctx, api.ImageImport{ImageName: "img", ImageMeta: map[string]string{"os_version": "rhel9"}})
	h := api.NewHandler(f, api.Options{}) // default logger: discard
	calls := []struct{ name, method, path, body string }{
		{"power_state", "GET", "/guests/bench1/power_state", ""},
		{"start", "POST", "/guests/bench1/action", `{"action":"start"}`},
		{"deploy", "POST", "/guests/bench1/action", `{"action":"deploy","image":"img","transportfiles":"/tmp/cfgdrive.iso","remotehost":"nova@10.0.0.2"}`},
		{"interface", "POST", "/guests/bench1/interface", `{"interface":{"os_version":"rhel9","guest_networks":[{"ip_addr":"10.0.0.5","gateway_addr":"10.0.0.1","cidr":"10.0.0.0/24","mac_addr":"02:00:00:00:00:01","nic_id":"p1","nic_vdev":"1000"}]}}`},
		{"image_query", "GET", "/images?imagename=img", ""},
	}
	for _, c := range calls {
		b.Run("inproc/"+c.name, func(b *testing.B) {
			body := []byte(c.body)
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(c.method, c.path, bytes.NewReader(body))
				if c.body != "" {
					req.Header.Set("Content-Type", "application/json")
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
		})
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	hc := srv.Client()
	for _, c := range calls {
		b.Run("loopback/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req, _ := http.NewRequest(c.method, srv.URL+c.path, bytes.NewReader([]byte(c.body)))
				if c.body != "" {
					req.Header.Set("Content-Type", "application/json")
				}
				resp, err := hc.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatal(resp.Status)
				}
			}
		})
	}
	b.Run("loopback/parallel_power_state_8_guests", func(b *testing.B) {
		for i := range 8 {
			f.CreateGuest(ctx, api.GuestSpec{UserID: fmt.Sprintf("P%d", i), VCPUs: 1, Memory: 512})
		}
		b.ReportAllocs()
		n := 0
		b.RunParallel(func(pb *testing.PB) {
			n++
			path := fmt.Sprintf("%s/guests/p%d/power_state", srv.URL, n%8)
			for pb.Next() {
				resp, err := hc.Get(path)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	})
}
