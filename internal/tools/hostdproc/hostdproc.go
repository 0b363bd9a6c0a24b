// Package hostdproc runs a built zguest-hostd binary for the demo and the
// benchmarks: it writes the configuration, starts the process, waits
// until it answers, and stops it. By default the daemon runs the z/VM
// backend in simulation mode (SMAPI and CP of a zvmsim simulator); with
// Options.Backend it runs any backend with the given backend_options
// (the demo's DPM part: "dpm" against the HMC simulator).
package hostdproc

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/zguest/zguest/hostside/api/apitest"
)

// Options say where the daemon finds the simulator and keeps its files.
type Options struct {
	Binary     string // the zguest-hostd binary
	Dir        string // holds hostd.json, hostd.log, state/ (and images/ for z/VM)
	MaxDeploys int    // max_concurrent_deploy_capture; 0 keeps the daemon's default (20)

	// Backend is the config's "backend"; "" (or "zvm" with nil
	// BackendOptions) is the z/VM backend on the simulator at SMAPIAddr
	// and CPAddr. Any other backend, or "zvm" with BackendOptions, takes
	// BackendOptions verbatim as the config's backend_options (anything
	// encoding/json marshals; a struct keeps its field order).
	Backend        string
	BackendOptions any

	// SourceDirs are the daemon's source_dirs, where the files requests
	// name must be; nil: Dir.
	SourceDirs []string

	SMAPIAddr string // z/VM: the simulator's SMAPI listener
	CPAddr    string // z/VM: the simulator's CP listener
}

// Daemon is a running zguest-hostd process.
type Daemon struct {
	Cmd        *exec.Cmd
	Client     *apitest.Client
	ConfigPath string
	Config     []byte // the configuration written, indented JSON
	logPath    string
	done       chan error
}

// Start writes the configuration, starts the daemon and waits (up to
// 15 s) until it answers GET /.
func Start(ctx context.Context, o Options) (*Daemon, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("free port: %w", err)
	}
	listen := l.Addr().String()
	l.Close()
	// A struct keeps the keys in the order a reader expects.
	var cfg struct {
		Listen     string   `json:"listen"`
		StateDir   string   `json:"state_dir"`
		MaxDeploys int      `json:"max_concurrent_deploy_capture,omitempty"`
		SourceDirs []string `json:"source_dirs"`
		Backend    string   `json:"backend"`
		Options    any      `json:"backend_options"`
	}
	cfg.Listen, cfg.StateDir, cfg.MaxDeploys = listen, filepath.Join(o.Dir, "state"), o.MaxDeploys
	cfg.Backend, cfg.Options = o.Backend, o.BackendOptions
	cfg.SourceDirs = o.SourceDirs
	if cfg.SourceDirs == nil {
		cfg.SourceDirs = []string{o.Dir}
	}
	if cfg.Backend == "" {
		cfg.Backend = "zvm"
	}
	if cfg.Backend == "zvm" && cfg.Options == nil {
		cfg.Options = zvmOptions(o)
	}
	if cfg.Options == nil {
		return nil, fmt.Errorf("daemon config: backend %q needs BackendOptions", cfg.Backend)
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("daemon config: %w", err)
	}
	d := &Daemon{ConfigPath: filepath.Join(o.Dir, "hostd.json"), Config: b, logPath: filepath.Join(o.Dir, "hostd.log"), done: make(chan error, 1)}
	if err := os.WriteFile(d.ConfigPath, b, 0o600); err != nil {
		return nil, fmt.Errorf("daemon config: %w", err)
	}
	logf, err := os.Create(d.logPath)
	if err != nil {
		return nil, fmt.Errorf("daemon log: %w", err)
	}
	defer logf.Close()
	d.Cmd = exec.Command(o.Binary, "--config", d.ConfigPath)
	d.Cmd.Stdout, d.Cmd.Stderr = logf, logf
	if err := d.Cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", o.Binary, err)
	}
	d.Client = &apitest.Client{Base: "http://" + listen}
	go func() { d.done <- d.Cmd.Wait() }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err = d.Client.Version(ctx); err == nil {
			return d, nil
		}
		select {
		case werr := <-d.done:
			d.done <- werr
			return nil, fmt.Errorf("zguest-hostd exited: %v%s", werr, d.LogTail())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			d.Stop()
			return nil, fmt.Errorf("zguest-hostd does not answer: %w%s", err, d.LogTail())
		}
	}
}

// zvmOptions are the z/VM backend's options in simulation mode.
func zvmOptions(o Options) any {
	type addr struct {
		Mode    string `json:"mode,omitempty"`
		Address string `json:"address"`
	}
	var z struct {
		SMAPI     addr   `json:"smapi"`
		CP        addr   `json:"cp"`
		ImageRepo string `json:"image_repository"`
		DiskPool  string `json:"disk_pool"`
	}
	z.SMAPI = addr{Address: o.SMAPIAddr}
	z.CP = addr{Mode: "simulation", Address: o.CPAddr}
	z.ImageRepo, z.DiskPool = filepath.Join(o.Dir, "images"), "ECKD:POOL1"
	return z
}

// LogPath is the daemon's log file.
func (d *Daemon) LogPath() string { return d.logPath }

// Stop sends SIGTERM and waits (SIGKILL after 10 s).
func (d *Daemon) Stop() {
	d.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.done:
		d.done <- err
	case <-time.After(10 * time.Second):
		d.Cmd.Process.Kill()
	}
}

// LogTail returns the daemon's last log lines, for error messages.
func (d *Daemon) LogTail() string {
	b, _ := os.ReadFile(d.logPath)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return "\nzguest-hostd's log:\n  " + strings.Join(lines, "\n  ")
}
