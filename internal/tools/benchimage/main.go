// Command benchimage times `zguest-image build` of the test root file
// system (the Debian 12 s390x tarball of internal/imagefixture) to qcow2,
// side by side with the same steps done the conventional way: extract the
// tarball, mkfs.ext4 -d into a raw file, qemu-img convert to qcow2. Runs
// alternate; it prints medians, the ratio and the peak memory (VmHWM) of
// each tool. Needs root (the tree's owners) and the cached root file
// system (built on first use).
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/zguest/zguest/internal/imagefixture"
	"github.com/zguest/zguest/internal/procstat"
)

func main() {
	tool := flag.String("zguest-image", "bin/zguest-image", "zguest-image to measure")
	agent := flag.String("agent", "bin/s390x/zguest-agent", "s390x agent to install")
	runs := flag.Int("runs", 3, "runs of each")
	work := flag.String("dir", os.TempDir(), "scratch directory")
	zvm := flag.Bool("zvm", true, "also time the zvm DASD build (CDL, fdasd and zipl in a chroot) and its xCAT CKD output")
	flag.Parse()
	for _, p := range []*string{tool, agent} {
		abs, err := filepath.Abs(*p)
		check(err)
		*p = abs
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "benchimage: needs root (the root file system keeps its owners)")
		os.Exit(2)
	}
	rootfs, err := imagefixture.EnsureRootfs(func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) })
	check(err)
	dir, err := os.MkdirTemp(*work, "benchimage-")
	check(err)
	defer os.RemoveAll(dir)
	spec := filepath.Join(dir, "image.yaml")
	// Same target size, same file system, no boot record: the conventional
	// path has none either. Sysprep and the agent are part of our build.
	check(os.WriteFile(spec, []byte(imagefixture.Spec(rootfs, *agent, "kvm", "", "bootloader: none\npartition_table: none\n")), 0o644))
	st, err := os.Stat(rootfs)
	check(err)
	fmt.Printf("root file system: %s (%d MiB tarball)\n", rootfs, st.Size()>>20)

	var ours, oursDisk, conv []time.Duration
	var ourPeak, mkfsPeak, qimgPeak, tarPeak int64
	var ourSize, convSize int64
	for i := 0; i < *runs; i++ {
		out := filepath.Join(dir, "ours.qcow2")
		// Each run starts with no dirty pages from the one before: the
		// writeback of 400 MB otherwise lands in whichever runs next.
		syscall.Sync()
		d, peak := run(exec.Command(*tool, "build", spec, "-o", out), "SOURCE_DATE_EPOCH=1700000000") // its own choice of scratch space
		ours = append(ours, d)
		ourPeak = max(ourPeak, peak)
		ourSize = size(out)
		os.Remove(out)
		for _, x := range []string{".vmlinuz", ".initrd", ".cmdline"} {
			os.Remove(filepath.Join(dir, "ours"+x))
		}

		// The same build with its scratch space on the disk, as the
		// conventional steps have it.
		syscall.Sync()
		d, _ = run(exec.Command(*tool, "build", spec, "-o", out, "-workdir", dir), "SOURCE_DATE_EPOCH=1700000000")
		oursDisk = append(oursDisk, d)
		os.Remove(out)

		tree := filepath.Join(dir, "tree")
		raw := filepath.Join(dir, "conv.raw")
		qc := filepath.Join(dir, "conv.qcow2")
		syscall.Sync()
		start := time.Now()
		check(os.Mkdir(tree, 0o755))
		_, p := run(exec.Command("tar", "--numeric-owner", "--xattrs", "-xpf", rootfs, "-C", tree))
		tarPeak = max(tarPeak, p)
		check(exec.Command("truncate", "-s", "2G", raw).Run())
		_, p = run(exec.Command("mkfs.ext4", "-q", "-F", "-L", "root", "-d", tree, raw))
		mkfsPeak = max(mkfsPeak, p)
		_, p = run(exec.Command("qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, qc))
		qimgPeak = max(qimgPeak, p)
		conv = append(conv, time.Since(start))
		convSize = size(qc)
		os.RemoveAll(tree)
		os.Remove(raw)
		os.Remove(qc)
	}
	mo, mc := median(ours), median(conv)
	fmt.Printf("zguest-image build (stage, agent+units, sysprep, mke2fs -d, clamp, qcow2): median %6.2fs  peak RSS %5.1f MiB  image %d MiB\n",
		mo.Seconds(), float64(ourPeak)/1024, ourSize>>20)
	fmt.Printf("zguest-image build, scratch on disk (-workdir):                        median %6.2fs  ratio %.2f\n",
		median(oursDisk).Seconds(), median(oursDisk).Seconds()/mc.Seconds())
	fmt.Printf("tar -x + mkfs.ext4 -d + qemu-img convert:                                median %6.2fs  peak RSS tar %.1f / mkfs %.1f / qemu-img %.1f MiB  image %d MiB\n",
		mc.Seconds(), float64(tarPeak)/1024, float64(mkfsPeak)/1024, float64(qimgPeak)/1024, convSize>>20)
	fmt.Printf("ratio zguest-image / conventional: %.2f (runs: ours %v, conventional %v)\n", mo.Seconds()/mc.Seconds(), round(ours), round(conv))
	if *zvm {
		benchZVM(*tool, *agent, rootfs, dir, *runs)
	}
}

// run starts cmd, samples its VmHWM (and its children's) until it exits,
// and returns the wall time and the peak in KiB.
func run(cmd *exec.Cmd, env ...string) (time.Duration, int64) {
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	start := time.Now()
	check(cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var peak int64
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if err != nil {
				fmt.Fprintf(os.Stderr, "benchimage: %s: %v\n", strings.Join(cmd.Args, " "), err)
				os.Exit(1)
			}
			return time.Since(start), peak
		case <-tick.C:
			peak = max(peak, hwm(cmd.Process.Pid))
		}
	}
}

// hwm is the largest VmHWM of pid and its direct children.
func hwm(pid int) int64 {
	best := vmHWM(pid)
	kids, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	for _, k := range strings.Fields(string(kids)) {
		if c, err := strconv.Atoi(k); err == nil {
			best = max(best, vmHWM(c))
		}
	}
	return best
}

func vmHWM(pid int) int64 {
	v, _ := procstat.Field(pid, "VmHWM")
	return v >> 10 // KiB, as printed
}

func size(p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return st.Size()
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func round(d []time.Duration) []string {
	var out []string
	for _, x := range d {
		out = append(out, fmt.Sprintf("%.2fs", x.Seconds()))
	}
	return out
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchimage:", err)
		os.Exit(1)
	}
}
