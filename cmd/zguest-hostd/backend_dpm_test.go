package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/daemon"
	"github.com/zguest/zguest/hostside/hmcsim"
)

func TestDPMBackendOptions(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	inv := &hmcsim.Inventory{User: "admin", Password: "pw-123", APIVersion: "2.20", CPCs: []hmcsim.CPC{{
		ObjectID: "cpc1", Name: "CPC1", DPMEnabled: true, SEVersion: "2.14.0", ProcessorCountIFL: 8, StorageCustomer: 32768,
		Adapters:        []hmcsim.Adapter{{ObjectID: "osa1", Name: "OSA", AdapterID: "100", Type: "osd", Ports: 2}},
		VirtualSwitches: []hmcsim.VirtualSwitch{{ObjectID: "vs1", Name: "VS1", Adapter: "osa1", Port: 0}},
	}}}
	sim, err := hmcsim.Start(ctx, hmcsim.Options{Listen: "127.0.0.1:0", Inventory: inv})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	dir := t.TempDir()
	ca, pw := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "pw")
	os.WriteFile(ca, sim.CACertPEM(), 0o644)
	os.WriteFile(pw, []byte("pw-123\n"), 0o600)
	opts := func(extra string) json.RawMessage {
		return json.RawMessage(fmt.Sprintf(`{"hmc": {"url": %q, "ca_file": %q, "userid": "admin", "password_file": %q},
			"cpc_object_id": "cpc1", "host": "hostd-1", "max_processors": 2, "max_memory_mb": 4096,
			"networks": {"physnet1": {"virtual_switch": "vs1", "port": 1}}%s}`, sim.URL(), ca, pw, extra))
	}
	env := daemon.BackendEnv{Logger: slog.New(slog.DiscardHandler)}
	env.Options = opts("")
	b, err := newDPMBackend(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateGuest(ctx, api.GuestSpec{UserID: "W1", VCPUs: 1, Memory: 512}); err != nil {
		t.Fatal(err)
	}
	if _, ok := sim.Partition("OpenStack-hostd-1-W1"); !ok {
		t.Error("no partition")
	}
	env.Options = opts(`, "bogus": 1`)
	if _, err := newDPMBackend(ctx, env); err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Errorf("unknown key: %v", err)
	}
	os.Chmod(pw, 0o644)
	env.Options = opts("")
	if _, err := newDPMBackend(ctx, env); err == nil || !strings.Contains(err.Error(), "readable by others") {
		t.Errorf("open password file: %v", err)
	}
	os.Chmod(pw, 0o600)
	env.Options = opts(`, "job_timeout": "soon"`)
	if _, err := newDPMBackend(ctx, env); err == nil {
		t.Error("bad duration accepted")
	}
	env.Options = opts(`, "timeouts": {"import": "-5m"}`)
	if _, err := newDPMBackend(ctx, env); err == nil || !strings.Contains(err.Error(), "timeouts.import") {
		t.Errorf("bad import timeout: %v", err)
	}
}
