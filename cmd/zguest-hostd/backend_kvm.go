package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/daemon"
	"github.com/zguest/zguest/hostside/kvm"
)

func init() {
	backends["kvm"] = newKVMBackend
}

// kvmOptions is the config's backend_options for "backend": "kvm".
type kvmOptions struct {
	// Socket is libvirtd's local socket (default /run/libvirt/libvirt-sock),
	// URI the connection URI (default qemu:///system).
	Socket         string `json:"socket"`
	URI            string `json:"uri"`
	ConnectTimeout string `json:"connect_timeout"` // default "10s"
	// StorageDir holds images and guests (default <state_dir>/kvm).
	StorageDir    string `json:"storage_dir"`
	ConsoleLogDir string `json:"console_log_dir"`
	DomainPrefix  string `json:"domain_prefix"` // default "zguest-"
	DomainType    string `json:"domain_type"`   // kvm, qemu, "" = kvm if offered
	CPUModel      string `json:"cpu_model"`     // when host-model is unsupported; default max
	Network       struct {
		Type   string `json:"type"`   // user, network, bridge, direct
		Source string `json:"source"` // network, bridge or host device name
		Mode   string `json:"mode"`   // direct only: bridge (default), vepa, private, passthrough
	} `json:"network"`
	ConfigDriveBus string `json:"config_drive_bus"` // scsi (default) or virtio
	DiskMode       string `json:"disk_mode"`        // overlay (default) or copy
	MaxVCPUs       int    `json:"max_vcpus"`
	MaxMemoryMB    int    `json:"max_memory_mb"`
	StopTimeout    string `json:"stop_timeout"` // graceful stop before destroy, default "60s"
	OnCrash        string `json:"on_crash"`     // destroy (default) or preserve
	QemuImg        string `json:"qemu_img"`     // default qemu-img from $PATH
	// SCP and SSHPort copy images from and to nova's host (image_import
	// and image_export with remote_host), as the z/VM backend's options.
	SCP      string           `json:"scp"`                  // default /usr/bin/scp
	SSHPort  int              `json:"remotehost_sshd_port"` // default 22
	Timeouts opTimeoutOptions `json:"timeouts"`
}

func newKVMBackend(ctx context.Context, env daemon.BackendEnv) (api.Backend, error) {
	var o kvmOptions
	if len(env.Options) > 0 {
		dec := json.NewDecoder(bytes.NewReader(env.Options))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&o); err != nil {
			return nil, fmt.Errorf("backend_options for kvm: %w", err)
		}
	}
	if o.Network.Type == "" {
		return nil, fmt.Errorf(`backend_options.network.type for kvm: set "user" (qemu's NAT), "network", "bridge" or "direct" (with "source")`)
	}
	dur := func(name, s string, def time.Duration) (time.Duration, error) {
		if s == "" {
			return def, nil
		}
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return 0, fmt.Errorf("backend_options.%s %q: want a positive duration like \"60s\"", name, s)
		}
		return d, nil
	}
	connTimeout, err := dur("connect_timeout", o.ConnectTimeout, 10*time.Second)
	if err != nil {
		return nil, err
	}
	stop, err := dur("stop_timeout", o.StopTimeout, 60*time.Second)
	if err != nil {
		return nil, err
	}
	tos, err := o.Timeouts.parse()
	if err != nil {
		return nil, err
	}
	if o.StorageDir == "" {
		if o.StorageDir, err = filepath.Abs(filepath.Join(env.StateDir, "kvm")); err != nil {
			return nil, err
		}
	}
	b, err := kvm.New(ctx, kvm.Config{
		Dial:          kvm.Dial(o.Socket, o.URI, connTimeout),
		StorageDir:    o.StorageDir,
		Sources:       env.Sources,
		ConsoleLogDir: o.ConsoleLogDir,
		DomainPrefix:  o.DomainPrefix,
		DomainType:    o.DomainType,
		CPUModel:      o.CPUModel,
		Network:       kvm.NetworkConfig{Type: o.Network.Type, Source: o.Network.Source, Mode: o.Network.Mode},
		DriveBus:      o.ConfigDriveBus,
		DiskMode:      o.DiskMode,
		MaxVCPUs:      o.MaxVCPUs,
		MaxMemoryMB:   o.MaxMemoryMB,
		StopTimeout:   stop,
		Timeouts:      tos,
		OnCrash:       o.OnCrash,
		QemuImg:       o.QemuImg,
		SCP:           o.SCP,
		SSHPort:       o.SSHPort,
		Log:           env.Logger,
	})
	if err != nil {
		return nil, err
	}
	// Drop the libvirt connection when the daemon stops.
	go func() {
		<-ctx.Done()
		if err := b.Close(); err != nil {
			env.Logger.Warn("libvirt disconnect", "error", err)
		}
	}()
	return b, nil
}
