// Package metrics is the host daemon's Prometheus registry: requests by
// route and overallRC with their latency, deploys and captures in
// flight, the latency and errors of the backend work behind each route,
// and the journal entries pending. The daemon serves it on its own
// listen address ("metrics_listen"), apart from the API.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics implements api.Observer and serves the registry.
type Metrics struct {
	reg            *prometheus.Registry
	requests       *prometheus.CounterVec
	latency        *prometheus.HistogramVec
	deploys        prometheus.Gauge
	backend        *prometheus.HistogramVec
	backendErrors  *prometheus.CounterVec
	rejected       *prometheus.CounterVec
	journalPending prometheus.GaugeFunc
}

// Buckets from 1 ms to about 35 min: GETs take milliseconds, a deploy
// of a large image minutes.
var buckets = prometheus.ExponentialBuckets(0.001, 4, 11)

// New registers the daemon's metrics (and the Go runtime's and the
// process's). pending, if not nil, counts the backend's journal entries
// pending; it is called at each scrape.
func New(pending func(context.Context) (int, error)) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zguest_hostd_requests_total",
		Help: "REST requests answered, by route pattern, HTTP status and the envelope's overallRC."}, []string{"route", "status", "overallRC"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "zguest_hostd_request_duration_seconds",
		Help: "REST request latency by route pattern.", Buckets: buckets}, []string{"route"})
	m.deploys = prometheus.NewGauge(prometheus.GaugeOpts{Name: "zguest_hostd_deploys_in_flight",
		Help: "Deploy and capture actions holding a slot of max_concurrent_deploy_capture."})
	m.backend = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "zguest_hostd_backend_call_duration_seconds",
		Help: "Latency of the backend work behind a route (SMAPI, CP, HMC or libvirt calls and copies), by route pattern.", Buckets: buckets}, []string{"route"})
	m.backendErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zguest_hostd_backend_errors_total",
		Help: "Backend calls that failed, by route pattern and overallRC."}, []string{"route", "overallRC"})
	m.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zguest_hostd_rejected_total",
		Help: "Requests refused before any work: requests in flight full, deploy slots full, throttled admin tokens, bodies too large or too slow."}, []string{"reason"})
	m.reg.MustRegister(m.requests, m.latency, m.deploys, m.backend, m.backendErrors, m.rejected,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if pending != nil {
		m.journalPending = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "zguest_hostd_journal_pending",
			Help: "Operations begun and not yet ended in the backend's journal (create, deploy, delete, import, punch)."}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			n, err := pending(ctx)
			if err != nil {
				return -1
			}
			return float64(n)
		})
		m.reg.MustRegister(m.journalPending)
	}
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Request records one answered request.
func (m *Metrics) Request(route string, status, overallRC int, d time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(status), strconv.Itoa(overallRC)).Inc()
	m.latency.WithLabelValues(route).Observe(d.Seconds())
}

// Backend records the backend work behind a route; overallRC 0 is
// success.
func (m *Metrics) Backend(route string, overallRC int, d time.Duration) {
	m.backend.WithLabelValues(route).Observe(d.Seconds())
	if overallRC != 0 {
		m.backendErrors.WithLabelValues(route, strconv.Itoa(overallRC)).Inc()
	}
}

// Deploys moves the deploys-in-flight gauge by delta.
func (m *Metrics) Deploys(delta int) { m.deploys.Add(float64(delta)) }

// Rejected counts a request refused for reason.
func (m *Metrics) Rejected(reason string) { m.rejected.WithLabelValues(reason).Inc() }
