package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/daemon"
	"github.com/zguest/zguest/hostside/dpm"
	"github.com/zguest/zguest/hostside/hmc"
)

func init() {
	backends["dpm"] = newDPMBackend
}

// dpmOptions is the config's backend_options for "backend": "dpm".
type dpmOptions struct {
	HMC struct {
		URL          string `json:"url"`           // https://hmc:6794
		CAFile       string `json:"ca_file"`       // PEM CA the HMC's certificate must chain to
		UserID       string `json:"userid"`        // HMC user
		PasswordFile string `json:"password_file"` // readable by its owner only
		Timeout      string `json:"timeout"`       // per request, e.g. "60s"
	} `json:"hmc"`
	CPC           string `json:"cpc_object_id"`
	Host          string `json:"host"` // host identifier in partition names, 1-45 of [A-Za-z0-9_-]
	MaxProcessors int    `json:"max_processors"`
	MaxMemoryMB   int    `json:"max_memory_mb"`
	// Networks maps physical networks to virtual switch object ids and
	// the adapter port to write into the NIC tokens (absent: the switch's).
	Networks map[string]struct {
		VSwitch string `json:"virtual_switch"`
		Port    *int   `json:"port"`
	} `json:"networks"`
	DefaultNetwork  string `json:"default_network"`
	StorageMappings []struct {
		Adapter string `json:"adapter"`
		Port    int    `json:"port"`
	} `json:"storage_mappings"` // z13 class only: HBAs made on these ports
	JobTimeout    string `json:"job_timeout"`
	StatusTimeout string `json:"status_timeout"`
	// Boot volumes and images (hostside/dpm/README.md "Storage").
	BootPool      []string `json:"boot_pool"`      // storage group object ids reserved for boot volumes
	OwnPartition  string   `json:"own_partition"`  // the partition this daemon runs in
	DeviceDir     string   `json:"device_dir"`     // LUN device links, default /dev/disk/by-id
	DeviceTimeout string   `json:"device_timeout"` // wait for a LUN's device, e.g. "60s"
	SSHPort       int      `json:"remotehost_sshd_port"`
	// Timeouts per operation kind, on top of job_timeout and
	// status_timeout (each wait) and hmc.timeout (each call).
	Timeouts opTimeoutOptions `json:"timeouts"`
}

func newDPMBackend(ctx context.Context, env daemon.BackendEnv) (api.Backend, error) {
	var o dpmOptions
	dec := json.NewDecoder(bytes.NewReader(env.Options))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o); err != nil {
		return nil, fmt.Errorf("backend_options for dpm: %w", err)
	}
	if o.HMC.URL == "" || o.HMC.CAFile == "" || o.HMC.UserID == "" || o.HMC.PasswordFile == "" {
		return nil, fmt.Errorf("backend_options.hmc needs url, ca_file, userid and password_file")
	}
	ca, err := os.ReadFile(o.HMC.CAFile)
	if err != nil {
		return nil, fmt.Errorf("backend_options.hmc.ca_file: %w", err)
	}
	pw, err := readSecret(o.HMC.PasswordFile)
	if err != nil {
		return nil, fmt.Errorf("backend_options.hmc.password_file: %w", err)
	}
	dur := func(name, s string) (time.Duration, error) {
		if s == "" {
			return 0, nil
		}
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return 0, fmt.Errorf("backend_options.%s %q: want a positive duration like \"60s\"", name, s)
		}
		return d, nil
	}
	cfg := dpm.Config{CPC: o.CPC, Host: o.Host, MaxProcessors: o.MaxProcessors, MaxMemoryMB: o.MaxMemoryMB,
		DefaultNetwork: o.DefaultNetwork, Networks: map[string]dpm.Network{}, Log: env.Logger, Sources: env.Sources}
	hc := hmc.Config{URL: o.HMC.URL, CA: ca, UserID: o.HMC.UserID, Password: pw, Log: env.Logger}
	if hc.Timeout, err = dur("hmc.timeout", o.HMC.Timeout); err != nil {
		return nil, err
	}
	if cfg.JobTimeout, err = dur("job_timeout", o.JobTimeout); err != nil {
		return nil, err
	}
	if cfg.StatusTimeout, err = dur("status_timeout", o.StatusTimeout); err != nil {
		return nil, err
	}
	if cfg.DeviceTimeout, err = dur("device_timeout", o.DeviceTimeout); err != nil {
		return nil, err
	}
	if cfg.Timeouts, err = o.Timeouts.parse(); err != nil {
		return nil, err
	}
	cfg.Store, cfg.ImageDir, cfg.SCP.Port = env.Store, filepath.Join(env.StateDir, "dpm-images"), o.SSHPort
	cfg.BootPool, cfg.OwnPartition, cfg.DeviceDir = o.BootPool, o.OwnPartition, o.DeviceDir
	for name, n := range o.Networks {
		cfg.Networks[name] = dpm.Network{VSwitch: n.VSwitch, Port: n.Port}
	}
	for _, s := range o.StorageMappings {
		cfg.Storage = append(cfg.Storage, dpm.StorageMapping{Adapter: s.Adapter, Port: s.Port})
	}
	if cfg.HMC, err = hmc.New(hc); err != nil {
		return nil, err
	}
	b, err := dpm.New(ctx, cfg)
	if err != nil {
		_ = cfg.HMC.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	// Log off when the daemon stops (its context ends at shutdown).
	go func() {
		<-ctx.Done()
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.Close(cctx); err != nil {
			env.Logger.Warn("HMC logoff", "error", err)
		}
	}()
	return b, nil
}
