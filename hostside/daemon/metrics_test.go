package daemon

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/zguest/zguest/hostside/api/apitest"
)

// TestMetricsEndpoint: with metrics_listen set, GET /metrics on that
// address (not on the API's) has the requests by route and overallRC,
// their latency histogram and the deploys-in-flight gauge.
func TestMetricsEndpoint(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	maddr := l.Addr().String()
	l.Close()
	cfg, err := ParseConfig(fmt.Appendf(nil, `{"listen":"127.0.0.1:0","backend":"stored","state_dir":%q,"metrics_listen":%q}`, t.TempDir(), maddr))
	if err != nil {
		t.Fatal(err)
	}
	r := start(t, cfg)
	cl := &apitest.Client{Base: "http://" + r.addr}
	ctx := context.Background()
	cl.GuestList(ctx)
	cl.GuestGetPowerState(ctx, "nosuch")
	cl.Raw(ctx, "GET", "/metrics", nil, nil) // not served on the API address
	resp, err := http.Get("http://" + maddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`zguest_hostd_requests_total{overallRC="0",route="GET /guests",status="200"} 1`,
		`zguest_hostd_requests_total{overallRC="400",route="/",status="404"} 1`,
		`zguest_hostd_request_duration_seconds_bucket{route="GET /guests",le="+Inf"} 1`,
		`zguest_hostd_backend_call_duration_seconds_count{route="GET /guests/{userid}/power_state"} 1`,
		`zguest_hostd_backend_errors_total{overallRC="404",route="GET /guests/{userid}/power_state"} 1`,
		"zguest_hostd_deploys_in_flight 0",
		"process_resident_memory_bytes",
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", b)
	}
	r.stop(t)
}
