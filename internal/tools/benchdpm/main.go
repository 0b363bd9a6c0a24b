// Command benchdpm measures the DPM backend (hostside/dpm) against the
// HMC simulator (hostside/hmcsim), both in this process, the backend
// talking to the simulator over real HTTPS on loopback: the latency of
// nova's spawn of a 4-NIC partition (create, network interface with four
// NICs, deploy from a boot volume, start) with 0 ms and with 50 ms of
// simulated HMC latency per request, the HMC requests per spawn by
// request (from the simulator's counters), and whether 20 concurrent
// spawns at 50 ms take no longer than 2 sequential ones.
//
// The daemon's REST layer is not in the loop (bench-hostd measures it);
// a spawn here is the four backend calls the REST calls map to.
//
//	benchdpm [-inventory testdata/hmc/dpm-z14.yaml] [-n0 100] [-n50 20] [-concurrent 20]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/dpm"
	"github.com/zguest/zguest/hostside/hmc"
	"github.com/zguest/zguest/hostside/hmcsim"
)

// The z14 inventory's CPC, credentials, a virtual switch and a boot
// volume (testdata/hmc/dpm-z14.yaml).
const (
	cpc      = "1f5b4c7e-0a4a-4c1a-9f1e-5a0c2b7d9e01"
	user     = "hmcuser"
	password = "hmcpass-sim"
	vswitch  = "5e000002-0000-4000-8000-000000000002"
	bootVol  = "/api/storage-groups/56000001-0000-4000-8000-000000000001/storage-volumes/5f000001-0000-4000-8000-000000000001"
	nics     = 4
)

func main() {
	inv := flag.String("inventory", "testdata/hmc/dpm-z14.yaml", "the simulator's inventory (looked up in parent directories too)")
	n0 := flag.Int("n0", 100, "sequential spawns measured at 0 ms latency")
	n50 := flag.Int("n50", 20, "sequential spawns measured at 50 ms latency")
	conc := flag.Int("concurrent", 20, "spawns at once at 50 ms latency")
	lat := flag.Duration("latency", 50*time.Millisecond, "the simulated HMC latency per request of the slow runs")
	flag.Parse()
	if *n0 < 1 || *n50 < 1 || *conc < 1 {
		fmt.Fprintln(os.Stderr, "benchdpm: -n0, -n50 and -concurrent must be positive")
		os.Exit(2)
	}
	if err := run(*inv, *n0, *n50, *conc, *lat); err != nil {
		fmt.Fprintln(os.Stderr, "benchdpm:", err)
		os.Exit(1)
	}
}

type bench struct {
	sim *hmcsim.Sim
	c   *hmc.Client
	b   *dpm.Backend
	seq int
	lat time.Duration
}

func run(invFile string, n0, n50, conc int, lat time.Duration) error {
	inv, err := findUp(invFile)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Jobs complete at once and the partition is active when the start
	// request returns: what is measured is the backend and the HMC
	// round trips, not the simulated firmware.
	sim, err := hmcsim.Start(ctx, hmcsim.Options{Listen: "127.0.0.1:0", InventoryFile: inv})
	if err != nil {
		return fmt.Errorf("HMC simulator: %w", err)
	}
	defer sim.Close()
	c, err := hmc.New(hmc.Config{URL: sim.URL(), CA: sim.CACertPEM(), UserID: user, Password: password})
	if err != nil {
		return err
	}
	b, err := dpm.New(ctx, dpm.Config{HMC: c, CPC: cpc, Host: "bench", MaxProcessors: 4, MaxMemoryMB: 65536,
		Networks: map[string]dpm.Network{"physnet1": {VSwitch: vswitch}}, Poll: 10 * time.Millisecond,
		JobTimeout: time.Minute, StatusTimeout: time.Minute})
	if err != nil {
		return err
	}
	defer b.Close(context.WithoutCancel(ctx))
	e := &bench{sim: sim, c: c, b: b}
	fmt.Printf("DPM backend (in-process) -> HMC simulator (in-process, HTTPS on %s, %s), %d-NIC partitions\n", sim.Addr(), invFile, nics)
	fmt.Println("spawn = CreateGuest + CreateNetworkInterface(4 NICs) + Deploy(storage-volume) + start; jobs complete at once")

	// One spawn to warm up (logon, TLS, CPC and switch lookups), then
	// one whose requests are counted.
	if _, err := e.spawns(ctx, 1, 1); err != nil {
		return err
	}
	sim.ResetCounts()
	r, err := e.spawns(ctx, 1, 1)
	if err != nil {
		return err
	}
	fmt.Printf("\nHMC requests per %d-NIC spawn (simulator counters): %d\n", nics, r.total)
	printCounts(r.counts)
	avoid := r.counts["GET /api/partitions/{id}/nics/{id}"] + min(1, r.counts["DELETE /api/jobs/{id}"]) + max(0, r.counts["POST /api/partitions/{id}"]-1)
	fmt.Printf("  minimum the API allows: %d (%d - %d avoidable as noted)\n", r.total-avoid, r.total, avoid)

	var seq50 time.Duration
	for _, l := range []time.Duration{0, lat} {
		e.setLatency(l)
		n := n0
		if l > 0 {
			n = n50
		}
		r, err := e.spawns(ctx, n, 1)
		if err != nil {
			return err
		}
		d := r.each
		fmt.Printf("\nlatency %v per HMC request, %d spawns one after the other: median %v, p99 %v (min %v, max %v)\n",
			l, n, round(pct(d, 50)), round(pct(d, 99)), round(d[0]), round(d[len(d)-1]))
		if n < 100 {
			fmt.Printf("  (p99 of %d samples is their maximum)\n", n)
		}
		seq50 = pct(d, 50)
	}

	e.setLatency(lat)
	r, err = e.spawns(ctx, conc, conc)
	if err != nil {
		return err
	}
	wall, d := r.wall, r.each
	verdict := "yes"
	if wall > 2*seq50 {
		verdict = "NO"
	}
	fmt.Printf("\nlatency %v, %d spawns at once: all done in %v (each: median %v, p99 %v)\n", lat, conc, round(wall), round(pct(d, 50)), round(pct(d, 99)))
	fmt.Printf("  2 sequential spawns (2 x median above): %v; %d concurrent take no longer: %s (ratio %.2f)\n",
		round(2*seq50), conc, verdict, float64(wall)/float64(2*seq50))
	return nil
}

// run is what spawns measured: each spawn's time, the time until all
// were done, and the simulator's request counters at that point.
type result struct {
	each   []time.Duration
	wall   time.Duration
	counts map[string]int
	total  int
}

// spawns spawns n guests, par at a time, then deletes them (with the
// simulated latency off; not timed, not counted).
func (e *bench) spawns(ctx context.Context, n, par int) (result, error) {
	var r result
	var mu sync.Mutex
	var errs []error
	var ids []string
	t0 := time.Now()
	for done := 0; done < n; done += par {
		var wg sync.WaitGroup
		for j := 0; j < par && done+j < n; j++ {
			e.seq++
			id := fmt.Sprintf("B%d", e.seq)
			ids = append(ids, id)
			mac := fmt.Sprintf("02:00:be:%02x:%02x", e.seq/256%256, e.seq%256)
			wg.Go(func() {
				t := time.Now()
				err := e.spawn(ctx, id, mac)
				d := time.Since(t)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, fmt.Errorf("spawn %s: %w", id, err))
				}
				r.each = append(r.each, d)
			})
		}
		wg.Wait()
	}
	r.wall = time.Since(t0)
	r.counts, r.total = e.sim.Counts(), e.sim.TotalCount()
	slices.Sort(r.each)
	lat := e.lat
	e.sim.SetLatency(0)
	for _, id := range ids {
		if err := e.b.DeleteGuest(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("delete %s: %w", id, err))
		}
	}
	e.sim.SetLatency(lat)
	return r, errors.Join(errs...)
}

// setLatency sets the simulated HMC latency per request.
func (e *bench) setLatency(d time.Duration) {
	e.lat = d
	e.sim.SetLatency(d)
}

func (e *bench) spawn(ctx context.Context, id, macPrefix string) error {
	if _, err := e.b.CreateGuest(ctx, api.GuestSpec{UserID: id, VCPUs: 1, Memory: 512}); err != nil {
		return err
	}
	var nets []api.GuestNetwork
	for i := 0; i < nics; i++ {
		nets = append(nets, api.GuestNetwork{MACAddr: fmt.Sprintf("%s:%02x", macPrefix, i), NICID: fmt.Sprintf("port-%d", i)})
	}
	if _, err := e.b.CreateNetworkInterface(ctx, id, api.InterfaceSpec{OSVersion: "rhel9", GuestNetworks: nets}); err != nil {
		return err
	}
	if err := e.b.Deploy(ctx, id, api.DeploySpec{Image: "storage-volume:" + bootVol}); err != nil {
		return err
	}
	return e.b.Action(ctx, id, api.PowerAction{Name: "start"})
}

// notes say, per request, why a spawn makes it and whether it could go.
var notes = map[string]string{
	"POST /api/cpcs/{id}/partitions":                            "create the partition: needed",
	"POST /api/partitions/{id}/nics":                            "one per NIC, the API has no bulk create: needed",
	"GET /api/partitions/{id}/nics/{id}":                        "read the device number back: avoidable (-1 per NIC) by choosing device-number in the create",
	"POST /api/partitions/{id}":                                 "boot string (interface) and boot properties (deploy): one update could carry both (-1)",
	"POST /api/partitions/{id}/operations/attach-storage-group": "attach the boot volume's storage group: needed on storage-management CPCs",
	"POST /api/partitions/{id}/operations/start":                "start job: needed",
	"GET /api/jobs/{id}":                                        "job status: needed (at least one poll)",
	"DELETE /api/jobs/{id}":                                     "delete the ended job: avoidable (-1), the HMC keeps it until its own cleanup",
	"GET /api/partitions/{id}":                                  "partition status after the job (deferred status): needed",
}

func printCounts(counts map[string]int) {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Printf("  %3d  %-48s %s\n", counts[k], k, notes[k])
	}
}

// pct is the p-th percentile (nearest rank) of sorted d.
func pct(d []time.Duration, p int) time.Duration {
	i := (p*len(d)+99)/100 - 1
	return d[max(0, min(i, len(d)-1))]
}

func round(d time.Duration) time.Duration {
	if d > 10*time.Millisecond {
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// findUp finds rel in the working directory or one of its parents.
func findUp(rel string) (string, error) {
	if filepath.IsAbs(rel) {
		return rel, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, rel)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%s not found in the working directory or its parents", rel)
		}
		dir = parent
	}
}
