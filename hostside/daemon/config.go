// Package daemon runs zguest-hostd: it reads the configuration, opens
// the state store, builds the backend, serves the REST API (refusing a
// non-loopback address without TLS and token auth), tells systemd it is
// ready and alive, and shuts down gracefully.
package daemon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/zguest/zguest/hostside/source"
)

// Config is zguest-hostd's configuration file, JSON (encoding/json,
// no dependency; unknown keys are errors so that typos do not pass).
type Config struct {
	// Listen is host:port; default 127.0.0.1:8080 (zvmconnector's port).
	Listen string `json:"listen"`
	// TLSCert and TLSKey are PEM files; both or neither.
	TLSCert string `json:"tls_cert"`
	TLSKey  string `json:"tls_key"`
	// Auth is "none" (default, as the original) or "token".
	Auth string `json:"auth"`
	// TokenPath holds the admin token (token mode).
	TokenPath string `json:"token_path"`
	// TokenValidationPeriod is the issued tokens' lifetime in seconds.
	TokenValidationPeriod int `json:"token_validation_period"`
	// MaxConcurrentDeployCapture bounds concurrent deploy/capture
	// actions (default 20, as [wsgi] max_concurrent_deploy_capture).
	MaxConcurrentDeployCapture int `json:"max_concurrent_deploy_capture"`
	// StateDir holds the store (state.db); default /var/lib/zguest-hostd
	// (systemd's StateDirectory).
	StateDir string `json:"state_dir"`
	// Backend names the hypervisor backend ("zvm", ...); BackendOptions
	// is its own section, parsed by the backend.
	Backend        string          `json:"backend"`
	BackendOptions json.RawMessage `json:"backend_options,omitempty"`
	// ShutdownTimeout is how long SIGTERM waits for requests in flight
	// (seconds, default 60; a deploy can take minutes, systemd's
	// TimeoutStopSec must be longer).
	ShutdownTimeout int `json:"shutdown_timeout"`
	// MaxRequestsInFlight bounds requests served at once (default 64);
	// past it: 503 in the original's envelope.
	MaxRequestsInFlight int `json:"max_requests_in_flight"`
	// BodyReadTimeout is how long a client may take to send a request
	// body, in seconds (default 30); past it the connection is closed.
	BodyReadTimeout int `json:"body_read_timeout"`
	// SourceDirs are the directories that file:// imports,
	// transportfiles and export destinations may name (default: nova's
	// /var/lib/nova/images and /var/lib/nova/instances); anything else
	// is refused naming the path and this setting.
	SourceDirs []string `json:"source_dirs"`
	// SourceAnyPath admits any path the daemon can read, as the
	// original connector does; off by default, warned about at start.
	SourceAnyPath bool `json:"source_any_path"`
	// MetricsListen is host:port of the Prometheus endpoint (GET
	// /metrics, plain HTTP, no token: it carries counts and latencies,
	// no names); empty: none.
	MetricsListen string `json:"metrics_listen"`
}

// Defaults.
const (
	DefaultListen    = "127.0.0.1:8080"
	DefaultTokenPath = "/etc/zguest/hostd-token"
	DefaultStateDir  = "/var/lib/zguest-hostd"
)

// LoadConfig reads and checks a configuration file.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := ParseConfig(b)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// ParseConfig parses a configuration, fills in defaults and checks it.
func ParseConfig(b []byte) (*Config, error) {
	c := &Config{}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(c); err != nil {
		return nil, err
	}
	c.defaults()
	return c, c.check()
}

func (c *Config) defaults() {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.Auth == "" {
		c.Auth = "none"
	}
	if c.TokenPath == "" {
		c.TokenPath = DefaultTokenPath
	}
	if c.TokenValidationPeriod <= 0 {
		c.TokenValidationPeriod = 3600
	}
	if c.MaxConcurrentDeployCapture <= 0 {
		c.MaxConcurrentDeployCapture = 20
	}
	if c.StateDir == "" {
		c.StateDir = DefaultStateDir
	}
	if c.SourceDirs == nil {
		c.SourceDirs = source.DefaultDirs
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 60
	}
}

func (c *Config) check() error {
	var errs []error
	if c.Auth != "none" && c.Auth != "token" {
		errs = append(errs, fmt.Errorf(`"auth" is %q: use "none" or "token"`, c.Auth))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New(`"tls_cert" and "tls_key" go together: set both or neither`))
	}
	for _, d := range c.SourceDirs {
		if !filepath.IsAbs(d) || filepath.Clean(d) == "/" {
			errs = append(errs, fmt.Errorf(`"source_dirs" entry %q: want an absolute directory other than /`, d))
		}
	}
	if c.Backend == "" {
		errs = append(errs, errors.New(`"backend" is not set: name the hypervisor backend (e.g. "zvm")`))
	}
	return errors.Join(errs...)
}

// Validity is TokenValidationPeriod as a duration.
func (c *Config) Validity() time.Duration {
	return time.Duration(c.TokenValidationPeriod) * time.Second
}
