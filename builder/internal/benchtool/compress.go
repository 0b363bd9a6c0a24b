package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Targets of the compression benchmark: zguest-image convert --compress
// at least this many times faster than qemu-img convert -c, its output
// at most this fraction larger.
const (
	targetSpeedup = 1.8
	targetSize    = 0.01
)

// measure is one timed run: wall time and the CPU time (user + system)
// the process and its threads used.
type measure struct{ wall, cpu time.Duration }

func timeRun(argv []string, env []string, out string) (measure, error) {
	os.Remove(out)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	start := time.Now()
	b, err := cmd.CombinedOutput()
	m := measure{wall: time.Since(start)}
	if err != nil {
		return m, fmt.Errorf("%q: %v: %s", argv, err, b)
	}
	m.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return m, nil
}

func medians(ms []measure) measure {
	var w, c []time.Duration
	for _, m := range ms {
		w, c = append(w, m.wall), append(c, m.cpu)
	}
	return measure{median(w), median(c)}
}

// cpuPressure returns the "some avg10" figure of /proc/pressure/cpu: the
// share of the last 10 s in which runnable tasks waited for a CPU (0 on
// an idle machine).
func cpuPressure() string {
	b, err := os.ReadFile("/proc/pressure/cpu")
	if err != nil {
		return "unknown"
	}
	for _, f := range strings.Fields(string(b)) {
		if v, ok := strings.CutPrefix(f, "avg10="); ok {
			return v + "%"
		}
	}
	return "unknown"
}

// compressBench compresses a sparse raw holding dataMiB of a tar of the
// paths in real (binaries, libraries, documentation: what a guest image
// holds) with zguest-image convert --compress on every core and on one
// (GOMAXPROCS=1), and with qemu-img convert -c, alternately, runs times
// after a warm-up. It prints median wall and CPU times, sizes, ratios
// and whether the targets are met.
//
// With rt, every timed command runs under SCHED_FIFO (chrt -f 1, root
// only) and the tool pauses 2 s between commands: on a machine shared with
// other work that gives each tool the cores to itself, as on an idle
// machine, while the other processes still get the kernel's real-time
// throttling share and the pauses.
func compressBench(bin, dir, real string, dataMiB, sizeMiB int64, runs int, rt bool) error {
	rr := filepath.Join(dir, "real.raw")
	defer os.Remove(rr)
	script := fmt.Sprintf("rm -f %[1]s && truncate -s %[3]dM %[1]s && (tar cf - %[2]s 2>/dev/null | head -c %[4]dM | dd of=%[1]s conv=notrunc bs=1M status=none)", rr, real, sizeMiB, dataMiB)
	if out, err := exec.Command("sh", "-c", script).CombinedOutput(); err != nil {
		return fmt.Errorf("make %s: %v: %s", rr, err, out)
	}
	o, o1, q := filepath.Join(dir, "real-o.qcow2"), filepath.Join(dir, "real-o1.qcow2"), filepath.Join(dir, "real-q.qcow2")
	defer os.Remove(o)
	defer os.Remove(o1)
	defer os.Remove(q)
	type tool struct {
		name string
		argv []string
		env  []string
		out  string
		runs []measure
	}
	tools := []*tool{
		{name: fmt.Sprintf("zguest-image --compress, %d cores", runtime.NumCPU()), argv: []string{bin, "convert", "--compress", rr, o}, out: o},
		{name: "zguest-image --compress, GOMAXPROCS=1", argv: []string{bin, "convert", "--compress", rr, o1}, env: []string{"GOMAXPROCS=1"}, out: o1},
		{name: "qemu-img convert -c", argv: []string{"qemu-img", "convert", "-c", "-f", "raw", "-O", "qcow2", rr, q}, out: q},
	}
	if rt {
		for _, t := range tools {
			t.argv = append([]string{"chrt", "-f", "1"}, t.argv...)
		}
	}
	pressure := cpuPressure()
	for i := -1; i < runs; i++ { // run -1 is the warm-up
		for _, t := range tools {
			if rt {
				time.Sleep(2 * time.Second)
			}
			m, err := timeRun(t.argv, t.env, t.out)
			if err != nil {
				return err
			}
			if i >= 0 {
				t.runs = append(t.runs, m)
			}
		}
	}
	fmt.Printf("\ncompression of real files: %d MiB of a tar of %s in a %d MiB sparse raw; %d runs each, alternating, medians\n", dataMiB, real, sizeMiB, runs)
	fmt.Printf("CPU pressure (some avg10) before: %s, after: %s (0%% on an idle machine; above that, other processes competed for the cores)\n", pressure, cpuPressure())
	if rt {
		fmt.Println("timed commands ran under SCHED_FIFO (-rt): each had the cores to itself")
	}
	fmt.Printf("%-40s %10s %10s %8s %14s\n", "tool", "wall", "CPU", "cores", "size")
	ref := medians(tools[2].runs)
	qs, err := os.Stat(q)
	if err != nil {
		return err
	}
	var ours measure
	var oursSize int64
	for i, t := range tools {
		m := medians(t.runs)
		st, err := os.Stat(t.out)
		if err != nil {
			return err
		}
		if i == 0 {
			ours, oursSize = m, st.Size()
		}
		fmt.Printf("%-40s %9.2fs %9.2fs %8.2f %14d\n", t.name, m.wall.Seconds(), m.cpu.Seconds(), m.cpu.Seconds()/m.wall.Seconds(), st.Size())
	}
	speed := ref.wall.Seconds() / ours.wall.Seconds()
	size := float64(oursSize)/float64(qs.Size()) - 1
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	fmt.Printf("speed-up vs qemu-img -c: %.2fx wall (target %.1fx: %s), %.2fx CPU time; size %+.2f%% (target within %.0f%%: %s)\n",
		speed, targetSpeedup, verdict(speed >= targetSpeedup), ref.cpu.Seconds()/ours.cpu.Seconds(), size*100, targetSize*100, verdict(size <= targetSize))
	return nil
}
