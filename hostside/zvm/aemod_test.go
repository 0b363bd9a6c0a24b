package zvm_test

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/zvm"
	"github.com/zguest/zguest/internal/zvm/spool"
)

func untar(t *testing.T, data []byte) map[string]*tar.Header {
	t.Helper()
	out := map[string]*tar.Header{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		h.PAXRecords = map[string]string{"body": string(body)}
		out[h.Name] = h
	}
}

func TestAemodDoscriptContents(t *testing.T) {
	data, err := zvm.AemodDoscript(zvm.DiskParms{Vdev: "0101", FileSys: "ext4", MntDir: "/mnt/ephemeral0101"})
	if err != nil {
		t.Fatal(err)
	}
	files := untar(t, data)
	if len(files) != 2 {
		t.Fatalf("%d files", len(files))
	}
	inv := files["invokeScript.sh"]
	want := "#!/bin/bash\n# aemod.doscript from zguest-hostd: set up minidisk 0101\n" +
		"/bin/sh ./setupDisk 'action=addMdisk' 'vaddr=0101' 'filesys=ext4' 'mntdir=/mnt/ephemeral0101'\n" +
		"rc=$?\nrm -f ./setupDisk ./invokeScript.sh\nexit $rc\n"
	if inv == nil || inv.PAXRecords["body"] != want || inv.Mode != 0o755 || inv.Typeflag != tar.TypeReg {
		t.Errorf("invokeScript.sh: %+v", inv)
	}
	sd := files["setupDisk"]
	if sd == nil || sd.PAXRecords["body"] != zvm.SetupDiskScript || sd.Mode != 0o755 {
		t.Errorf("setupDisk: %+v", sd)
	}
	if again, _ := zvm.AemodDoscript(zvm.DiskParms{Vdev: "0101", FileSys: "ext4", MntDir: "/mnt/ephemeral0101"}); !bytes.Equal(again, data) {
		t.Error("not deterministic")
	}
}

func TestConfigMinidisksPunches(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	if _, err := r.b.CreateGuest(ctx, spec("LINUX01")); err != nil {
		t.Fatal(err)
	}
	err := r.b.ConfigMinidisks(ctx, "LINUX01", []api.Disk{{Size: "1g", Format: "EXT3"}, {Vdev: "0102", Format: "swap"}, {Format: "xfs", MntDir: "/data/x_1"}})
	if err != nil {
		t.Fatal(err)
	}
	files, _ := r.sim.Spool().Files("LINUX01", spool.QueueRDR)
	if len(files) != 3 {
		t.Fatalf("reader %+v", files)
	}
	wantLines := []string{
		"'action=addMdisk' 'vaddr=0101' 'filesys=ext3' 'mntdir=/mnt/ephemeral0101'",
		"'action=addMdisk' 'vaddr=0102' 'filesys=swap' 'mntdir=swap'",
		"'action=addMdisk' 'vaddr=0103' 'filesys=xfs' 'mntdir=/data/x_1'",
	}
	for i, f := range files {
		if f.Name != "aemod" || f.Type != "doscript" || f.Class != 'X' || f.Origin != r.sim.HostID() {
			t.Errorf("file %d: %+v", i, f)
		}
		var data []byte
		for _, rec := range f.Records {
			data = append(data, rec...)
			data = append(data, make([]byte, f.RecLen-len(rec))...)
		}
		inv := untar(t, data)["invokeScript.sh"]
		if inv == nil || !strings.Contains(inv.PAXRecords["body"], wantLines[i]) {
			t.Errorf("file %d: invokeScript.sh %v", i, inv)
		}
	}
	if left, _ := r.sim.Spool().List(r.sim.HostID()); len(left) != 0 {
		t.Errorf("left in the connector's reader: %+v", left)
	}

	// Hostile or bad values: a 400-class input error, nothing punched.
	for _, d := range []api.Disk{
		{Format: "ext4", MntDir: "mnt/rel"},
		{Format: "ext4", MntDir: "/mnt/../etc"},
		{Format: "ext4", MntDir: "/mnt/x;touch /tmp/pwned"},
		{Format: "ext4", MntDir: "/mnt/$(id)"},
		{Format: "ext4", MntDir: "/mnt/`id`"},
		{Format: "ext4", MntDir: "/mnt/a b"},
		{Format: "ext4", MntDir: "/mnt/x'y"},
		{Format: "ext4", MntDir: "/mnt/x\ny"},
		{Format: "ext4", MntDir: "/mnt/x/"},
		{Format: "ext4", MntDir: "/etc"},
		{Format: "ext4", MntDir: "/usr/lib"},
		{Format: "ext4", MntDir: "/"},
		{Format: "ntfs"},
		{Format: "ext4", Vdev: "zz"},
	} {
		err := r.b.ConfigMinidisks(ctx, "LINUX01", []api.Disk{{Format: "ext4"}, d})
		if e := apiErr(t, err); e.OverallRC != 100 || e.HTTPStatus() != 400 {
			t.Errorf("%+v: %+v", d, e)
		}
	}
	if files, _ := r.sim.Spool().Files("LINUX01", spool.QueueRDR); len(files) != 3 {
		t.Errorf("punched despite refusal: %d files", len(files))
	}
	if err := r.b.ConfigMinidisks(ctx, "NOBODY", nil); apiErr(t, err).OverallRC != 404 {
		t.Errorf("%v", err)
	}
}

func TestSetupDiskSyntax(t *testing.T) {
	for _, sh := range []string{"sh", "dash", "bash"} {
		p, err := exec.LookPath(sh)
		if err != nil {
			continue
		}
		cmd := exec.Command(p, "-n")
		if sh == "bash" {
			cmd = exec.Command(p, "--posix", "-n")
		}
		cmd.Stdin = strings.NewReader(zvm.SetupDiskScript)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s -n: %v\n%s", sh, err, out)
		}
	}
	inv := zvm.InvokeScript(zvm.DiskParms{Vdev: "0101", FileSys: "ext4", MntDir: "/mnt/ephemeral0101"})
	if out, err := exec.Command("bash", "-n", "-c", inv).CombinedOutput(); err != nil {
		t.Errorf("invokeScript.sh: %v\n%s", err, out)
	}
}

// fakeGuest is a fake root with device 0.0.<vdev> (devtype) in sysfs and
// a bin directory of fake commands that log their arguments.
type fakeGuest struct {
	root, bin, log, outside string
}

func newFakeGuest(t *testing.T, vdev, devtype string) *fakeGuest {
	t.Helper()
	base := t.TempDir()
	g := &fakeGuest{root: filepath.Join(base, "root"), bin: filepath.Join(base, "bin"), log: filepath.Join(base, "cmds.log"), outside: base}
	dev := filepath.Join(g.root, "sys/bus/ccw/devices/0.0."+vdev)
	for _, d := range []string{filepath.Join(dev, "block/dasdb"), filepath.Join(g.root, "etc"), filepath.Join(g.root, "dev"), filepath.Join(g.root, "proc"), g.bin} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, s string, mode os.FileMode) {
		if err := os.WriteFile(p, []byte(s), mode); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dev, "online"), "0\n", 0o644)
	write(filepath.Join(dev, "devtype"), devtype+"\n", 0o644)
	write(filepath.Join(g.root, "dev/dasdb"), "", 0o644)
	write(filepath.Join(g.root, "etc/fstab"), "/dev/disk/by-path/ccw-0.0.0100-part1 / ext4 defaults 0 1\n", 0o644)
	write(filepath.Join(g.root, "proc/mounts"), "", 0o644)
	for _, c := range []string{"mkfs.ext4", "mkfs.xfs", "mkswap", "swapon", "mount", "dasdfmt", "blkid", "chzdev"} {
		body := "#!/bin/sh\necho \"" + c + " $*\" >>" + g.log + "\n"
		if c == "blkid" {
			body += "exit 2\n" // no file system
		}
		write(filepath.Join(g.bin, c), body, 0o755)
	}
	// fdasd makes the partition.
	write(filepath.Join(g.bin, "fdasd"), "#!/bin/sh\necho \"fdasd $*\" >>"+g.log+"\n: >\"$2\"1\n", 0o755)
	return g
}

// snapshot lists every path with its content below dir.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		b, _ := os.ReadFile(p)
		out[p] = string(b)
		return nil
	})
	return out
}

func (g *fakeGuest) run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	script := filepath.Join(g.outside, "setupDisk")
	if err := os.WriteFile(script, []byte(zvm.SetupDiskScript), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", append([]string{script}, args...)...)
	cmd.Dir = g.outside
	cmd.Env = []string{"PATH=" + g.bin + ":/usr/bin:/bin", "ZGUEST_ROOT=" + g.root}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (g *fakeGuest) cmds(t *testing.T) string {
	b, _ := os.ReadFile(g.log)
	return string(b)
}

func TestSetupDiskFakeRoot(t *testing.T) {
	// FBA disk, ext4.
	g := newFakeGuest(t, "0101", "9336/10")
	out, err := g.run(t, "action=addMdisk", "vaddr=101", "filesys=ext4", "mntdir=/mnt/ephemeral0101")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	dev := g.root + "/dev/dasdb"
	wantCmds := "blkid -o value -s TYPE " + dev + "\nmkfs.ext4 -F " + dev + "\nmount -t ext4 " + dev + " " + g.root + "/mnt/ephemeral0101\n"
	if got := g.cmds(t); got != wantCmds {
		t.Errorf("commands:\n%s\nwant\n%s", got, wantCmds)
	}
	online, _ := os.ReadFile(g.root + "/sys/bus/ccw/devices/0.0.0101/online")
	fstab, _ := os.ReadFile(g.root + "/etc/fstab")
	if string(online) != "1\n" || !strings.HasSuffix(string(fstab), "\n/dev/disk/by-path/ccw-0.0.0101 /mnt/ephemeral0101 ext4 defaults,nofail 0 2\n") {
		t.Errorf("online %q fstab %q", online, fstab)
	}
	if fi, err := os.Stat(g.root + "/mnt/ephemeral0101"); err != nil || !fi.IsDir() {
		t.Errorf("mount point: %v", err)
	}
	// Run again: no second fstab line.
	if out, err := g.run(t, "action=addMdisk", "vaddr=0101", "filesys=ext4", "mntdir=/mnt/ephemeral0101"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if f2, _ := os.ReadFile(g.root + "/etc/fstab"); string(f2) != string(fstab) {
		t.Errorf("fstab changed on the second run:\n%s", f2)
	}

	// ECKD disk, swap: dasdfmt, fdasd, mkswap on the partition, swapon.
	g = newFakeGuest(t, "0102", "3390/0c")
	if out, err := g.run(t, "action=addMdisk", "vaddr=0102", "filesys=swap", "mntdir=swap"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	dev = g.root + "/dev/dasdb"
	wantCmds = "dasdfmt -y -b 4096 -d cdl -f " + dev + "\nfdasd -a " + dev + "\nblkid -o value -s TYPE " + dev + "1\nmkswap " + dev + "1\nswapon " + dev + "1\n"
	if got := g.cmds(t); got != wantCmds {
		t.Errorf("commands:\n%s\nwant\n%s", got, wantCmds)
	}
	fstab, _ = os.ReadFile(g.root + "/etc/fstab")
	if !strings.HasSuffix(string(fstab), "\n/dev/disk/by-path/ccw-0.0.0102-part1 none swap defaults,nofail 0 0\n") {
		t.Errorf("fstab %q", fstab)
	}
}

func TestSetupDiskHostileMntDir(t *testing.T) {
	for _, m := range []string{
		"mntdir=relative", "mntdir=/mnt/../../etc", "mntdir=/mnt/x;touch${IFS}pwned", "mntdir=/mnt/$(touch pwned)",
		"mntdir=/mnt/`touch pwned`", "mntdir=/mnt/a b", "mntdir=/mnt/x'y", "mntdir=/mnt/x\ny", "mntdir=/etc", "mntdir=/usr/lib",
		"mntdir=/", "mntdir=/mnt/./x", "mntdir=//mnt", "mntdir=/mnt/*", "mntdir=",
	} {
		g := newFakeGuest(t, "0101", "9336/10")
		before := snapshot(t, g.outside)
		out, err := g.run(t, "action=addMdisk", "vaddr=0101", "filesys=ext4", m)
		if err == nil {
			t.Errorf("%q accepted:\n%s", m, out)
		}
		after := snapshot(t, g.outside)
		delete(after, filepath.Join(g.outside, "setupDisk"))
		var diff []string
		for p, c := range after {
			if before[p] != c {
				diff = append(diff, p)
			}
		}
		for p := range before {
			if _, ok := after[p]; !ok {
				diff = append(diff, p)
			}
		}
		sort.Strings(diff)
		if len(diff) != 0 {
			t.Errorf("%q changed %v\n%s", m, diff, out)
		}
	}
	// Other bad parameters.
	for _, args := range [][]string{
		{"action=delMdisk", "vaddr=0101", "filesys=ext4", "mntdir=/mnt/x"},
		{"action=addMdisk", "vaddr=0101;x", "filesys=ext4", "mntdir=/mnt/x"},
		{"action=addMdisk", "vaddr=0101", "filesys=ntfs", "mntdir=/mnt/x"},
		{"action=addMdisk", "vaddr=0101", "filesys=ext4", "mntdir=/mnt/x", "extra=1"},
		{"action=addMdisk", "vaddr=0201", "filesys=ext4", "mntdir=/mnt/x"}, // no such device
	} {
		g := newFakeGuest(t, "0101", "9336/10")
		before := snapshot(t, g.root)
		if out, err := g.run(t, args...); err == nil {
			t.Errorf("%q accepted:\n%s", args, out)
		}
		if after := snapshot(t, g.root); len(after) != len(before) || g.cmds(t) != "" {
			t.Errorf("%q changed the root or ran %q", args, g.cmds(t))
		}
	}
}
