// Command benchhostd measures the built zguest-hostd binary on its z/VM
// backend against the z/VM simulator running in this process (SMAPI and
// the simulation CP endpoint on loopback): latency and throughput of
// nova's spawn of a guest (create, deploy with an image and a config
// drive, network interface with two NICs, start) for 1 and for N
// concurrent guests, the daemon's peak RSS, and the daemon's share of
// each REST call, which is the call's time as the client sees it minus
// the time the simulator spent on the SMAPI and CP requests it made.
//
// The simulator's time is measured here, by wrapping its listeners: a
// request's time runs from the first bytes the simulator reads on the
// connection to its closing the connection after the reply (SMAPI and
// the CP endpoint answer one request per connection).
//
//	benchhostd -hostd bin/zguest-hostd [-guests 50] [-concurrent 50] [-rounds 2]
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zguest/zguest/builder/configdrive"
	"github.com/zguest/zguest/hostside/api/apitest"
	"github.com/zguest/zguest/hostside/zvmsim"
	"github.com/zguest/zguest/internal/procstat"
	"github.com/zguest/zguest/internal/tools/hostdproc"
)

// Targets from the issue.
const (
	targetShare = 5 * time.Millisecond
	targetRSS   = 100 << 20
)

func main() {
	hostd := flag.String("hostd", "bin/zguest-hostd", "the daemon binary")
	serial := flag.Int("guests", 50, "guests spawned one after the other")
	conc := flag.Int("concurrent", 50, "guests spawned at once (also the daemon's max_concurrent_deploy_capture)")
	rounds := flag.Int("rounds", 2, "rounds of -concurrent guests")
	imageSize := flag.Int("image-size", 1<<20, "bytes of the raw image deployed to each guest's root disk")
	latency := flag.Duration("sim-latency", 0, "delay the simulator adds to every SMAPI reply (fault injection)")
	flag.Parse()
	if *serial < 1 || *conc < 1 || *rounds < 1 {
		fmt.Fprintln(os.Stderr, "benchhostd: -guests, -concurrent and -rounds must be positive")
		os.Exit(2)
	}
	if err := run(*hostd, *serial, *conc, *rounds, *imageSize, *latency); err != nil {
		fmt.Fprintln(os.Stderr, "benchhostd:", err)
		os.Exit(1)
	}
}

// simClock sums the simulator's time on the connections of a listener.
type simClock struct {
	ns    atomic.Int64
	calls atomic.Int64
}

type timedListener struct {
	net.Listener
	clock *simClock
}

func (l timedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &timedConn{Conn: c, clock: l.clock}, nil
}

type timedConn struct {
	net.Conn
	clock *simClock
	start time.Time
	once  sync.Once
}

func (c *timedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && c.start.IsZero() {
		c.start = time.Now()
	}
	return n, err
}

func (c *timedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		if !c.start.IsZero() {
			c.clock.ns.Add(int64(time.Since(c.start)))
			c.clock.calls.Add(1)
		}
	})
	return err
}

// total is the simulator's time and requests so far, SMAPI and CP.
type total struct {
	ns         int64
	smapi, cps int64
}

type clocks struct{ smapi, cp simClock }

func (c *clocks) now() total {
	return total{ns: c.smapi.ns.Load() + c.cp.ns.Load(), smapi: c.smapi.calls.Load(), cps: c.cp.calls.Load()}
}

func run(hostd string, serial, conc, rounds, imageSize int, latency time.Duration) error {
	if _, err := os.Stat(hostd); err != nil {
		return fmt.Errorf("the daemon binary (build it with 'make build'): %w", err)
	}
	dir, err := os.MkdirTemp("", "zguest-benchhostd")
	if err != nil {
		return fmt.Errorf("temporary directory: %w", err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	sim, err := zvmsim.New(zvmsim.Options{DiskDir: filepath.Join(dir, "disks")})
	if err != nil {
		return fmt.Errorf("z/VM simulator: %w", err)
	}
	sim.SetLatency(latency)
	var clk clocks
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("SMAPI listener: %w", err)
	}
	smapiSrv := sim.Serve(timedListener{ln, &clk.smapi})
	defer smapiSrv.Close()
	if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return fmt.Errorf("CP listener: %w", err)
	}
	cpSrv := sim.ServeCP(timedListener{ln, &clk.cp})
	defer cpSrv.Close()

	d, err := hostdproc.Start(ctx, hostdproc.Options{Binary: hostd, Dir: dir, SMAPIAddr: smapiSrv.Addr(), CPAddr: cpSrv.Addr(), MaxDeploys: conc})
	if err != nil {
		return err
	}
	defer d.Stop()
	rss := watchRSS(d.Cmd.Process.Pid)
	defer rss.stop()

	img := filepath.Join(dir, "image.raw")
	if err := os.WriteFile(img, bytes.Repeat([]byte{0x5a}, imageSize), 0o644); err != nil {
		return fmt.Errorf("image: %w", err)
	}
	iso := filepath.Join(dir, "cfgdrive.iso")
	if err := buildConfigDrive(iso); err != nil {
		return err
	}
	r, err := d.Client.ImageImport(ctx, "bench", "file://"+img, map[string]any{"os_version": "ubuntu22.04"}, "")
	if err = check(r, err); err != nil {
		return fmt.Errorf("image import: %w%s", err, d.LogTail())
	}
	fi, err := os.Stat(iso)
	if err != nil {
		return fmt.Errorf("config drive: %w", err)
	}

	fmt.Printf("zguest-hostd %s (pid %d) on the z/VM simulator in this process (SMAPI and CP over loopback; sim latency %v)\n",
		hostd, d.Cmd.Process.Pid, latency)
	fmt.Printf("one guest = nova's spawn: create (10m root disk) + deploy (%s raw image, %s config drive) + network interface (2 NICs) + start\n",
		size(int64(imageSize)), size(fi.Size()))
	fmt.Printf("1 at a time, each guest also: GET /host (nova's resource audit) and capture (nova's snapshot: the 10m root disk into an image, compress_level %d; the image is deleted after)\n\n", captureLevel)

	sp := &spawner{cl: d.Client, iso: iso, clk: &clk}
	one, err := sp.phase(ctx, "S", serial, 1)
	if err != nil {
		return fmt.Errorf("1 at a time: %w%s", err, d.LogTail())
	}
	hwm1 := rss.hwm()
	cpu0, cpuErr := procCPU(d.Cmd.Process.Pid)
	many := &result{}
	for i := range rounds {
		res, err := sp.phase(ctx, fmt.Sprintf("C%d", i), conc, conc)
		if err != nil {
			return fmt.Errorf("%d at once: %w%s", conc, err, d.LogTail())
		}
		many.add(res)
	}
	hwm := rss.hwm()
	cpu1, err := procCPU(d.Cmd.Process.Pid)
	cpuErr = errors.Join(cpuErr, err)

	fmt.Println("spawn latency and throughput")
	fmt.Printf("  %-12s %7s %10s %10s %10s %14s\n", "concurrency", "guests", "median", "p99", "max", "throughput")
	for _, p := range []struct {
		c int
		r *result
	}{{1, one}, {conc, many}} {
		fmt.Printf("  %-12d %7d %10s %10s %10s %9.1f guests/s\n", p.c, len(p.r.spawn), ms(pct(p.r.spawn, 0.5)), ms(pct(p.r.spawn, 0.99)),
			ms(pct(p.r.spawn, 1)), float64(len(p.r.spawn))/p.r.wall.Seconds())
	}
	perGuest := func(r *result) string {
		g := float64(len(r.spawn))
		return fmt.Sprintf("%.1f SMAPI + %.1f CP requests per guest", float64(r.sim.smapi)/g, float64(r.sim.cps)/g)
	}
	fmt.Printf("  backend: %s\n\n", perGuest(one))

	fmt.Printf("the daemon's share of a REST call = client's time - simulator's time (target < %v)\n", targetShare)
	fmt.Printf("  1 at a time, per call (median / p99):\n")
	fmt.Printf("    %-10s %6s %20s %20s %20s\n", "call", "calls", "client", "simulator", "daemon's share")
	var shares []time.Duration
	for _, k := range callKinds {
		cs := one.calls[k]
		if len(cs) == 0 {
			continue
		}
		var cl, sm, sh []time.Duration
		for _, c := range cs {
			cl, sm, sh = append(cl, c.client), append(sm, c.sim), append(sh, c.client-c.sim)
		}
		shares = append(shares, sh...)
		fmt.Printf("    %-10s %6d %20s %20s %20s\n", k, len(cs), pair(cl), pair(sm), pair(sh))
	}
	var sum time.Duration
	for _, d := range shares {
		sum += d
	}
	mean := sum / time.Duration(len(shares))
	fmt.Printf("    %-10s %6d %20s %20s %20s  mean %s %s\n", "all", len(shares), "", "", pair(shares), ms(mean), verdict(mean < targetShare, "mean"))
	var client time.Duration
	n := 0
	for _, cs := range many.calls {
		for _, c := range cs {
			client += c.client
			n++
		}
	}
	simT := time.Duration(many.sim.ns)
	share := (client - simT) / time.Duration(n)
	fmt.Printf("  %d at once, mean per call: client %s, simulator %s, the rest %s (mostly waiting: %d requests share %d cores)\n",
		conc, ms(client/time.Duration(n)), ms(simT/time.Duration(n)), ms(share), conc, runtime.NumCPU())
	if cpuErr == nil {
		cpu := (cpu1 - cpu0) / time.Duration(n)
		fmt.Printf("  %d at once, the daemon's CPU time (user+system, /proc/<pid>/stat) per call: %s  %s\n", conc, ms(cpu), verdict(cpu < targetShare, "CPU per call"))
	}
	fmt.Println()

	fmt.Printf("the daemon's memory (target < %s with %d concurrent deploys)\n", size(targetRSS), conc)
	fmt.Printf("  peak RSS (VmHWM) after 1 at a time: %s; after %d at once: %s  %s\n", size(hwm1), conc, size(hwm), verdict(hwm < targetRSS, "VmHWM"))
	fmt.Printf("  largest RSS sampled every 10 ms while %d deployed at once: %s\n", conc, size(rss.maxSampled()))
	return nil
}

// callKinds are the REST calls of one spawn, in order; host and capture
// run only when guests are spawned one at a time.
var callKinds = []string{"create", "deploy", "interface", "start", "host", "capture"}

// captureLevel is the bench's capture compress_level: 0 copies the disk,
// so the figure is the daemon's overhead, not gzip's.
const captureLevel = 0

type call struct{ client, sim time.Duration }

type result struct {
	spawn []time.Duration
	calls map[string][]call
	wall  time.Duration
	sim   total // simulator's time and requests during the phase
}

func (r *result) add(o *result) {
	r.spawn = append(r.spawn, o.spawn...)
	if r.calls == nil {
		r.calls = map[string][]call{}
	}
	for k, v := range o.calls {
		r.calls[k] = append(r.calls[k], v...)
	}
	r.wall += o.wall
	r.sim.ns += o.sim.ns
	r.sim.smapi += o.sim.smapi
	r.sim.cps += o.sim.cps
}

type spawner struct {
	cl  *apitest.Client
	iso string
	clk *clocks
}

// phase spawns n guests named prefix+number, conc at a time.
func (s *spawner) phase(ctx context.Context, prefix string, n, conc int) (*result, error) {
	res := &result{calls: map[string][]call{}}
	var mu sync.Mutex
	var errs []error
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	before := s.clk.now()
	start := time.Now()
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			spawn, calls, err := s.spawn(ctx, fmt.Sprintf("%s%04d", prefix, i), conc == 1)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			res.spawn = append(res.spawn, spawn)
			for k, c := range calls {
				res.calls[k] = append(res.calls[k], c)
			}
		}()
	}
	wg.Wait()
	res.wall = time.Since(start)
	after := s.clk.now()
	res.sim = total{ns: after.ns - before.ns, smapi: after.smapi - before.smapi, cps: after.cps - before.cps}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%d of %d guests failed: %w", len(errs), n, errors.Join(errs...))
	}
	return res, nil
}

// spawn does nova's calls for one guest. With exact set (nothing else
// runs), each call's simulator time is the simulator's clock across it.
func (s *spawner) spawn(ctx context.Context, userid string, exact bool) (time.Duration, map[string]call, error) {
	steps := map[string]func() (*apitest.Reply, error){
		"create": func() (*apitest.Reply, error) {
			return s.cl.GuestCreate(ctx, userid, 1, 1024, []map[string]any{{"size": "10m", "is_boot_disk": true}})
		},
		"deploy": func() (*apitest.Reply, error) { return s.cl.GuestDeploy(ctx, userid, "bench", s.iso, "") },
		"interface": func() (*apitest.Reply, error) {
			return s.cl.GuestCreateNetworkInterface(ctx, userid, "ubuntu22.04", []map[string]any{
				{"ip_addr": "10.0.0.5", "cidr": "10.0.0.0/24", "mac_addr": "02:00:00:be:00:01"},
				{"ip_addr": "10.0.1.5", "cidr": "10.0.1.0/24", "mac_addr": "02:00:00:be:00:02"}})
		},
		"start": func() (*apitest.Reply, error) { return s.cl.GuestAction(ctx, userid, "start", nil) },
		"host":  func() (*apitest.Reply, error) { return s.cl.HostGetInfo(ctx) },
		"capture": func() (*apitest.Reply, error) {
			return s.cl.GuestAction(ctx, userid, "capture", map[string]any{"image": "cap-" + userid, "compress_level": captureLevel})
		},
	}
	calls := map[string]call{}
	start := time.Now()
	var took time.Duration
	for _, k := range callKinds {
		if !exact && (k == "host" || k == "capture") {
			continue
		}
		before, t0 := s.clk.now(), time.Now()
		r, err := steps[k]()
		c := call{client: time.Since(t0)}
		if exact {
			c.sim = time.Duration(s.clk.now().ns - before.ns)
		}
		if err = check(r, err); err != nil {
			return 0, nil, fmt.Errorf("%s %s: %w", k, userid, err)
		}
		calls[k] = c
		if k == "start" {
			took = time.Since(start) // the spawn; host and capture come after
		}
	}
	if exact {
		if err := check(s.cl.ImageDelete(ctx, "cap-"+userid)); err != nil {
			return 0, nil, fmt.Errorf("delete the capture of %s: %w", userid, err)
		}
	}
	return took, calls, nil
}

// check turns a failed call or a non-success envelope into an error.
func check(r *apitest.Reply, err error) error {
	if err != nil {
		return err
	}
	if r.Status != 200 || r.OverallRC != 0 {
		return errors.New(r.Err())
	}
	return nil
}

// buildConfigDrive writes a config drive like nova's for a guest with
// two NICs.
func buildConfigDrive(path string) error {
	nd := &configdrive.NetworkData{}
	for i, mac := range []string{"02:00:00:be:00:01", "02:00:00:be:00:02"} {
		link := fmt.Sprintf("tap%d", i)
		nd.Links = append(nd.Links, configdrive.Link{ID: link, Type: "phy", EthernetMACAddress: mac})
		nd.Networks = append(nd.Networks, configdrive.Network{ID: fmt.Sprintf("network%d", i), Type: "ipv4", Link: link,
			IPAddress: fmt.Sprintf("10.0.%d.5", i), Netmask: "255.255.255.0"})
	}
	in := &configdrive.Instance{UUID: "be000000-1111-4222-8333-444455556666", Hostname: "bench", Name: "bench", Network: nd}
	t, err := configdrive.Build(in)
	if err != nil {
		return fmt.Errorf("config drive: %w", err)
	}
	if err := configdrive.WriteImage(path, t, configdrive.ImageOptions{Format: configdrive.ISO9660, SourceDate: time.Now()}); err != nil {
		return fmt.Errorf("config drive: %w", err)
	}
	return nil
}

// rssWatch samples a process's VmRSS every 10 ms.
type rssWatch struct {
	pid  int
	max  atomic.Int64
	quit chan struct{}
	wg   sync.WaitGroup
}

func watchRSS(pid int) *rssWatch {
	w := &rssWatch{pid: pid, quit: make(chan struct{})}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			if v, err := procstat.Field(pid, "VmRSS"); err == nil && v > w.max.Load() {
				w.max.Store(v)
			}
			select {
			case <-w.quit:
				return
			case <-t.C:
			}
		}
	}()
	return w
}

func (w *rssWatch) stop() { close(w.quit); w.wg.Wait() }

// maxSampled is the largest VmRSS seen.
func (w *rssWatch) maxSampled() int64 { return w.max.Load() }

// hwm is the kernel's peak RSS of the process (VmHWM), 0 if unreadable.
func (w *rssWatch) hwm() int64 {
	v, _ := procstat.Field(w.pid, "VmHWM")
	return v
}

// pct is the p-quantile (nearest rank) of ds; 0 for none.
func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s))*p+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}

func pair(ds []time.Duration) string { return ms(pct(ds, 0.5)) + " / " + ms(pct(ds, 0.99)) }

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func size(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// verdict says whether a target is met, and on what.
func verdict(ok bool, on string) string {
	if ok {
		return "[target met: " + on + "]"
	}
	return "[TARGET MISSED: " + on + "]"
}

// procCPU is a process's user+system CPU time from /proc/pid/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The fields after the command name (in parentheses, which may hold
	// spaces): state is field 3, utime 14 and stime 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	var ticks int64
	for _, s := range f[11:13] {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += v
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// clockTicks is USER_HZ, 100 on every Linux architecture Go supports.
const clockTicks = 100
