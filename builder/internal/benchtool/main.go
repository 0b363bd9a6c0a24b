// Command benchtool times zguest-image against the tools it replaces, side
// by side in one run: qemu-img convert for qcow2 (plain and compressed, and
// back to raw), genisoimage with nova's flags for ISO config drives, and
// mkfs.vfat plus mcopy for vfat config drives. Each pair runs alternately,
// after one warm-up, and the median of -runs wall times is compared.
//
//	go run ./builder/internal/benchtool -zguest-image ./bin/zguest-image
package main

import (
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"time"

	"github.com/zguest/zguest/builder/configdrive"
	"github.com/zguest/zguest/builder/fstree"
)

func main() {
	bin := flag.String("zguest-image", "zguest-image", "path to the zguest-image binary")
	runs := flag.Int("runs", 5, "timed runs per tool (median reported)")
	dir := flag.String("dir", "", "scratch directory (default: a new temporary one, removed at the end)")
	sizeMiB := flag.Int64("size", 2048, "virtual size of the raw image in MiB")
	dataMiB := flag.Int64("extent", 100, "size of each of the three random extents in MiB")
	skip := flag.String("skip", "", "comma-free letters: q (qcow2), c (compressed), r (reverse), x (compressed real files), i (iso), v (vfat)")
	real := flag.String("real", "/usr/bin /usr/share", "compression of real files: a tar of these space-separated paths in a sparse raw (\"\" skips it)")
	realMiB := flag.Int64("real-data", 360, "MiB of the tar written into the raw")
	realSize := flag.Int64("real-size", 3072, "virtual size in MiB of the raw holding real files")
	rt := flag.Bool("rt", false, "run the timed commands of the real-files compression under SCHED_FIFO (chrt -f 1, root): the cores to themselves on a shared machine")
	flag.Parse()
	if err := run(*bin, *runs, *dir, *sizeMiB, *dataMiB, *skip, *real, *realMiB, *realSize, *rt); err != nil {
		fmt.Fprintln(os.Stderr, "benchtool:", err)
		os.Exit(1)
	}
}

func has(s string, c rune) bool {
	for _, r := range s {
		if r == c {
			return true
		}
	}
	return false
}

func run(bin string, runs int, dir string, sizeMiB, dataMiB int64, skip, real string, realMiB, realSize int64, rt bool) error {
	if dir == "" {
		d, err := os.MkdirTemp("", "zguest-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	abs, err := filepath.Abs(bin)
	if err == nil {
		if _, err := os.Stat(abs); err == nil {
			bin = abs
		}
	}
	raw := filepath.Join(dir, "src.raw")
	if has(skip, 'q') && has(skip, 'c') && has(skip, 'r') {
		sizeMiB, dataMiB = 0, 0 // no qcow2 row: no random source
	}
	if err := makeRaw(raw, sizeMiB, dataMiB); err != nil {
		return err
	}
	fmt.Printf("source: %s, %d MiB virtual, 3 random extents of %d MiB; %d runs each, median wall time\n\n", raw, sizeMiB, dataMiB, runs)
	fmt.Printf("%-40s %10s %10s %7s %14s %14s\n", "benchmark", "zguest", "reference", "ratio", "zguest size", "ref size")
	q := filepath.Join(dir, "q.qcow2")
	o := filepath.Join(dir, "o.qcow2")
	if !has(skip, 'q') {
		if err := pair("raw->qcow2 (vs qemu-img)", runs,
			[]string{bin, "convert", raw, o},
			[]string{"qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, q}, o, q); err != nil {
			return err
		}
	}
	if !has(skip, 'c') {
		if err := pair("raw->qcow2 -c (vs qemu-img -c)", runs,
			[]string{bin, "convert", "--compress", raw, o},
			[]string{"qemu-img", "convert", "-c", "-f", "raw", "-O", "qcow2", raw, q}, o, q); err != nil {
			return err
		}
	}
	if !has(skip, 'r') {
		if err := os.Remove(o); err == nil || os.IsNotExist(err) {
			if out, err := exec.Command(bin, "convert", raw, o).CombinedOutput(); err != nil {
				return fmt.Errorf("%v: %s", err, out)
			}
		}
		ro, rq := filepath.Join(dir, "o.raw"), filepath.Join(dir, "q.raw")
		if err := pair("qcow2->raw (vs qemu-img)", runs,
			[]string{bin, "convert", o, ro},
			[]string{"qemu-img", "convert", "-f", "qcow2", "-O", "raw", o, rq}, ro, rq); err != nil {
			return err
		}
		os.Remove(ro)
		os.Remove(rq)
	}
	os.Remove(raw)
	if real != "" && !has(skip, 'x') {
		if err := compressBench(bin, dir, real, realMiB, realSize, min(runs, 3), rt); err != nil {
			return err
		}
	}

	// Config drives. nova's path: write the tree into a temporary
	// directory (ConfigDriveBuilder), run the tool over it, remove the
	// directory. Ours: the zguest-image CLI from instance JSON, and the
	// library call the host daemon makes.
	in := benchInstance()
	js := filepath.Join(dir, "instance.json")
	if b, err := json.Marshal(in); err != nil {
		return err
	} else if err := os.WriteFile(js, b, 0o644); err != nil {
		return err
	}
	cdRuns := max(runs, 11)
	for _, f := range []configdrive.Format{configdrive.ISO9660, configdrive.VFAT} {
		if (f == configdrive.ISO9660 && has(skip, 'i')) || (f == configdrive.VFAT && has(skip, 'v')) {
			continue
		}
		ext := map[configdrive.Format]string{configdrive.ISO9660: ".iso", configdrive.VFAT: ".vfat"}[f]
		ours := filepath.Join(dir, "o"+ext)
		nova := filepath.Join(dir, "n"+ext)
		novaPath := func() error {
			tree, err := os.MkdirTemp(dir, "cd_")
			if err != nil {
				return err
			}
			defer os.RemoveAll(tree)
			if err := writeTree(tree, in); err != nil {
				return err
			}
			var cmd *exec.Cmd
			if f == configdrive.ISO9660 {
				cmd = exec.Command("genisoimage", "-o", nova, "-ldots", "-allow-lowercase", "-allow-multidot", "-l",
					"-publisher", "OpenStack Nova 31.0.0", "-quiet", "-J", "-r", "-V", "config-2", tree)
			} else {
				cmd = exec.Command("sh", "-c", fmt.Sprintf("truncate -s 64M %[1]s && mkfs.vfat -n config-2 %[1]s >/dev/null 2>&1 && mcopy -s -i %[1]s %[2]s/* ::/", nova, tree))
			}
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("%v: %s", err, out)
			}
			return nil
		}
		cli := func() error {
			out, err := exec.Command(bin, "configdrive", "--from-json", js, "-o", ours).CombinedOutput()
			if err != nil {
				return fmt.Errorf("%v: %s", err, out)
			}
			return nil
		}
		lib := func() error {
			t, err := configdrive.Build(in)
			if err != nil {
				return err
			}
			return configdrive.WriteImage(ours, t, configdrive.ImageOptions{Format: f})
		}
		if err := pairFunc("config drive "+f.String()+" CLI (vs nova)", cdRuns, cli, novaPath, ours, nova); err != nil {
			return err
		}
		if err := pairFunc("config drive "+f.String()+" library (vs nova)", cdRuns, lib, novaPath, ours, nova); err != nil {
			return err
		}
	}
	return nil
}

func makeRaw(path string, sizeMiB, dataMiB int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Truncate(sizeMiB << 20); err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	for _, start := range []int64{0, sizeMiB * 7 / 20, sizeMiB * 3 / 4} {
		for i := int64(0); i < dataMiB; i++ {
			rand.Read(buf)
			if _, err := f.WriteAt(buf, (start+i)<<20); err != nil {
				return err
			}
		}
	}
	return f.Sync()
}

func benchInstance() *configdrive.Instance {
	mtu := 1500
	return &configdrive.Instance{
		UUID: "6f1c2a5e-3b7d-4c8e-9a0f-1d2e3f4a5b6c", Hostname: "bench-1", Name: "bench-1",
		Keys:     []configdrive.Key{{Name: "k", Type: "ssh", Data: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBenchKey bench"}},
		UserData: []byte("#cloud-config\nruncmd:\n  - echo hello\n"),
		Network: &configdrive.NetworkData{
			Links:    []configdrive.Link{{ID: "enc1", Type: "phy", EthernetMACAddress: "0a:00:00:00:00:11", MTU: &mtu}},
			Networks: []configdrive.Network{{ID: "network0", Type: "ipv4_dhcp", Link: "enc1"}},
		},
		Files: []configdrive.File{{Path: "/etc/motd", Contents: []byte("hello\n")}},
	}
}

// writeTree writes the config drive tree of in to dir, as nova's
// ConfigDriveBuilder does before it runs genisoimage or mkfs.
func writeTree(dir string, in *configdrive.Instance) error {
	t, err := configdrive.Build(in)
	if err != nil {
		return err
	}
	return t.Walk(func(p string, n *fstree.Node) error {
		full := filepath.Join(dir, p)
		if n.Dir {
			return os.MkdirAll(full, 0o755)
		}
		b, err := t.ReadFile(p, 1<<20)
		if err != nil {
			return err
		}
		return os.WriteFile(full, b, 0o644)
	})
}

func timeCmd(argv []string, out string) (time.Duration, error) {
	os.Remove(out)
	start := time.Now()
	cmd := exec.Command(argv[0], argv[1:]...)
	b, err := cmd.CombinedOutput()
	d := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("%q: %v: %s", argv, err, b)
	}
	return d, nil
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func pair(name string, runs int, ours, ref []string, oursOut, refOut string) error {
	// One warm-up each, then alternate.
	if _, err := timeCmd(ours, oursOut); err != nil {
		return err
	}
	if _, err := timeCmd(ref, refOut); err != nil {
		return err
	}
	var a, b []time.Duration
	for range runs {
		d, err := timeCmd(ours, oursOut)
		if err != nil {
			return err
		}
		a = append(a, d)
		d, err = timeCmd(ref, refOut)
		if err != nil {
			return err
		}
		b = append(b, d)
	}
	ma, mb := median(a), median(b)
	sa, _ := os.Stat(oursOut)
	sb, _ := os.Stat(refOut)
	fmt.Printf("%-40s %9.1fms %9.1fms %7.3f %14d %14d\n", name, ms(ma), ms(mb), float64(ma)/float64(mb), sa.Size(), sb.Size())
	return nil
}

// pairFunc times two Go functions like pair times two commands.
func pairFunc(name string, runs int, ours, ref func() error, oursOut, refOut string) error {
	timeIt := func(f func() error, out string) (time.Duration, error) {
		os.Remove(out)
		start := time.Now()
		err := f()
		return time.Since(start), err
	}
	var a, b []time.Duration
	for i := -1; i < runs; i++ { // run -1 is the warm-up
		da, err := timeIt(ours, oursOut)
		if err != nil {
			return err
		}
		db, err := timeIt(ref, refOut)
		if err != nil {
			return err
		}
		if i >= 0 {
			a, b = append(a, da), append(b, db)
		}
	}
	ma, mb := median(a), median(b)
	sa, _ := os.Stat(oursOut)
	sb, _ := os.Stat(refOut)
	fmt.Printf("%-40s %9.2fms %9.2fms %7.3f %14d %14d  (%.0fx faster)\n", name, ms(ma), ms(mb), float64(ma)/float64(mb), sa.Size(), sb.Size(), float64(mb)/float64(ma))
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
