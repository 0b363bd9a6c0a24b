package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/metrics"
)

// journaled is a backend with a journal of operations (zvm).
type journaled interface {
	JournalPending(ctx context.Context) (int, error)
}

// newMetrics builds the registry for b.
func newMetrics(b api.Backend) *metrics.Metrics {
	var pending func(context.Context) (int, error)
	if j, ok := b.(journaled); ok {
		pending = j.JournalPending
	}
	return metrics.New(pending)
}

// serveMetrics serves m on addr (GET /metrics) until ctx ends. The
// listener is opened before it returns, so a bad address fails startup.
func serveMetrics(ctx context.Context, log *slog.Logger, addr string, m *metrics.Metrics) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf(`"metrics_listen": %w`, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "error", err)
		}
	}()
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	log.Info("serving metrics", "listen", ln.Addr().String(), "path", "/metrics")
	return nil
}
