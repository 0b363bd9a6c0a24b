package dpm_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/dpm"
	"github.com/zguest/zguest/hostside/imagerepo"
)

// hangingVolumes is a volume writer whose open never finishes before
// the operation's context ends.
type hangingVolumes struct{}

func (hangingVolumes) Open(ctx context.Context, v dpm.Volume) (dpm.VolumeFile, error) {
	<-ctx.Done()
	return nil, context.Cause(ctx)
}

// TestDPMOperationDeadlines: an import whose scp never ends and a deploy
// whose boot volume never opens stop at their deadlines with an error
// naming the setting; the image name and the guest's boot volume are
// free afterwards (the same import and deploy then go through).
func TestDPMOperationDeadlines(t *testing.T) {
	e := poolSetup(t)
	ctx := context.Background()
	scp := filepath.Join(t.TempDir(), "scp")
	os.WriteFile(scp, []byte("#!/bin/sh\nexec sleep 300\n"), 0o755)
	cfg := e.cfg
	cfg.SCP = imagerepo.SCP{Binary: scp}
	cfg.Volumes = hangingVolumes{}
	const d = 300 * time.Millisecond
	cfg.Timeouts = api.OpTimeouts{Import: d, Deploy: d}
	slow, err := dpm.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, _, qcow := testImages(t)
	meta := map[string]string{"os_version": "ubuntu22.04"}
	err = slow.ImportImage(ctx, api.ImageImport{ImageName: "img-q", URL: "file://" + qcow, RemoteHost: "nova@192.0.2.9", ImageMeta: meta})
	wantDeadline(t, "import", err)
	if err := e.b.ImportImage(ctx, api.ImageImport{ImageName: "img-q", URL: "file://" + qcow, ImageMeta: meta}); err != nil {
		t.Fatalf("import after the timed-out one: %v", err)
	}
	if _, err := e.b.CreateGuest(ctx, api.GuestSpec{UserID: "G1", VCPUs: 1, Memory: 1024, DiskList: []api.Disk{{Size: "1g", IsBootDisk: true}}}); err != nil {
		t.Fatal(err)
	}
	wantDeadline(t, "deploy", slow.Deploy(ctx, "G1", api.DeploySpec{Image: "img-q"}))
	if err := e.b.Deploy(ctx, "G1", api.DeploySpec{Image: "img-q"}); err != nil {
		t.Fatalf("deploy after the timed-out one: %v", err)
	}
}

func wantDeadline(t *testing.T, kind string, err error) {
	t.Helper()
	want := kind + " took longer than 300ms (backend_options.timeouts." + kind + ")"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("%s past its deadline: %v; want an error containing %q", kind, err, want)
	}
}
