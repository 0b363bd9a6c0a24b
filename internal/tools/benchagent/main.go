// Command benchagent measures zguest-agent against the emulated IBM Z
// kernel, side by side with the way nova-dpm's guest tools do the same
// job: a bash script that parses the command line, writes the same sysfs
// attributes one NIC after the other, polls for the udev name as znetconf
// does, and sets the MAC with `ip link` as setmac.sh does. (The original
// scripts cannot run here: they call znetconf from s390-tools, which
// Debian does not build for amd64.)
//
// It prints, for 12 NICs, the median wall time from start to "all NICs
// up" of both, the agent's own CPU time, the peak RSS of both, and the
// ratios. It needs root (FUSE mounts, network namespaces).
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/zguest/zguest/internal/zkernel"
	"github.com/zguest/zguest/internal/zkernel/zkerneltest"
)

// baseline does, in bash, what autoconfigure_networking.sh + znetconf +
// setmac.sh do for each DPM token, sequentially. Written for this
// benchmark from the documented behaviour of those tools.
const baseline = `
R=$1
cmdline=$(cat "$R/proc/cmdline")
re='([0-9A-Fa-f]{4}),([01]),([0-9A-Fa-f]{12});'
rc=0
while [[ $cmdline =~ $re ]]; do
  devno=${BASH_REMATCH[1],,}; port=${BASH_REMATCH[2]}; mac=${BASH_REMATCH[3]}
  cmdline=${cmdline#*"${BASH_REMATCH[0]}"}
  bus=0.0.$devno
  [ -d "$R/sys/bus/ccwgroup/devices/$bus" ] && continue
  w=$(printf '0.0.%04x' $((16#$devno + 1))); d=$(printf '0.0.%04x' $((16#$devno + 2)))
  echo "$bus,$w,$d" > "$R/sys/bus/ccwgroup/drivers/qeth/group" || { rc=1; continue; }
  g=$R/sys/bus/ccwgroup/devices/$bus
  echo "$port" > "$g/portno"; echo 1 > "$g/layer2"; echo 1 > "$g/online" || { rc=1; continue; }
  name=
  for i in $(seq 1000); do
    name=$(ls "$g/net" 2>/dev/null)
    [[ $name == enc* ]] && break
    sleep 0.01
  done
  ip link set "$name" address "${mac:0:2}:${mac:2:2}:${mac:4:2}:${mac:6:2}:${mac:8:2}:${mac:10:2}" || rc=1
done
echo "peak_rss_kib=$(awk '/^VmHWM:/ {print $2}' /proc/$$/status)"
exit $rc
`

type sample struct {
	wall   time.Duration
	kernel time.Duration // the emulated kernel's busy time during the run
	cpu    time.Duration // user + system
	user   time.Duration
	maxRSS int64 // KiB
}

func main() {
	agent := flag.String("agent", "bin/zguest-agent", "the agent binary")
	n := flag.Int("nics", 12, "NICs per run")
	runs := flag.Int("runs", 7, "runs of each tool (the median is printed)")
	renameDelay := flag.Duration("rename-delay", 0, "emulated udev rename delay")
	zvmOnly := flag.Bool("zvm", false, "run only the z/VM section (reader + config drive + NIC list)")
	noZVM := flag.Bool("no-zvm", false, "skip the z/VM section")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "benchagent needs root (FUSE mounts and network namespaces): run it with sudo")
		os.Exit(1)
	}
	if _, err := os.Stat(*agent); err != nil {
		fmt.Fprintf(os.Stderr, "benchagent: %v (run make build first)\n", err)
		os.Exit(1)
	}
	if *zvmOnly {
		if err := benchZVM(*agent, *n, *runs); err != nil {
			fmt.Fprintf(os.Stderr, "benchagent: z/VM: %v\n", err)
			os.Exit(1)
		}
		return
	}
	defer func() {
		if *noZVM {
			return
		}
		if err := benchZVM(*agent, *n, *runs); err != nil {
			fmt.Fprintf(os.Stderr, "benchagent: z/VM: %v\n", err)
			os.Exit(1)
		}
	}()
	var ours, theirs []sample
	for i := 0; i < *runs; i++ {
		for _, tool := range []string{"agent", "baseline"} {
			s, err := once(tool, *agent, *n, *renameDelay)
			if err != nil {
				fmt.Fprintf(os.Stderr, "benchagent: %s run %d: %v\n", tool, i+1, err)
				os.Exit(1)
			}
			if tool == "agent" {
				ours = append(ours, s)
			} else {
				theirs = append(theirs, s)
			}
		}
	}
	o, t := median(ours), median(theirs)
	fmt.Printf("zguest-agent activate vs bash+sysfs baseline (nova-dpm's steps), %d NICs, emulated udev rename delay %s, median of %d runs\n", *n, *renameDelay, *runs)
	r := func(d time.Duration) time.Duration { return d.Round(100 * time.Microsecond) }
	fmt.Printf("  %-26s %10s %16s %10s %10s %10s\n", "", "wall", "wall - kernel", "CPU", "user CPU", "peak RSS")
	fmt.Printf("  %-26s %10s %16s %10s %10s %6.1f MiB\n", "zguest-agent", r(o.wall), r(o.kernel), r(o.cpu), r(o.user), float64(o.maxRSS)/1024)
	fmt.Printf("  %-26s %10s %16s %10s %10s %6.1f MiB\n", "baseline (bash, ip, ls)", r(t.wall), r(t.kernel), r(t.cpu), r(t.user), float64(t.maxRSS)/1024)
	fmt.Printf("  (wall - kernel: time on top of the emulated kernel's own busy time, the tool's share)\n")
	fmt.Printf("  ratio agent/baseline: wall %.2f, wall - kernel %.2f, CPU %.2f, user CPU %.2f\n", float64(o.wall)/float64(t.wall), float64(o.kernel)/float64(t.kernel), float64(o.cpu)/float64(t.cpu), float64(o.user)/float64(t.user))
	fmt.Printf("  agent time per NIC: %s wall, %s CPU\n", (o.wall / time.Duration(*n)).Round(time.Microsecond), (o.cpu / time.Duration(*n)).Round(time.Microsecond))
}

func once(tool, agent string, n int, renameDelay time.Duration) (sample, error) {
	devs, nics := zkerneltest.DPMNICs(n, 0x1000, true)
	root, err := os.MkdirTemp("", "benchagent")
	if err != nil {
		return sample{}, err
	}
	defer os.RemoveAll(root)
	env, err := zkerneltest.Boot(zkernel.Config{Devices: devs, Cmdline: "ro " + zkerneltest.Tokens(nics, " "), RenameDelay: renameDelay}, root)
	defer func() {
		if env != nil {
			if err := env.Close(); err != nil {
				fmt.Fprintln(os.Stderr, "benchagent: teardown:", err)
			}
		}
	}()
	if err != nil {
		return sample{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var cmd *exec.Cmd
	if tool == "agent" {
		cmd = exec.CommandContext(ctx, agent, "--root", env.Root, "activate")
	} else {
		cmd = exec.CommandContext(ctx, "bash", "-c", baseline, "baseline", env.Root)
	}
	out, wall, kernel, err := measure(env, cmd)
	if err != nil {
		return sample{}, err
	}
	for _, x := range nics {
		g, _ := env.Kernel.Group(x.BusID)
		if !g.Online || !strings.EqualFold(g.MAC, x.MAC) {
			return sample{}, fmt.Errorf("%s not up with %s after the run: %+v", x.BusID, x.MAC, g)
		}
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	user := time.Duration(ru.Utime.Nano())
	cpu := user + time.Duration(ru.Stime.Nano())
	// ru_maxrss would count the benchmark's own memory, which the child
	// shares until exec; both tools print their own VmHWM instead.
	m := rssRe.FindStringSubmatch(out.String())
	if m == nil {
		return sample{}, fmt.Errorf("no peak_rss_kib in the output:\n%s", out.String())
	}
	rss, _ := strconv.ParseInt(m[1], 10, 64)
	// bash's forks (ip, ls, seq) are in RUSAGE_CHILDREN of this process.
	cu, cs := childCPU()
	return sample{wall: wall, kernel: kernel, cpu: cpu + cu + cs, user: user + cu, maxRSS: rss}, nil
}

var rssRe = regexp.MustCompile(`peak_rss_kib=(\d+)`)

var lastChildren time.Duration

var lastChildUser time.Duration

// childCPU returns the user and system CPU time of grandchildren reaped
// since the last call (bash's ip, ls and seq; the agent has none).
func childCPU() (user, sys time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
		return 0, 0
	}
	u := time.Duration(ru.Utime.Nano())
	total := u + time.Duration(ru.Stime.Nano())
	du, dt := u-lastChildUser, total-lastChildren
	lastChildUser, lastChildren = u, total
	return du, dt - du
}

func median(s []sample) sample {
	pick := func(f func(sample) int64) int64 {
		v := make([]int64, len(s))
		for i, x := range s {
			v[i] = f(x)
		}
		sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
		return v[len(v)/2]
	}
	return sample{
		wall:   time.Duration(pick(func(x sample) int64 { return int64(x.wall) })),
		kernel: time.Duration(pick(func(x sample) int64 { return int64(x.wall - x.kernel) })),
		cpu:    time.Duration(pick(func(x sample) int64 { return int64(x.cpu) })),
		user:   time.Duration(pick(func(x sample) int64 { return int64(x.user) })),
		maxRSS: pick(func(x sample) int64 { return x.maxRSS }),
	}
}

// measure runs cmd in env's guest and returns its output, its wall time
// and the emulated kernel's busy time meanwhile. Started from a thread
// inside the guest network namespace, the child is the measured program
// itself (no nsenter/unshare/sh in between), so its rusage is its own.
// libudev's monitor works because /dev is devtmpfs here (see
// udev-feasibility.md).
func measure(env *zkerneltest.Env, cmd *exec.Cmd) (out *bytes.Buffer, wall, kernel time.Duration, err error) {
	out = &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	busy0 := env.Kernel.BusyTime()
	start := time.Now()
	if err := env.RunInGuest(cmd.Start); err != nil {
		return out, 0, 0, err
	}
	err = cmd.Wait()
	wall = time.Since(start)
	kernel = env.Kernel.BusyTime() - busy0
	if err != nil {
		return out, wall, kernel, fmt.Errorf("%v\n%s", err, out.String())
	}
	return out, wall, kernel, nil
}
