package api_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/api/apitest"
)

// stuckDeploy is a backend whose deploys of image "stuck" wait until
// their request's context ends, as a copy from a hung source would.
type stuckDeploy struct {
	*apitest.Fake
	ended chan error
}

func (s stuckDeploy) Deploy(ctx context.Context, userid string, d api.DeploySpec) error {
	if d.Image != "stuck" {
		return s.Fake.Deploy(ctx, userid, d)
	}
	<-ctx.Done()
	s.ended <- ctx.Err()
	return ctx.Err()
}

// TestAbandonedDeployReleasesSlotAndLock: a client that goes away
// cancels its deploy's context, and the deploy slot and the guest's lock
// come back: with one slot, the next deploy of the same guest and a
// DELETE succeed.
func TestAbandonedDeployReleasesSlotAndLock(t *testing.T) {
	b := stuckDeploy{Fake: apitest.NewFake(), ended: make(chan error, 1)}
	srv := httptest.NewServer(api.NewHandler(b, api.Options{MaxDeployCapture: 1}))
	defer srv.Close()
	cl := &apitest.Client{Base: srv.URL, HTTP: srv.Client()}
	ctx := context.Background()
	r, err := cl.ImageImport(ctx, "img", "file:///x/img", map[string]any{"os_version": "rhel9"}, "")
	ok(t, "import", r, err)
	r, err = cl.GuestCreate(ctx, "g1", 1, 512, []map[string]any{{"size": "1g", "is_boot_disk": true}})
	ok(t, "create", r, err)
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := cl.GuestDeploy(cctx, "g1", "stuck", "", ""); err == nil {
		t.Fatal("the stuck deploy answered")
	}
	select {
	case err := <-b.ended:
		if err == nil {
			t.Error("deploy ended without a cancelled context")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the abandoned deploy's context was never cancelled")
	}
	r, err = cl.GuestDeploy(ctx, "g1", "img", "", "")
	ok(t, "deploy after the abandoned one (the one slot, the guest's lock)", r, err)
	r, err = cl.GuestDelete(ctx, "g1")
	ok(t, "delete", r, err)
}
