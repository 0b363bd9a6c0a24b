package api_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zguest/zguest/hostside/api"
)

// setupDeploys creates n guests and an image.
func setupDeploys(t *testing.T, e *env, n int) {
	t.Helper()
	ctx := context.Background()
	if r, err := e.cl.ImageImport(ctx, "img", "file:///x/img", map[string]any{"os_version": "ubuntu22.04"}, ""); err != nil || r.Status != 200 {
		t.Fatalf("import: %v %v", err, r)
	}
	for i := range n {
		if r, err := e.cl.GuestCreate(ctx, fmt.Sprintf("G%03d", i), 1, 512, nil); err != nil || r.Status != 200 {
			t.Fatalf("create: %v %v", err, r)
		}
	}
}

// deploy runs deploys of guests from..to-1 in the background; their
// statuses arrive on the channel.
func deploy(t *testing.T, e *env, from, to int) <-chan int {
	out := make(chan int, to-from)
	for i := from; i < to; i++ {
		go func() {
			r, err := e.cl.GuestDeploy(context.Background(), fmt.Sprintf("g%03d", i), "img", "/tmp/cfgdrive.iso", "")
			if err != nil {
				t.Error(err)
				out <- 0
				return
			}
			if r.Status == 503 && (r.OverallRC != 503 || r.ModID == nil || *r.ModID != 120 || r.RC != 503 || r.RS != 1 ||
				!strings.HasPrefix(r.ErrMsg, "Max concurrent deploy/capture requests received, request is rejected. action: 'deploy'")) {
				t.Errorf("503 envelope %s", r.Err())
			}
			out <- r.Status
		}()
	}
	return out
}

// waitInflight waits until n deploys run in the backend at once.
func waitInflight(t *testing.T, e *env, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for e.fake.Inflight("Deploy") < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d deploys in flight, want %d", e.fake.Inflight("Deploy"), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestDeployLimit: with the default limit, 20 deploys run together
// and the 21st gets 503 modID 120 rs 1.
func TestDeployLimit(t *testing.T) {
	e := newEnv(t, api.Options{})
	setupDeploys(t, e, 21)
	release := e.fake.Hold("Deploy")
	defer release()
	first := deploy(t, e, 0, 20)
	waitInflight(t, e, 20)
	if st := <-deploy(t, e, 20, 21); st != 503 {
		t.Errorf("21st deploy: %d, want 503", st)
	}
	// A capture shares the limit.
	if r, err := e.cl.GuestAction(context.Background(), "g020", "capture", map[string]any{"image": "c"}); err != nil || r.Status != 503 {
		t.Errorf("capture over the limit: %v %+v", err, r)
	}
	release()
	for range 20 {
		if st := <-first; st != 200 {
			t.Errorf("deploy within the limit: %d", st)
		}
	}
	// The slots come back: the next deploy runs.
	if st := <-deploy(t, e, 20, 21); st != 200 {
		t.Errorf("deploy after the burst: %d", st)
	}
}

// TestFiftyConcurrentDeploys: with the limit at 50, 50 deploys of
// different guests all run at once and succeed; the 51st gets 503.
func TestFiftyConcurrentDeploys(t *testing.T) {
	e := newEnv(t, api.Options{MaxDeployCapture: 50})
	setupDeploys(t, e, 51)
	release := e.fake.Hold("Deploy")
	defer release()
	all := deploy(t, e, 0, 50)
	waitInflight(t, e, 50)
	if st := <-deploy(t, e, 50, 51); st != 503 {
		t.Errorf("51st deploy: %d, want 503", st)
	}
	release()
	for range 50 {
		if st := <-all; st != 200 {
			t.Errorf("deploy: %d", st)
		}
	}
}

// TestSameGuestSerialized: calls for one userid never overlap, whatever
// the route; calls for different userids do.
func TestSameGuestSerialized(t *testing.T) {
	e := newEnv(t, api.Options{})
	ctx := context.Background()
	e.cl.GuestCreate(ctx, "one", 1, 512, nil)
	e.cl.GuestCreate(ctx, "two", 1, 512, nil)
	for _, m := range []string{"Action", "PowerState", "GuestInfo"} {
		e.fake.Delay(m, 20*time.Millisecond)
	}
	var wg sync.WaitGroup
	for i := range 10 {
		for _, u := range []string{"one", "ONE", "two"} {
			wg.Go(func() {
				var err error
				switch i % 3 {
				case 0:
					_, err = e.cl.GuestAction(ctx, u, "start", nil)
				case 1:
					_, err = e.cl.GuestGetPowerState(ctx, u)
				default:
					_, err = e.cl.GuestGetInfo(ctx, u)
				}
				if err != nil {
					t.Error(err)
				}
			})
		}
	}
	wg.Wait()
	if n := e.fake.Overlaps(); n != 0 {
		t.Errorf("%d calls overlapped another on the same guest", n)
	}
	if m := e.fake.MaxInflight("Action") + e.fake.MaxInflight("PowerState") + e.fake.MaxInflight("GuestInfo"); m < 2 {
		t.Errorf("different guests never ran in parallel")
	}
}

// TestAbandonedWait: a client that gives up while queued behind another
// operation on the same guest leaves no lock behind.
func TestAbandonedWait(t *testing.T) {
	e := newEnv(t, api.Options{})
	ctx := context.Background()
	e.cl.GuestCreate(ctx, "g", 1, 512, nil)
	e.fake.Delay("Action", 300*time.Millisecond)
	done := make(chan struct{})
	go func() { e.cl.GuestAction(ctx, "g", "start", nil); close(done) }()
	time.Sleep(50 * time.Millisecond)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := e.cl.GuestGetPowerState(short, "g"); err == nil {
		t.Error("queued call did not time out")
	}
	<-done
	if r, err := e.cl.GuestGetPowerState(ctx, "g"); err != nil || r.Status != 200 {
		t.Errorf("after abandon: %v %+v", err, r)
	}
}
