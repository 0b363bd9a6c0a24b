package imagebuild

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zguest/zguest/builder/imagespec"
	"github.com/zguest/zguest/builder/initrd"
	"github.com/zguest/zguest/internal/testutil"
)

// fakeAgent is enough of an s390x ELF header for the build's check.
func fakeAgent(t *testing.T, dir string) string {
	b := make([]byte, 64)
	copy(b, "\x7fELF\x02\x02\x01")
	binary.BigEndian.PutUint16(b[18:], 22) // EM_S390
	p := filepath.Join(dir, "zguest-agent")
	if err := os.WriteFile(p, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// fakeKernelFile is a kernel image with the S390EP mark and a parameter
// area, as the boot record needs.
func fakeKernelFile(n int) []byte {
	k := bytes.Repeat([]byte{0x07}, n)
	copy(k[0x10008:], "S390EP")
	binary.BigEndian.PutUint64(k[0x10430:], 4096)
	clear(k[0x10480 : 0x10480+4096])
	return k
}

// tree writes a small Debian-like root file system.
func tree(t *testing.T, dir string) {
	t.Helper()
	files := map[string]string{
		"etc/fstab":                                "# UNCONFIGURED FSTAB FOR BASE SYSTEM\n",
		"etc/machine-id":                           "0123456789abcdef0123456789abcdef\n",
		"etc/hostname":                             "buildhost\n",
		"etc/ssh/ssh_host_ed25519_key":             "secret\n",
		"var/lib/cloud/instance/boot":              "x\n",
		"var/log/dpkg.log":                         "lots of lines\n",
		"etc/udev/rules.d/70-persistent-net.rules": "SUBSYSTEM==\"net\"\n",
		"boot/vmlinuz-6.1.0-50-s390x":              string(fakeKernelFile(300 << 10)),
		"boot/initrd.img-6.1.0-50-s390x":           strings.Repeat("initrd", 50000),
		"usr/bin/true":                             "#!/bin/sh\n",
	}
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{"vmlinuz": "boot/vmlinuz-6.1.0-50-s390x", "initrd.img": "boot/initrd.img-6.1.0-50-s390x"} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Unix(1600000000, 0)
	_ = filepath.Walk(dir, func(p string, _ os.FileInfo, _ error) error { return os.Chtimes(p, old, old) })
}

func writeSpec(t *testing.T, dir, body string) *imagespec.Spec {
	t.Helper()
	p := filepath.Join(dir, "image.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := imagespec.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func debugfs(t *testing.T, img string, off int64, cmd string) string {
	t.Helper()
	c := exec.Command("debugfs", "-R", cmd, img+"?offset="+itoa(off))
	var stderr bytes.Buffer
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		t.Fatalf("debugfs %s: %v\n%s", cmd, err, stderr.String())
	}
	if strings.Contains(stderr.String(), "File not found") {
		return string(out) + "File not found"
	}
	return string(out)
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

// TestBuildTree builds a raw kvm image from a directory twice and checks
// the result with e2fsprogs: the agent, enabled units, udev rules,
// cloud-init settings, fstab and zipl.conf are in; per-instance state is
// out; the boot record is there; and the two builds are byte-identical.
func TestBuildTree(t *testing.T) {
	testutil.RequireTool(t, "mke2fs")
	testutil.RequireTool(t, "debugfs")
	dir := t.TempDir()
	src := filepath.Join(dir, "rootfs")
	tree(t, src)
	agent := fakeAgent(t, dir)
	spec := writeSpec(t, dir, "source: rootfs\ntarget: kvm\nsize: 256MiB\nformat: raw\nagent: "+agent+
		"\nkernel:\n  cmdline: console=ttysclp0\nfiles:\n  - dst: /etc/motd\n    content: hello\n")
	var sums [2][32]byte
	var res Result
	for i := range sums {
		out := filepath.Join(dir, "out"+strconv.Itoa(i)+".raw")
		var err error
		res, err = Build(context.Background(), spec, Options{Output: out, Epoch: 1700000000, WorkDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		sums[i] = sha256.Sum256(b)
		if i == 0 {
			time.Sleep(1100 * time.Millisecond) // a different wall clock for the second build
		}
	}
	if sums[0] != sums[1] {
		t.Errorf("two builds with the same SOURCE_DATE_EPOCH differ")
	}
	img := filepath.Join(dir, "out0.raw")
	b, _ := os.ReadFile(img)
	if string(b[:4]) != "zIPL" || b[510] != 0x55 || b[0x1be+4] != 0x83 {
		t.Errorf("block 0 lacks the zIPL record or the partition table")
	}
	if out, err := exec.Command("e2fsck", "-fn", img+"?offset=1048576").CombinedOutput(); err != nil {
		// e2fsck does not take ?offset=: check a copy of the partition.
		part := filepath.Join(dir, "part.ext4")
		if err := os.WriteFile(part, b[1<<20:], 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("e2fsck", "-fn", part).CombinedOutput(); err != nil {
			t.Errorf("e2fsck: %v\n%s", err, out)
		}
		_ = out
	}
	cat := func(p string) string { return debugfs(t, img, 1<<20, "cat "+p) }
	if got := cat("/etc/machine-id"); got != "uninitialized\n" {
		t.Errorf("/etc/machine-id = %q", got)
	}
	if got := cat("/etc/hostname"); got != "" {
		t.Errorf("/etc/hostname = %q, want empty", got)
	}
	for _, gone := range []string{"/etc/ssh/ssh_host_ed25519_key", "/var/lib/cloud/instance/boot", "/etc/udev/rules.d/70-persistent-net.rules"} {
		if out := debugfs(t, img, 1<<20, "stat "+gone); !strings.Contains(out, "File not found") {
			t.Errorf("%s is still in the image", gone)
		}
	}
	if got := cat("/etc/fstab"); !strings.HasPrefix(got, "UUID="+res.UUID+" / ext4") || strings.Contains(got, "UNCONFIGURED") {
		t.Errorf("/etc/fstab = %q", got)
	}
	if got := cat("/etc/cloud/cloud.cfg.d/90-zguest.cfg"); !strings.Contains(got, "datasource_list: [ ConfigDrive, None ]") || !strings.Contains(got, "dsmode: local") {
		t.Errorf("cloud-init settings = %q", got)
	}
	if got := cat("/etc/zipl.conf"); !strings.Contains(got, "image=/vmlinuz") || !strings.Contains(got, "root=UUID="+res.UUID) {
		t.Errorf("zipl.conf = %q", got)
	}
	if got := cat("/etc/motd"); got != "hello" {
		t.Errorf("/etc/motd = %q", got)
	}
	if out := debugfs(t, img, 1<<20, "stat /usr/lib/zguest/zguest-agent"); !strings.Contains(out, "Mode:  0755") {
		t.Errorf("agent not installed 0755:\n%s", out)
	}
	if out := debugfs(t, img, 1<<20, "stat /etc/systemd/system/sysinit.target.wants/zguest-activate.service"); !strings.Contains(out, "Type: symlink") {
		t.Errorf("zguest-activate.service not enabled:\n%s", out)
	}
	if out := debugfs(t, img, 1<<20, "ls /usr/lib/udev/rules.d"); !strings.Contains(out, "81-zguest-qeth.rules") {
		t.Errorf("udev rules missing: %s", out)
	}
	if out := debugfs(t, img, 1<<20, "stat /etc/fstab"); !strings.Contains(out, "ctime: 0x6553f100") {
		t.Errorf("times not clamped to SOURCE_DATE_EPOCH:\n%s", out)
	}
	if res.Kernel != "/boot/vmlinuz-6.1.0-50-s390x" || !strings.HasPrefix(res.Cmdline, "root=UUID="+res.UUID+" console=ttysclp0") {
		t.Errorf("kernel %s, cmdline %q", res.Kernel, res.Cmdline)
	}
}

// TestBuildTarRefusesEscapes feeds tarballs that try to write outside the
// staging tree; the build must refuse or confine them.
func TestBuildTarRefusesEscapes(t *testing.T) {
	outside := t.TempDir()
	for _, tc := range []struct {
		name    string
		entries []tar.Header
		want    string // error text, "" = builds confined
	}{
		{"dot-dot", []tar.Header{{Name: "../../escape", Typeflag: tar.TypeReg, Mode: 0o644}}, "climbs out"},
		{"symlink then through it", []tar.Header{
			{Name: "etc", Typeflag: tar.TypeSymlink, Linkname: outside},
			{Name: "etc/passwd", Typeflag: tar.TypeReg, Mode: 0o644},
		}, "etc/passwd"},
		{"hard link to a host file", []tar.Header{{Name: "x", Typeflag: tar.TypeLink, Linkname: "/etc/passwd"}}, "hard link"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tb := filepath.Join(dir, "src.tar")
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			for _, h := range tc.entries {
				h := h
				if err := tw.WriteHeader(&h); err != nil {
					t.Fatal(err)
				}
			}
			tw.Close()
			if err := os.WriteFile(tb, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			stage := filepath.Join(dir, "root")
			os.Mkdir(stage, 0o755)
			st, err := newStager(stage)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			err = st.stageTar(context.Background(), tb)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one naming %q", err, tc.want)
			}
			if ents, _ := os.ReadDir(outside); len(ents) > 0 {
				t.Fatalf("wrote outside the tree: %v", ents)
			}
		})
	}
}

func TestSourceKind(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o644)
		return p
	}
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	tw.WriteHeader(&tar.Header{Name: "a", Typeflag: tar.TypeReg})
	tw.Close()
	mbr := make([]byte, 1024)
	mbr[510], mbr[511] = 0x55, 0xaa
	for _, tc := range []struct {
		path, want string
	}{
		{dir, "dir"},
		{write("a.tar", tb.Bytes()), "tar"},
		{write("a.tgz", []byte{0x1f, 0x8b, 8, 0}), "tar"},
		{write("a.qcow2", []byte("QFI\xfb\x00\x00\x00\x03")), "qcow2"},
		{write("a.raw", mbr), "raw"},
	} {
		if got, err := sourceKind(tc.path); got != tc.want || err != nil {
			t.Errorf("%s: %q, %v; want %q", tc.path, got, err, tc.want)
		}
	}
	if _, err := sourceKind(write("junk", []byte("hello"))); err == nil || !strings.Contains(err.Error(), "neither") {
		t.Errorf("junk: %v", err)
	}
}

func TestDefaultAgentMissing(t *testing.T) {
	if _, err := DefaultAgent(); err == nil || !errors.Is(err, err) || !strings.Contains(err.Error(), "make build-s390x") {
		t.Skipf("an agent exists next to the test binary: %v", err)
	}
}

// TestBuildRootless builds as an unprivileged user from a tarball whose
// files belong to root and other users and which holds a device node and
// a setuid file: the owners, modes and node must reach the image through
// debugfs. Run as root, it re-runs itself as nobody.
func TestBuildRootless(t *testing.T) {
	testutil.RequireTool(t, "mke2fs")
	if os.Getenv("ZGUEST_ROOTLESS_DIR") == "" {
		testutil.RequireRoot(t, "switching to an unprivileged user to test the rootless path")
		dir, err := os.MkdirTemp("", "zguest-rootless-")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		os.Chmod(dir, 0o777)
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		add := func(h tar.Header, body string) {
			h.Size = int64(len(body))
			h.ModTime = time.Unix(1600000000, 0)
			if err := tw.WriteHeader(&h); err != nil {
				t.Fatal(err)
			}
			tw.Write([]byte(body))
		}
		kernel := fakeKernelFile(300 << 10)
		add(tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755}, "")
		add(tar.Header{Name: "./boot/", Typeflag: tar.TypeDir, Mode: 0o755}, "")
		add(tar.Header{Name: "./boot/vmlinuz-6.1.0-50-s390x", Typeflag: tar.TypeReg, Mode: 0o644}, string(kernel))
		add(tar.Header{Name: "./boot/initrd.img-6.1.0-50-s390x", Typeflag: tar.TypeReg, Mode: 0o644}, strings.Repeat("i", 100000))
		add(tar.Header{Name: "./usr/bin/", Typeflag: tar.TypeDir, Mode: 0o755}, "")
		add(tar.Header{Name: "./usr/bin/su", Typeflag: tar.TypeReg, Mode: 0o4755}, "su")
		add(tar.Header{Name: "./var/cache/man/", Typeflag: tar.TypeDir, Mode: 0o2755, Uid: 6, Gid: 12}, "")
		add(tar.Header{Name: "./dev/", Typeflag: tar.TypeDir, Mode: 0o755}, "")
		add(tar.Header{Name: "./dev/null", Typeflag: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 3}, "")
		add(tar.Header{Name: "./proc/", Typeflag: tar.TypeDir, Mode: 0o555}, "")
		tw.Close()
		os.WriteFile(filepath.Join(dir, "root.tar"), buf.Bytes(), 0o644)
		fakeAgent(t, dir)
		os.WriteFile(filepath.Join(dir, "image.yaml"), []byte("source: root.tar\ntarget: kvm\nsize: 256MiB\nformat: raw\nagent: zguest-agent\n"), 0o644)
		self, err := os.ReadFile(os.Args[0]) // the go-build directory is root's only
		if err != nil {
			t.Fatal(err)
		}
		bin := filepath.Join(dir, "imagebuild.test")
		os.WriteFile(bin, self, 0o755)
		cmd := exec.Command(bin, "-test.run=^TestBuildRootless$", "-test.v")
		cmd.Env = append(os.Environ(), "ZGUEST_ROOTLESS_DIR="+dir, "TMPDIR="+dir)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("build as nobody: %v\n%s", err, out)
		}
		img := filepath.Join(dir, "out.raw")
		for _, c := range []struct{ path, want string }{
			{"/usr/bin/su", "Mode:  04755"},
			{"/usr/bin/su", "User:     0   Group:     0"},
			{"/var/cache/man", "User:     6   Group:    12"},
			{"/var/cache/man", "Mode:  02755"},
			{"/dev/null", "Type: character special"},
			{"/dev/null", "Device major/minor number: 01:03"},
			{"/proc", "Mode:  0555"},
			{"/usr/lib/zguest/zguest-agent", "User:     0   Group:     0"},
		} {
			if out := debugfs(t, img, 1<<20, "stat "+c.path); !strings.Contains(out, c.want) {
				t.Errorf("%s: want %q in:\n%s", c.path, c.want, out)
			}
		}
		return
	}
	dir := os.Getenv("ZGUEST_ROOTLESS_DIR")
	if os.Geteuid() == 0 {
		t.Fatal("the rootless half runs as root")
	}
	spec, err := imagespec.Load(filepath.Join(dir, "image.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Build(context.Background(), spec, Options{Output: filepath.Join(dir, "out.raw"), Epoch: 1700000000, WorkDir: dir}); err != nil {
		t.Fatal(err)
	}
}

// TestBuildDPM builds for dpm: the initramfs gets rd.zfcp=ipldev support
// appended, the guest keeps it for later update-initramfs runs, and the
// command line asks for it.
func TestBuildDPM(t *testing.T) {
	testutil.RequireTool(t, "mke2fs")
	dir := t.TempDir()
	src := filepath.Join(dir, "rootfs")
	tree(t, src)
	const reg, dirMode = 0o100644, 0o040755
	rd, err := initrd.GzipArchive([]initrd.File{
		{Name: "conf", Mode: dirMode}, {Name: "conf/initramfs.conf", Mode: reg, Data: []byte("MODULES=most\n")},
		{Name: "init", Mode: 0o100755, Data: []byte("#!/bin/sh\n")},
		{Name: "scripts", Mode: dirMode}, {Name: "scripts/local-top", Mode: dirMode},
		{Name: "scripts/local-top/ORDER", Mode: reg, Data: []byte("/scripts/local-top/lvm2 \"$@\"\n[ -e /conf/param.conf ] && . /conf/param.conf\n")},
		{Name: "lib/modules/6.1.0-50-s390x/kernel/drivers/s390/scsi/zfcp.ko", Mode: reg, Data: []byte("ko")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "boot/initrd.img-6.1.0-50-s390x"), rd, 0o644); err != nil {
		t.Fatal(err)
	}
	spec := writeSpec(t, dir, "source: rootfs\ntarget: dpm\nsize: 256MiB\nformat: raw\nagent: "+fakeAgent(t, dir)+"\n")
	out := filepath.Join(dir, "dpm.raw")
	res, err := Build(context.Background(), spec, Options{Output: out, Epoch: 1700000000, WorkDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(res.Cmdline, " rd.zfcp=ipldev") {
		t.Errorf("cmdline %q lacks rd.zfcp=ipldev", res.Cmdline)
	}
	got := debugfs(t, out, 1<<20, "cat /boot/initrd.img-6.1.0-50-s390x")
	ents, err := initrd.List([]byte(got))
	if err != nil {
		t.Fatal(err)
	}
	var order string
	for _, e := range initrd.Merged(ents) {
		if e.Name == "scripts/local-top/ORDER" {
			order = string(e.Data)
		}
	}
	if !strings.Contains(order, "/scripts/local-top/lvm2") || !strings.Contains(order, "zguest_zfcp_ipldev") {
		t.Errorf("merged ORDER = %q", order)
	}
	for p := range initrd.GuestFiles(initrd.KindInitramfsTools) {
		if out := debugfs(t, out, 1<<20, "stat "+p); !strings.Contains(out, "Mode:  0755") {
			t.Errorf("%s not installed 0755: %s", p, out)
		}
	}
}

// TestBuildFromImage customises an existing image: a raw kvm image (DOS
// table, root at 1 MiB) and its qcow2 conversion are sources of new builds,
// whose trees must match the first one's.
func TestBuildFromImage(t *testing.T) {
	testutil.RequireTool(t, "mke2fs")
	testutil.RequireTool(t, "debugfs")
	dir := t.TempDir()
	src := filepath.Join(dir, "rootfs")
	tree(t, src)
	agent := fakeAgent(t, dir)
	first := filepath.Join(dir, "first.raw")
	spec := writeSpec(t, dir, "source: rootfs\ntarget: kvm\nsize: 256MiB\nformat: raw\nagent: "+agent+"\n")
	if _, err := Build(context.Background(), spec, Options{Output: first, Epoch: 1700000000, WorkDir: dir}); err != nil {
		t.Fatal(err)
	}
	q := filepath.Join(dir, "first.qcow2")
	spec2 := writeSpec(t, dir, "source: first.raw\ntarget: kvm\nsize: 256MiB\nagent: "+agent+"\n")
	if _, err := Build(context.Background(), spec2, Options{Output: q, Epoch: 1700000000, WorkDir: dir}); err != nil {
		t.Fatalf("from a raw image: %v", err)
	}
	spec3 := writeSpec(t, dir, "source: first.qcow2\ntarget: zvm\npartition_table: none\nsize: 256MiB\nformat: raw\nagent: "+agent+"\nfiles:\n  - dst: /etc/motd\n    content: again\nzvm:\n  authorized_senders: [opncloud]\n")
	third := filepath.Join(dir, "third.raw")
	res, err := Build(context.Background(), spec3, Options{Output: third, Epoch: 1700000000, WorkDir: dir})
	if err != nil {
		t.Fatalf("from a qcow2 image: %v", err)
	}
	// zvm, partition_table none: the file system at 0; kernel and initrd
	// next to the image for a direct boot.
	if got := debugfs(t, third, 0, "cat /etc/motd"); got != "again" {
		t.Errorf("/etc/motd = %q", got)
	}
	if got := debugfs(t, third, 0, "cat /etc/zguest/authorized-senders"); !strings.HasSuffix(got, "\nOPNCLOUD\n") {
		t.Errorf("/etc/zguest/authorized-senders = %q", got)
	}
	for _, p := range []string{"/boot/vmlinuz-6.1.0-50-s390x", "/usr/lib/zguest/zguest-agent", "/etc/machine-id"} {
		if out := debugfs(t, third, 0, "stat "+p); strings.Contains(out, "File not found") {
			t.Errorf("%s missing after two rounds", p)
		}
	}
	if len(res.Extra) != 3 || !strings.HasSuffix(res.Extra[0], "third.vmlinuz") {
		t.Errorf("direct-boot files: %v", res.Extra)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "third.cmdline")); !strings.HasPrefix(string(b), "root=UUID="+res.UUID) {
		t.Errorf("third.cmdline = %q", b)
	}
}

// TestBuildZVMNeedsRoot: a zvm DASD build without root stops before its
// first step with ErrNeedsRoot, names the steps that need root and the way
// out, and leaves no output. Run as root, it re-runs itself as nobody.
func TestBuildZVMNeedsRoot(t *testing.T) {
	if os.Getenv("ZGUEST_NOROOT_DIR") == "" {
		testutil.RequireRoot(t, "switching to an unprivileged user to test the refusal")
		dir, err := os.MkdirTemp("", "zguest-noroot-")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		os.Chmod(dir, 0o777)
		tree(t, filepath.Join(dir, "rootfs"))
		fakeAgent(t, dir)
		os.WriteFile(filepath.Join(dir, "image.yaml"), []byte("source: rootfs\ntarget: zvm\nsize: 100cyl\nformat: raw\nagent: zguest-agent\n"), 0o644)
		self, err := os.ReadFile(os.Args[0])
		if err != nil {
			t.Fatal(err)
		}
		bin := filepath.Join(dir, "imagebuild.test")
		os.WriteFile(bin, self, 0o755)
		cmd := exec.Command(bin, "-test.run=^TestBuildZVMNeedsRoot$", "-test.v")
		cmd.Env = append(os.Environ(), "ZGUEST_NOROOT_DIR="+dir, "TMPDIR="+dir)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("as nobody: %v\n%s", err, out)
		}
		return
	}
	dir := os.Getenv("ZGUEST_NOROOT_DIR")
	if os.Geteuid() == 0 {
		t.Fatal("the unprivileged half runs as root")
	}
	spec, err := imagespec.Load(filepath.Join(dir, "image.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.raw")
	_, err = Build(context.Background(), spec, Options{Output: out, Epoch: 1700000000, WorkDir: dir})
	if !errors.Is(err, ErrNeedsRoot) {
		t.Fatalf("err = %v, want ErrNeedsRoot", err)
	}
	for _, want := range []string{"partition_table cdl", "fdasd", "zipl", "run zguest-image as root", "partition_table: none"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if _, serr := os.Stat(out); serr == nil {
		t.Error("output written")
	}
	// partition_table: none needs no root.
	if err := os.WriteFile(filepath.Join(dir, "bare.yaml"), []byte("source: rootfs\ntarget: zvm\nsize: 256MiB\nformat: raw\npartition_table: none\nagent: zguest-agent\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if spec, err = imagespec.Load(filepath.Join(dir, "bare.yaml")); err != nil {
		t.Fatal(err)
	}
	if _, err := Build(context.Background(), spec, Options{Output: out, Epoch: 1700000000, WorkDir: dir}); err != nil {
		t.Errorf("bare zvm image without root: %v", err)
	}
}
