package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/zguest/zguest/hostside/daemon"
)

// TestKVMBackendOptions checks that backend_options are decoded
// strictly and checked before any connection is made.
func TestKVMBackendOptions(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tests := []struct {
		opts string
		err  string
	}{
		{`{}`, "network.type"},
		{`{"network": {"type": "user"}, "bogus": 1}`, "bogus"},
		{`{"network": {"type": "user"}, "stop_timeout": "soon"}`, "stop_timeout"},
		{`{"network": {"type": "user"}, "connect_timeout": "-1s"}`, "connect_timeout"},
		{`{"network": {"type": "user"}, "timeouts": {"deploy": "forever"}}`, "timeouts.deploy"},
		{`{"network": {"type": "user", "sauce": "x"}}`, "sauce"},
		{`{"network": {"type": "bridge"}, "storage_dir": "/tmp/x"}`, "source"},
		{`{"network": {"type": "user"}, "storage_dir": "relative"}`, "storage_dir"},
		{`{"network": {"type": "user"}, "config_drive_bus": "ide"}`, "drive bus"},
		{`{"network": {"type": "user"}, "disk_mode": "thin"}`, "disk mode"},
		{`{"network": {"type": "user"}, "domain_type": "xen"}`, "domain type"},
		{`{"network": {"type": "user"}, "on_crash": "coredump-restart"}`, "on_crash"},
		// Valid options get as far as dialling libvirtd.
		{`{"network": {"type": "user"}, "socket": "/nonexistent/libvirt-sock", "connect_timeout": "100ms"}`, "/nonexistent/libvirt-sock"},
	}
	for _, tc := range tests {
		env := daemon.BackendEnv{Logger: slog.New(slog.DiscardHandler), Options: json.RawMessage(tc.opts), StateDir: t.TempDir()}
		_, err := newKVMBackend(ctx, env)
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: got %v, want %q", tc.opts, err, tc.err)
		}
	}
	if _, ok := backends["kvm"]; !ok {
		t.Error("kvm is not registered")
	}
}
