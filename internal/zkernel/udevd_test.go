package zkernel

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// slowSink stands for udevd's rule processing and broadcast, which take
// a while per event.
type slowSink struct{}

func (slowSink) Send(Uevent) error {
	for t := time.Now(); time.Since(t) < 20*time.Microsecond; {
	}
	return nil
}

// TestUdevdBurstOneDevice sends 5000 events of one device as fast as
// they come, from several senders, while the device's worker runs (what
// 5000 files arriving in the z/VM reader do to 0.0.000c): an event that
// arrives between the worker taking its last event off the queue and
// the worker seeing the queue empty must not start a second worker for
// the device, which then processed the same event twice and panicked
// with "slice bounds out of range [1:0]". Every event is processed
// once, in order per sender.
func TestUdevdBurstOneDevice(t *testing.T) {
	k := &Kernel{start: time.Now(), cfg: Config{Events: slowSink{}}}
	k.udev.init()
	defer k.udev.stop()
	const senders, each = 8, 625
	// Widen the window a scheduler opens only now and then: whenever a
	// worker has taken the last event off the queue, one more event of
	// the same device arrives right then (as sender -1, not counted), up
	// to 200 times.
	var injected atomic.Int64
	k.udev.popped = func(key string) {
		k.udev.mu.Lock()
		empty := len(k.udev.pending[key]) == 0
		k.udev.mu.Unlock()
		if empty && injected.Add(1) <= 200 {
			k.udevEnqueue(udevItem{ev: Uevent{Action: "change", DevPath: "/devices/css0/0.0.0000/0.0.000c", Subsystem: "ccw",
				Props: map[string]string{"SENDER": "-1"}}})
		}
	}
	var wg sync.WaitGroup
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				ev := Uevent{Action: "change", DevPath: "/devices/css0/0.0.0000/0.0.000c", Subsystem: "ccw",
					Props: map[string]string{"SENDER": strconv.Itoa(s), "N": strconv.Itoa(i)}}
				k.udevEnqueue(udevItem{ev: ev})
				if i%4 == 0 {
					// Now and then a pause, so the queue runs empty.
					time.Sleep(50 * time.Microsecond)
				}
			}
		}()
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := k.Settle(ctx); err != nil {
		t.Fatal(err)
	}
	evs := k.UdevEvents()
	extra := 0
	next := make([]int, senders)
	for _, ev := range evs {
		s, _ := strconv.Atoi(ev.Props["SENDER"])
		if s < 0 {
			extra++
			continue
		}
		n, _ := strconv.Atoi(ev.Props["N"])
		if n != next[s] {
			t.Fatalf("sender %d: event %d processed after %d: order lost", s, n, next[s]-1)
		}
		next[s]++
	}
	if n := len(evs) - extra; n != senders*each || extra == 0 {
		t.Fatalf("%d events processed (and %d injected), want %d", n, extra, senders*each)
	}
}
