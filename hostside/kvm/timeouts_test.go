package kvm_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/kvm"
)

// TestKVMOperationDeadlines: each operation kind stops at its deadline
// when its slow part (qemu-img, scp through the runner, a guest that ignores shutdown)
// never ends, with an error naming the setting, and the image lock is
// released: the next import and deploy go through.
func TestKVMOperationDeadlines(t *testing.T) {
	ctx := context.Background()
	var slow atomic.Bool // qemu-img and scp hang until their context ends
	const d = 200 * time.Millisecond
	e := newEnv(t, func(c *kvm.Config) {
		inner := c.Run
		c.Run = func(ctx context.Context, argv ...string) ([]byte, error) {
			if slow.Load() {
				<-ctx.Done()
				return nil, context.Cause(ctx)
			}
			return inner(ctx, argv...)
		}
		c.Timeouts = kvm.Timeouts{Import: d, Deploy: d, Create: d, Power: d}
	})
	e.image("img")
	e.guest("P1")

	slow.Store(true)
	err := e.b.Deploy(ctx, "P1", api.DeploySpec{Image: "img"})
	wantCause(t, "deploy", err)
	_, err = e.b.CreateGuest(ctx, api.GuestSpec{UserID: "P2", VCPUs: 1, Memory: 512, DiskList: []api.Disk{{Size: "1g"}}})
	wantCause(t, "create", err)
	err = e.b.ImportImage(ctx, api.ImageImport{ImageName: "far", URL: "file:///x/far.raw", RemoteHost: "nova@192.0.2.9"})
	wantCause(t, "import", err)
	if err := e.b.Action(ctx, "P1", api.PowerAction{Name: "start"}); err != nil {
		t.Fatal(err)
	}
	e.f.GuestShutdown = false // the guest ignores the shutdown request
	err = e.b.Action(ctx, "P1", api.PowerAction{Name: "softstop", Timeout: 600})
	wantCause(t, "power", err)

	slow.Store(false)
	done := make(chan error, 1)
	go func() {
		e.image("img2") // takes the image lock for writing
		if err := e.b.Action(ctx, "P1", api.PowerAction{Name: "stop"}); err != nil {
			done <- err
			return
		}
		done <- e.b.Deploy(ctx, "P1", api.DeploySpec{Image: "img2"})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("work after the deadlines: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the image lock is still held after the deadlines")
	}
}

func wantCause(t *testing.T, kind string, err error) {
	t.Helper()
	want := kind + " took longer than 200ms (backend_options.timeouts." + kind + ")"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("%s past its deadline: %v; want an error containing %q", kind, err, want)
	}
}
