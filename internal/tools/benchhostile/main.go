// Command benchhostile measures the built zguest-hostd's memory under
// hostile and heavy load on the z/VM simulator and prints the peak RSS
// (VmHWM) next to the targets:
//
//   - 100 concurrent POST /guests with 1 MiB bodies (a comments array
//     of 349k empty strings): target < 150 MiB;
//   - 50 concurrent deploys of a 1 GiB sparse raw image: < 100 MiB.
//
// Each load runs on a fresh daemon, so each peak is its own.
//
//	go run ./internal/tools/benchhostile -hostd bin/zguest-hostd
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/zguest/zguest/hostside/api/apitest"
	"github.com/zguest/zguest/hostside/zvmsim"
	"github.com/zguest/zguest/internal/procstat"
	"github.com/zguest/zguest/internal/tools/hostdproc"
)

const (
	bodiesTarget  = 150 << 20
	deploysTarget = 100 << 20
)

func main() {
	hostd := flag.String("hostd", "bin/zguest-hostd", "the built daemon")
	bodies := flag.Int("bodies", 100, "concurrent hostile 1 MiB bodies")
	deploys := flag.Int("deploys", 50, "concurrent deploys")
	imageGiB := flag.Int("image-gib", 1, "size of the sparse image, GiB")
	flag.Parse()
	if err := run(*hostd, *bodies, *deploys, int64(*imageGiB)<<30); err != nil {
		fmt.Fprintln(os.Stderr, "benchhostile:", err)
		os.Exit(1)
	}
}

// rig is a daemon on a fresh simulator in its own directory.
type rig struct {
	dir  string
	d    *hostdproc.Daemon
	stop func()
}

func start(ctx context.Context, hostd string, maxDeploys int) (*rig, error) {
	dir, err := os.MkdirTemp("", "zguest-benchhostile")
	if err != nil {
		return nil, err
	}
	sim, err := zvmsim.New(zvmsim.Options{DiskDir: filepath.Join(dir, "disks"),
		Pools: []zvmsim.Pool{{Name: "POOL1", Type: "ECKD", Capacity: 400 << 30}}})
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("z/VM simulator: %w", err)
	}
	l1, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	l2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	smapiSrv, cpSrv := sim.Serve(l1), sim.ServeCP(l2)
	d, err := hostdproc.Start(ctx, hostdproc.Options{Binary: hostd, Dir: dir, SMAPIAddr: smapiSrv.Addr(), CPAddr: cpSrv.Addr(), MaxDeploys: maxDeploys})
	if err != nil {
		smapiSrv.Close()
		cpSrv.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	return &rig{dir: dir, d: d, stop: func() { d.Stop(); smapiSrv.Close(); cpSrv.Close(); os.RemoveAll(dir) }}, nil
}

func (r *rig) hwm() int64 {
	v, _ := procstat.Field(r.d.Cmd.Process.Pid, "VmHWM")
	return v
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func verdict(ok bool) string {
	if ok {
		return "OK"
	}
	return "OVER TARGET"
}

func run(hostd string, nBodies, nDeploys int, imageSize int64) error {
	if _, err := os.Stat(hostd); err != nil {
		return fmt.Errorf("the daemon binary (build it with 'make build'): %w", err)
	}
	ctx := context.Background()
	fmt.Printf("zguest-hostd %s on the z/VM simulator (loopback); peak RSS is the kernel's VmHWM of the daemon\n", hostd)

	// 1. Hostile bodies.
	r, err := start(ctx, hostd, 0)
	if err != nil {
		return err
	}
	base := r.hwm()
	body := []byte(`{"guest":{"userid":"g1","vcpus":1,"memory":1024,"comments":[` + strings.Repeat(`"",`, 349_000) + `""]}}`)
	codes := map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	t0 := time.Now()
	for range nBodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rep, err := r.d.Client.Raw(ctx, "POST", "/guests", http.Header{"Content-Type": {"application/json"}}, body)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				codes[-1]++
				return
			}
			codes[rep.Status]++
		}()
	}
	wg.Wait()
	peak := r.hwm()
	r.stop()
	fmt.Printf("%d concurrent POST /guests with %s bodies: answers %v in %v (-1: reset while sending)\n",
		nBodies, mib(int64(len(body))), codes, time.Since(t0).Round(time.Millisecond))
	fmt.Printf("  peak RSS %s (idle %s)   target < %s   %s\n", mib(peak), mib(base), mib(bodiesTarget), verdict(peak < bodiesTarget))
	bodiesOK := peak < bodiesTarget

	// 2. Concurrent deploys of a sparse image.
	if r, err = start(ctx, hostd, nDeploys); err != nil {
		return err
	}
	defer r.stop()
	img := filepath.Join(r.dir, "image.raw")
	f, err := os.Create(img)
	if err != nil {
		return err
	}
	f.WriteString("zguest sparse bench image")
	if err := f.Truncate(imageSize); err != nil {
		return err
	}
	f.Close()
	iso := filepath.Join(r.dir, "cfgdrive.iso")
	if err := os.WriteFile(iso, make([]byte, 64<<10), 0o644); err != nil {
		return err
	}
	ok := func(what string, rep *apitest.Reply, err error) error {
		if err == nil && (rep.Status != 200 || rep.OverallRC != 0) {
			err = errors.New(string(rep.Raw))
		}
		if err != nil {
			return fmt.Errorf("%s: %w%s", what, err, r.d.LogTail())
		}
		return nil
	}
	t0 = time.Now()
	rep, err := r.d.Client.ImageImport(ctx, "big", "file://"+img, map[string]any{"os_version": "rhel9"}, "")
	if err := ok("import", rep, err); err != nil {
		return err
	}
	imported := time.Since(t0)
	diskSize := fmt.Sprintf("%dm", imageSize>>20+512)
	for i := range nDeploys {
		rep, err := r.d.Client.GuestCreate(ctx, fmt.Sprintf("DEP%05d", i), 1, 512, []map[string]any{{"size": diskSize, "is_boot_disk": true}})
		if err := ok("create", rep, err); err != nil {
			return err
		}
	}
	base = r.hwm()
	errs := make(chan error, nDeploys)
	t0 = time.Now()
	for i := range nDeploys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rep, err := r.d.Client.GuestDeploy(ctx, fmt.Sprintf("DEP%05d", i), "big", iso, "")
			errs <- ok("deploy", rep, err)
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		if e != nil {
			return e
		}
	}
	peak = r.hwm()
	fmt.Printf("%d concurrent deploys of a %s sparse raw image (import %v; deploys %v)\n",
		nDeploys, mib(imageSize), imported.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))
	fmt.Printf("  peak RSS %s (after import and creates %s)   target < %s   %s\n", mib(peak), mib(base), mib(deploysTarget), verdict(peak < deploysTarget))
	if !bodiesOK || peak >= deploysTarget {
		return errors.New("a peak RSS is over its target")
	}
	return nil
}
