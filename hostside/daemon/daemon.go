package daemon

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/source"
	"github.com/zguest/zguest/hostside/store"
)

// BackendEnv is what a backend gets to build itself.
type BackendEnv struct {
	Store    *store.Store    // the state store; the backend recovers its journal from it
	Logger   *slog.Logger    // the daemon's logger, with backend=<name>
	Options  json.RawMessage // the config's backend_options
	StateDir string
	// Sources is the source_dirs policy; the API checks request paths
	// with it and the backend opens them through it when it reads them.
	Sources *source.Policy
}

// BackendFactory builds a backend; it runs before the daemon listens,
// so it may finish or roll back the journal's pending operations.
type BackendFactory func(ctx context.Context, env BackendEnv) (api.Backend, error)

// Deps are the daemon's dependencies, passed in by main.
type Deps struct {
	Logger   *slog.Logger
	Backends map[string]BackendFactory
	Version  string
	// Notify sends an sd_notify state; nil uses systemd's socket
	// ($NOTIFY_SOCKET), a no-op outside systemd.
	Notify func(state string) error
	// Ready, if set, is called with the listening address.
	Ready func(addr net.Addr)
}

// Run serves until ctx ends (SIGTERM in main), then shuts down
// gracefully: no new connections, requests in flight get
// ShutdownTimeout to finish.
func Run(ctx context.Context, cfg *Config, d Deps) error {
	log := d.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	notify := d.Notify
	if notify == nil {
		notify = func(s string) error { _, err := sd.SdNotify(false, s); return err }
	}
	if err := cfg.CheckListen(); err != nil {
		return err
	}
	factory, ok := d.Backends[cfg.Backend]
	if !ok {
		return fmt.Errorf(`"backend" %q is not one of: %s`, cfg.Backend, strings.Join(names(d.Backends), ", "))
	}
	var auth *api.Auth
	if cfg.Auth == "token" {
		if err := checkTokenFile(cfg.TokenPath); err != nil {
			return err
		}
		tf := &tokenFile{path: cfg.TokenPath}
		auth = &api.Auth{AdminToken: tf.get, Validity: cfg.Validity()}
	}
	var tlsCfg *tls.Config
	if cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return fmt.Errorf(`"tls_cert"/"tls_key": %w`, err)
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}

	st, err := store.Open(filepath.Join(cfg.StateDir, "state.db"), 10*time.Second)
	if err != nil {
		return err
	}
	defer st.Close()
	if p, err := st.Pending(); err == nil && len(p) > 0 {
		log.Info("journal has unfinished operations; the backend recovers them", "count", len(p))
	}
	sources := &source.Policy{Dirs: cfg.SourceDirs, AnyPath: cfg.SourceAnyPath, Setting: "source_dirs"}
	b, err := factory(ctx, BackendEnv{Store: st, Logger: log.With("backend", cfg.Backend), Options: cfg.BackendOptions, StateDir: cfg.StateDir, Sources: sources})
	if err != nil {
		return fmt.Errorf("backend %s: %w", cfg.Backend, err)
	}

	var obs api.Observer
	if cfg.MetricsListen != "" {
		m := newMetrics(b)
		if err := serveMetrics(ctx, log, cfg.MetricsListen, m); err != nil {
			return err
		}
		obs = m
	}
	h := api.NewHandler(b, api.Options{Logger: log, Observer: obs, Auth: auth, MaxDeployCapture: cfg.MaxConcurrentDeployCapture, Version: d.Version,
		Sources:     sources,
		MaxInFlight: cfg.MaxRequestsInFlight, BodyReadTimeout: time.Duration(cfg.BodyReadTimeout) * time.Second})
	if cfg.SourceAnyPath {
		log.Warn("source_any_path is on: requests may import, punch or export any file this daemon can read or write (as the original connector); set source_dirs instead")
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("serving", "listen", ln.Addr().String(), "tls", tlsCfg != nil, "auth", cfg.Auth,
		"backend", cfg.Backend, "max_concurrent_deploy_capture", cfg.MaxConcurrentDeployCapture)
	if d.Ready != nil {
		d.Ready(ln.Addr())
	}
	if err := notify("READY=1"); err != nil {
		log.Warn("sd_notify READY", "error", err)
	}
	stopWatchdog := watchdog(ctx, log, notify)
	defer stopWatchdog()

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout_s", cfg.ShutdownTimeout)
	_ = notify("STOPPING=1")
	sctx, cancel := context.WithTimeout(context.Background(), time.Duration(cfg.ShutdownTimeout)*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

// watchdog pings systemd at half of WatchdogSec while the daemon runs.
func watchdog(ctx context.Context, log *slog.Logger, notify func(string) error) func() {
	iv, err := sd.SdWatchdogEnabled(false)
	if err != nil || iv <= 0 {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		t := time.NewTicker(iv / 2)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := notify("WATCHDOG=1"); err != nil {
					log.Warn("sd_notify WATCHDOG", "error", err)
				}
			}
		}
	}()
	log.Info("watchdog", "interval", iv, "ping", iv/2)
	return cancel
}

func names(m map[string]BackendFactory) []string {
	var l []string
	for k := range m {
		l = append(l, k)
	}
	sort.Strings(l)
	return l
}
