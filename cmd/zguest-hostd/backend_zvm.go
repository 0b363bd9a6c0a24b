package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/daemon"
	"github.com/zguest/zguest/hostside/smapi"
	"github.com/zguest/zguest/hostside/zvm"
	"github.com/zguest/zguest/hostside/zvmcp"
)

func init() {
	backends["zvm"] = newZVMBackend
}

// zvmOptions is the config's backend_options for "backend": "zvm".
type zvmOptions struct {
	SMAPI struct {
		Address      string `json:"address"`       // host:port of SMAPI's TCP server
		UserID       string `json:"userid"`        // SMAPI authenticated userid
		PasswordFile string `json:"password_file"` // file holding the password; readable by its owner only
		Timeout      string `json:"timeout"`       // per call, e.g. "60s"
	} `json:"smapi"`
	// CP says how the daemon reaches CP and the spool: "native" (the
	// /dev/vmcp and punch devices of the z/VM guest it runs in, as the
	// original connector does) or "simulation" (a zguest-sim zvm
	// process's CP endpoint; for demos and tests only).
	CP struct {
		Mode    string `json:"mode"`
		Address string `json:"address"` // simulation: tcp host:port or unix:PATH
	} `json:"cp"`
	ImageRepository string       `json:"image_repository"`
	DiskPool        string       `json:"disk_pool"` // "ECKD:POOL1" or "FBA:POOL1"
	UserProfile     string       `json:"user_profile"`
	RootVdev        string       `json:"user_root_vdev"`
	NICVdev         string       `json:"default_nic_vdev"`
	MaxCPU          int          `json:"max_cpu"`
	MaxMem          string       `json:"max_mem"`
	SSHPort         int          `json:"remotehost_sshd_port"`
	Host            hostOverride `json:"host"`
	// Root, if set, is where the daemon finds its guest's /proc/sysinfo;
	// by default CP's access provides it (native: /proc/sysinfo; in
	// simulation the simulator answers with its own).
	Root string `json:"root"`
	// Timeouts per operation kind, durations like "30m" (defaults:
	// import 1h, deploy 1h, transport 10m).
	Timeouts struct {
		Import    string `json:"import"`
		Deploy    string `json:"deploy"`
		Transport string `json:"transport"`
	} `json:"timeouts"`
}

// hostOverride is what the configuration may change of GET /host: the
// hypervisor_hostname (nova's node name); every other figure comes from
// z/VM.
type hostOverride struct {
	HypervisorHostname string `json:"hypervisor_hostname"`
}

func newZVMBackend(ctx context.Context, env daemon.BackendEnv) (api.Backend, error) {
	var o zvmOptions
	dec := json.NewDecoder(bytes.NewReader(env.Options))
	dec.DisallowUnknownFields()
	if len(env.Options) > 0 {
		if err := dec.Decode(&o); err != nil {
			return nil, fmt.Errorf("backend_options for zvm: %w", err)
		}
	}
	if o.SMAPI.Address == "" {
		return nil, fmt.Errorf("backend_options.smapi.address is required (SMAPI's TCP server, e.g. \"127.0.0.1:44444\")")
	}
	client := &smapi.Client{Addr: o.SMAPI.Address, UserID: o.SMAPI.UserID, Log: env.Logger}
	if o.SMAPI.Timeout != "" {
		d, err := time.ParseDuration(o.SMAPI.Timeout)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("backend_options.smapi.timeout %q: want a positive duration like \"60s\"", o.SMAPI.Timeout)
		}
		client.Timeout = d
	}
	if o.SMAPI.PasswordFile != "" {
		pw, err := readSecret(o.SMAPI.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("backend_options.smapi.password_file: %w", err)
		}
		client.Password = pw
	}
	var cp zvmcp.CP
	var disks zvmcp.Disks
	switch o.CP.Mode {
	case "", "native":
		n := &zvmcp.Native{Root: "/"}
		cp, disks = n, n
	case "simulation":
		if o.CP.Address == "" {
			return nil, fmt.Errorf("backend_options.cp.address is required with mode \"simulation\"")
		}
		r := zvmcp.Remote{Network: "tcp", Addr: o.CP.Address}
		if p, ok := strings.CutPrefix(o.CP.Address, "unix:"); ok {
			r = zvmcp.Remote{Network: "unix", Addr: p}
		}
		cp, disks = r, r
		env.Logger.Warn("CP and the spool are reached through a simulator (backend_options.cp.mode = simulation); never use this in production")
	default:
		return nil, fmt.Errorf("backend_options.cp.mode %q: want \"native\" or \"simulation\"", o.CP.Mode)
	}
	var tos zvm.Timeouts
	for _, t := range []struct {
		name, s string
		d       *time.Duration
	}{{"import", o.Timeouts.Import, &tos.Import}, {"deploy", o.Timeouts.Deploy, &tos.Deploy}, {"transport", o.Timeouts.Transport, &tos.Transport}} {
		if t.s == "" {
			continue
		}
		d, err := time.ParseDuration(t.s)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("backend_options.timeouts.%s %q: want a positive duration like \"30m\"", t.name, t.s)
		}
		*t.d = d
	}
	var st zvm.Store
	if env.Store != nil {
		st = zvm.NewBoltStore(env.Store)
	}
	b, err := zvm.New(zvm.Config{
		SMAPI: client, CP: cp, Disks: disks, Store: st,
		ImageRepo: o.ImageRepository, DiskPool: o.DiskPool, Profile: o.UserProfile,
		RootVdev: o.RootVdev, NICVdev: o.NICVdev, MaxCPU: o.MaxCPU, MaxMem: o.MaxMem,
		SSHPort: o.SSHPort, HostName: o.Host.HypervisorHostname, Root: o.Root, Log: env.Logger, Timeouts: tos, Sources: env.Sources,
	})
	if err != nil {
		return nil, err
	}
	// SMAPI clients ask the server's functional level first (any target
	// name does; the authenticated userid when there is one).
	target := client.UserID
	if target == "" {
		target = "ZGUEST"
	}
	if lvl, err := client.QueryAPIFunctionalLevel(ctx, target); err != nil {
		env.Logger.Warn("SMAPI Query_API_Functional_Level failed", "err", err)
	} else {
		env.Logger.Info("SMAPI server", "address", o.SMAPI.Address, "api_level", lvl, "release", smapi.LevelName(lvl))
	}
	// Settle what a crash left half done before the daemon listens.
	if err := b.Recover(ctx); err != nil {
		return nil, err
	}
	return b, nil
}

// readSecret reads a secret file that only its owner may read.
func readSecret(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("%s is readable by others (mode %v); chmod 600 it", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}
