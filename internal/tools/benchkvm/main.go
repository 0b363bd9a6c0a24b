// Command benchkvm measures a guest spawn on the kvm backend: the built
// zguest-hostd against a real libvirtd (started and prepared by
// internal/libvirttest if it is not running) and qemu-system-s390x,
// driven over REST as nova does (import once; then create, deploy with a
// config drive the daemon builds, network interface, start). It prints
// the time from the create call to the guest's first console line and to
// cloud-init's "finished" line, and the daemon's own share of it: the
// time spent inside the REST calls of the spawn (the daemon's work and
// its libvirt and qemu-img calls), the rest being the guest booting.
// Console polling (every 100 ms) is timed apart and not counted.
//
//	benchkvm -hostd bin/zguest-hostd [-image guest-kvm.qcow2] [-runs 1] [-timeout 8m]
//
// The image is a zipl-bootable s390x qcow2 made by zguest-image for
// target kvm (default $ZGUEST_KVM_IMAGE). Without one, benchkvm builds it
// the way the end-to-end tests do: the cached Debian 12 root file system
// of internal/imagefixture (built on first use), the s390x agent
// ($ZGUEST_AGENT_S390X) and zguest-image ($ZGUEST_IMAGE_BIN). Needs root.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/zguest/zguest/hostside/api/apitest"
	"github.com/zguest/zguest/internal/imagefixture"
	"github.com/zguest/zguest/internal/libvirttest"
	"github.com/zguest/zguest/internal/tools/hostdproc"
)

func main() { os.Exit(mainCode()) }

func mainCode() int {
	hostd := flag.String("hostd", "bin/zguest-hostd", "the zguest-hostd binary")
	image := flag.String("image", os.Getenv("ZGUEST_KVM_IMAGE"), "s390x qcow2 image built by zguest-image for target kvm (default: build one)")
	agent := flag.String("agent", envOr("ZGUEST_AGENT_S390X", "bin/s390x/zguest-agent"), "s390x zguest-agent, to build the image")
	tool := flag.String("zguest-image", envOr("ZGUEST_IMAGE_BIN", "bin/zguest-image"), "zguest-image, to build the image")
	runs := flag.Int("runs", 1, "spawns measured one after the other")
	timeout := flag.Duration("timeout", 8*time.Minute, "give up on a boot after this long")
	flag.Parse()
	if *runs < 1 {
		fmt.Fprintln(os.Stderr, "benchkvm: -runs must be positive")
		return 2
	}
	if *image == "" {
		dir, err := os.MkdirTemp("", "benchkvm-image-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchkvm:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		if *image, err = buildImage(*agent, *tool, dir); err != nil {
			fmt.Fprintln(os.Stderr, "benchkvm: building the image:", err)
			return 1
		}
	}
	if err := run(*hostd, *image, *runs, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "benchkvm:", err)
		return 1
	}
	return 0
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// buildImage builds the kvm image as internal/imagefixture does.
func buildImage(agent, tool, dir string) (string, error) {
	rootfs, err := imagefixture.EnsureRootfs(func(f string, a ...any) { fmt.Printf(f+"\n", a...) })
	if err != nil {
		return "", err
	}
	spec := filepath.Join(dir, "image.yaml")
	if err := os.WriteFile(spec, []byte(imagefixture.Spec(rootfs, agent, "kvm", "", "")), 0o644); err != nil {
		return "", err
	}
	out := filepath.Join(dir, "guest-kvm.qcow2")
	start := time.Now()
	cmd := exec.Command(tool, "build", spec, "-o", out)
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1700000000")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%s build: %v\n%s", tool, err, b)
	}
	fmt.Printf("image built in %v: %s\n", time.Since(start).Round(time.Millisecond), out)
	return out, nil
}

// timed is one REST call's duration.
type timed struct {
	name string
	d    time.Duration
}

// result is one spawn.
type result struct {
	calls         []timed
	firstLine     time.Duration
	finished      time.Duration
	consolePolls  int
	consoleTime   time.Duration
	stop, destroy time.Duration
}

func (r result) daemon() time.Duration {
	var s time.Duration
	for _, c := range r.calls {
		s += c.d
	}
	return s
}

func run(hostd, image string, runs int, timeout time.Duration) error {
	ctx := context.Background()
	abs, err := filepath.Abs(image)
	if err != nil {
		return err
	}
	lv, err := libvirttest.Ensure(ctx, func(f string, a ...any) { fmt.Printf("libvirt: "+f+"\n", a...) })
	if err != nil {
		return err
	}
	defer lv.Stop()
	dir, err := os.MkdirTemp("", "benchkvm-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	d, err := hostdproc.Start(ctx, hostdproc.Options{Binary: hostd, Dir: dir, Backend: "kvm", SourceDirs: []string{dir, filepath.Dir(abs)},
		BackendOptions: map[string]any{"socket": lv.Socket, "storage_dir": filepath.Join(dir, "storage"),
			"domain_prefix": "zguest-bench-", "network": map[string]any{"type": "user"}}})
	if err != nil {
		return err
	}
	defer d.Stop()
	cl := d.Client
	t0 := time.Now()
	if err := call(ctx, cl, "POST", "/images", map[string]any{"image": map[string]any{"image_name": "bench", "url": "file://" + abs,
		"image_meta": map[string]any{"os_version": "ubuntu22.04"}}}); err != nil {
		return fmt.Errorf("import: %w%s", err, d.LogTail())
	}
	fmt.Printf("image import (copy and hash): %v\n", time.Since(t0).Round(time.Millisecond))
	var results []result
	for i := range runs {
		r, err := spawn(ctx, cl, fmt.Sprintf("B%d", i+1), timeout)
		if err != nil {
			return fmt.Errorf("run %d: %w%s", i+1, err, d.LogTail())
		}
		results = append(results, r)
		report(i+1, r)
	}
	if runs > 1 {
		med := func(f func(result) time.Duration) time.Duration {
			v := make([]time.Duration, len(results))
			for i, r := range results {
				v[i] = f(r)
			}
			slices.Sort(v)
			return v[len(v)/2]
		}
		fmt.Printf("median of %d: first console line %.2f s, cloud-init finished %.2f s, daemon %.1f ms\n", runs,
			med(func(r result) time.Duration { return r.firstLine }).Seconds(),
			med(func(r result) time.Duration { return r.finished }).Seconds(),
			float64(med(result.daemon).Microseconds())/1000)
	}
	return call(ctx, cl, "DELETE", "/images/bench", nil)
}

// call does one REST call and checks the envelope.
func call(ctx context.Context, cl *apitest.Client, method, path string, body any) error {
	r, err := cl.Call(ctx, method, path, body)
	if err != nil {
		return err
	}
	if r.Status != 200 || r.OverallRC != 0 {
		return fmt.Errorf("%s %s: %s", method, path, r.Err())
	}
	return nil
}

func spawn(ctx context.Context, cl *apitest.Client, userid string, timeout time.Duration) (result, error) {
	var res result
	step := func(name, method, path string, body any) error {
		s := time.Now()
		err := call(ctx, cl, method, path, body)
		res.calls = append(res.calls, timed{name, time.Since(s)})
		return err
	}
	g := "/guests/" + userid
	start := time.Now()
	if err := step("create", "POST", "/guests", map[string]any{"guest": map[string]any{"userid": userid, "vcpus": 2, "memory": 1024}}); err != nil {
		return res, err
	}
	if err := step("deploy (config drive built by the daemon)", "POST", g+"/action", map[string]any{"action": "deploy", "image": "bench", "hostname": "bench-kvm"}); err != nil {
		return res, err
	}
	if err := step("network interface", "POST", g+"/interface", map[string]any{"interface": map[string]any{"os_version": "ubuntu22.04",
		"guest_networks": []map[string]any{{"mac_addr": "0a:00:00:00:00:51", "nic_vdev": "1000"}}}}); err != nil {
		return res, err
	}
	if err := step("start", "POST", g+"/action", map[string]any{"action": "start"}); err != nil {
		return res, err
	}
	defer cl.Call(ctx, "DELETE", g, nil) // on failure too
	deadline := start.Add(timeout)
	for {
		s := time.Now()
		r, err := cl.GuestAction(ctx, userid, "get_console_output", nil)
		res.consoleTime += time.Since(s)
		res.consolePolls++
		if err != nil || r.OverallRC != 0 {
			return res, fmt.Errorf("console output: %v", err)
		}
		var out string
		_ = r.Out(&out)
		now := time.Since(start)
		if res.firstLine == 0 && strings.TrimSpace(out) != "" {
			res.firstLine = now
		}
		if strings.Contains(out, "finished at") && strings.Contains(out, "Cloud-init") {
			res.finished = now
			break
		}
		if time.Now().After(deadline) {
			lines := strings.Split(out, "\n")
			return res, fmt.Errorf("no cloud-init finished line after %v; last lines:\n%s", timeout, strings.Join(lines[max(0, len(lines)-30):], "\n"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	s := time.Now()
	if err := call(ctx, cl, "POST", g+"/action", map[string]any{"action": "stop"}); err != nil {
		return res, err
	}
	res.stop = time.Since(s)
	s = time.Now()
	if err := call(ctx, cl, "DELETE", g, nil); err != nil {
		return res, err
	}
	res.destroy = time.Since(s)
	return res, nil
}

func report(n int, r result) {
	fmt.Printf("run %d:\n", n)
	fmt.Printf("  create call -> first console line:     %7.2f s\n", r.firstLine.Seconds())
	fmt.Printf("  create call -> cloud-init finished:    %7.2f s\n", r.finished.Seconds())
	fmt.Printf("  daemon's share (REST calls, incl. libvirt and qemu-img): %.1f ms = %.2f%% of the time to cloud-init finished\n",
		float64(r.daemon().Microseconds())/1000, 100*r.daemon().Seconds()/r.finished.Seconds())
	for _, c := range r.calls {
		fmt.Printf("    %-45s %8.1f ms\n", c.name, float64(c.d.Microseconds())/1000)
	}
	fmt.Printf("  guest's share (boot to cloud-init finished): %.2f s\n", (r.finished - r.daemon()).Seconds())
	fmt.Printf("  console polling (not counted): %d calls, %.1f ms in all\n", r.consolePolls, float64(r.consoleTime.Microseconds())/1000)
	fmt.Printf("  teardown: stop (destroy) %.0f ms, delete %.0f ms\n", float64(r.stop.Milliseconds()), float64(r.destroy.Milliseconds()))
}
