package dpm_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/internal/testutil"
	"github.com/zguest/zguest/internal/zkernel"
	"github.com/zguest/zguest/internal/zkernel/zkerneltest"
)

// TestAgentReadsTheBootString takes the boot-os-specific-parameters the
// backend wrote, appends it to a kernel command line, and runs the built
// agent on the emulated kernel with the NICs the HMC allocated: each
// comes up with the MAC the daemon was asked for.
func TestAgentReadsTheBootString(t *testing.T) {
	testutil.RequireRoot(t, "FUSE mounts and network namespaces for the emulated kernel")
	e := setup(t, inventory("2.13", true), nil) // 2.13: the MAC reaches the guest only through the string
	if _, err := e.b.CreateGuest(ctx, api.GuestSpec{UserID: "AGENT", VCPUs: 1, Memory: 512}); err != nil {
		t.Fatal(err)
	}
	out, err := e.b.CreateNetworkInterface(ctx, "AGENT", api.InterfaceSpec{GuestNetworks: nets(4)})
	if err != nil {
		t.Fatal(err)
	}
	bosp, err := e.b.BootParams(ctx, "AGENT")
	if err != nil {
		t.Fatal(err)
	}
	var devs []zkernel.Device
	want := map[string]string{}
	for i, n := range out {
		id := "0.0." + strings.ToLower(n.NICVdev)
		d, err := zkernel.QethDevices(zkernel.KindOSD, uint8(0x10+i), id)
		if err != nil {
			t.Fatal(err)
		}
		devs = append(devs, d...)
		want[id] = n.MACAddr
	}
	if !strings.Contains(bosp, "000A,") {
		t.Fatalf("want an upper-case device number in %q", bosp)
	}
	env := zkerneltest.Start(t, zkernel.Config{Devices: devs, Cmdline: "root=UUID=0001abcd-0000-4000-8000-0123456789ab ro" + bosp, RenameDelay: 5 * time.Millisecond})

	bin := testutil.GoBuild(t, filepath.Join(t.TempDir(), "zguest-agent"), "github.com/zguest/zguest/cmd/zguest-agent", "netgo,osusergo", "CGO_ENABLED=1")
	rctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := env.Command(rctx, bin, "--root", env.Root, "--timeout", "20s", "activate")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Run(); err != nil {
		t.Fatalf("agent: %v\n%s", err, logs.String())
	}
	for id, mac := range want {
		g, ok := env.Kernel.Group(id)
		if !ok || !g.Online || g.Layer2 != 1 || g.PortNo != 1 {
			t.Errorf("%s: group %+v", id, g)
			continue
		}
		l, err := env.Link(zkernel.SystemdName(id))
		if err != nil {
			t.Errorf("%s: %v", id, err)
			continue
		}
		if l.MAC != mac {
			t.Errorf("%s: MAC %s, want %s", id, l.MAC, mac)
		}
	}
	if t.Failed() {
		t.Logf("cmdline tail %q\n%s", bosp, logs.String())
	}
}
