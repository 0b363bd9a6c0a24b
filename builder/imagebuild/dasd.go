package imagebuild

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/zguest/zguest/builder/dasd"
	"github.com/zguest/zguest/builder/imagespec"
)

// ErrNeedsRoot: the build needs root for a step and does not have it.
var ErrNeedsRoot = errors.New("needs root")

// The steps of a DASD (target zvm, cdl or ldl) build and who may run them:
//
//   - without root: the disk of whole cylinders, dasdfmt's bootstrap
//     records (and the LNX1 label for LDL), the ext4 file system in the
//     partition (mke2fs -d, as for every target);
//   - as root: the VOL1 label and VTOC (CDL) with the image's own fdasd,
//     and the boot records with the image's own zipl, both run in a chroot
//     of the new file system mounted from a loop device, under qemu-user
//     (binfmt_misc) on a non-s390x host. zipl must see the file system
//     mounted: it writes /boot/bootmap and locates its blocks with FIEMAP.
//
// dasdRootSteps is what the refusal says.
const dasdRootSteps = "writing the DASD's VTOC (fdasd) and boot records (zipl) mounts the new file system from loop devices and runs the image's s390-tools in a chroot"

// checkDASDBuild refuses a DASD build up front when it cannot finish: not
// root, or no way to run s390x programs.
func checkDASDBuild(s *imagespec.Spec) error {
	if !s.DASDLayout() || s.Bootloader != "zipl" {
		return nil
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: target zvm with partition_table %s: %s; run zguest-image as root, or build with partition_table: none (a bare file system, no boot record)",
			ErrNeedsRoot, s.PartitionTable, dasdRootSteps)
	}
	for _, tool := range []string{"losetup", "mount", "umount"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%w: %s not found (util-linux and mount)", ErrBoot, tool)
		}
	}
	return nil
}

// newDASD returns the geometry for the spec's size and layout.
func newDASD(s *imagespec.Spec) (dasd.Disk, error) {
	return dasd.New(dasd.Cylinders(s.SizeBytes), s.PartitionTable, s.DASD.Volser)
}

// dasdBoot writes the VTOC (CDL) and the boot records into the DASD image
// at diskPath with the image's own fdasd and zipl. kernel and initrd are
// paths in the image.
//
// The mounts live in a mount namespace of their own: a process that makes
// a new mount namespace meanwhile (libvirt starts every qemu in one, and
// so do tests) copies every mount it sees, and a copy of the image's file
// system kept alive there would leave its journal unclean on the disk
// after our umount.
func dasdBoot(ctx context.Context, d dasd.Disk, diskPath, work, kernel, initrd, cmd string, log *slog.Logger) error {
	errc := make(chan error, 1)
	go func() {
		// The thread is never unlocked: it ends with this goroutine, and
		// its mount namespace with it.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			errc <- fmt.Errorf("a private mount namespace for the image's zipl: %w", err)
			return
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			errc <- fmt.Errorf("a private mount namespace for the image's zipl: %w", err)
			return
		}
		errc <- dasdBootIn(ctx, d, diskPath, work, kernel, initrd, cmd, log)
	}()
	return <-errc
}

// dasdBootIn is dasdBoot in the calling thread's mount namespace.
func dasdBootIn(ctx context.Context, d dasd.Disk, diskPath, work, kernel, initrd, cmd string, log *slog.Logger) (err error) {
	var undo []func() error
	defer func() {
		for i := len(undo) - 1; i >= 0; i-- {
			if uerr := undo[i](); uerr != nil && err == nil {
				err = uerr
			}
		}
	}()
	run := func(name string, args ...string) (string, error) {
		c := exec.CommandContext(ctx, name, args...)
		var out bytes.Buffer
		c.Stdout, c.Stderr = &out, &out
		err := c.Run()
		log.Debug("run", "cmd", name+" "+strings.Join(args, " "), "out", strings.TrimSpace(out.String()))
		if err != nil {
			return out.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, lastLines(out.String(), 8))
		}
		return out.String(), nil
	}
	loop := func(args ...string) (string, error) {
		out, err := run("losetup", append([]string{"--find", "--show", "--sector-size", strconv.Itoa(dasd.BlockSize)}, args...)...)
		if err != nil {
			return "", fmt.Errorf("loop device (needs root and the loop driver): %w", err)
		}
		dev := strings.TrimSpace(out)
		undo = append(undo, func() error { _, err := run("losetup", "--detach", dev); return err })
		return dev, nil
	}
	diskDev, err := loop(diskPath)
	if err != nil {
		return err
	}
	partDev, err := loop("--offset", strconv.FormatInt(d.PartitionStart()*dasd.BlockSize, 10),
		"--sizelimit", strconv.FormatInt(d.PartitionBytes(), 10), diskPath)
	if err != nil {
		return err
	}
	mnt := filepath.Join(work, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		return err
	}
	mount := func(args ...string) error {
		if _, err := run("mount", args...); err != nil {
			return err
		}
		at := args[len(args)-1]
		undo = append(undo, func() error { _, err := run("umount", at); return err })
		return nil
	}
	if err := mount("-t", "ext4", partDev, mnt); err != nil {
		return err
	}
	for _, dir := range []string{"proc", "sys", "dev"} {
		if st, err := os.Stat(filepath.Join(mnt, dir)); err != nil || !st.IsDir() {
			return fmt.Errorf("the image has no /%s directory to mount for its s390-tools", dir)
		}
	}
	// proc and sysfs: fdasd refuses to run without /sys; a tmpfs on /dev
	// holds the one device node, so that nothing is left in the image.
	if err := mount("-t", "proc", "proc", filepath.Join(mnt, "proc")); err != nil {
		return err
	}
	if err := mount("-t", "sysfs", "sysfs", filepath.Join(mnt, "sys")); err != nil {
		return err
	}
	if err := mount("-t", "tmpfs", "-o", "mode=0755,size=1m", "tmpfs", filepath.Join(mnt, "dev")); err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Stat(diskDev, &st); err != nil {
		return err
	}
	const node = "/dev/zguest-dasd"
	if err := unix.Mknod(filepath.Join(mnt, node), unix.S_IFBLK|0o600, int(st.Rdev)); err != nil {
		return fmt.Errorf("device node for %s in the chroot: %w", diskDev, err)
	}
	chroot := func(args ...string) (string, error) {
		prog := ""
		for _, dir := range []string{"/usr/sbin/", "/sbin/", "/usr/bin/"} {
			if st, err := os.Stat(filepath.Join(mnt, dir+args[0])); err == nil && st.Mode().IsRegular() {
				prog = dir + args[0]
				break
			}
		}
		if prog == "" {
			return "", fmt.Errorf("the image has no %s in /usr/sbin, /sbin or /usr/bin: install s390-tools in it", args[0])
		}
		args[0] = prog
		out, err := run("chroot", append([]string{mnt}, args...)...)
		if err != nil && strings.Contains(err.Error(), "Exec format error") {
			err = fmt.Errorf("%w (register qemu-user for s390x with binfmt_misc: Debian package qemu-user-static)", err)
		}
		return out, err
	}
	if d.Layout == dasd.CDL {
		// fdasd writes the VOL1 label and a VTOC with one partition from
		// track 2 to the end. On a loop device it cannot make the kernel
		// re-read the partitions and exits 1 after writing; the labels
		// are checked instead of its exit status.
		out, ferr := chroot("fdasd", fmt.Sprintf("--force=3390,%d", dasd.BlockSize), "--auto", "--label", d.Volser, node)
		f, err := os.Open(diskPath)
		if err != nil {
			return err
		}
		layout, volser, derr := dasd.Detect(f)
		f.Close()
		if derr != nil || layout != dasd.CDL || volser != d.Volser {
			if ferr == nil {
				ferr = fmt.Errorf("fdasd wrote no VOL1 label %s (found %q %q): %s", d.Volser, layout, volser, lastLines(out, 8))
			}
			return fmt.Errorf("VTOC: %w", ferr)
		}
		log.Info("VTOC written by the image's fdasd", "volser", volser)
	}
	typ := strings.ToUpper(d.Layout)
	out, err := chroot("zipl", "--verbose", "--target", "/boot", "--image", kernel, "--ramdisk", initrd,
		"--parameters", cmd, "--targetbase", node, "--targettype", typ, "--targetgeometry", d.Geometry(),
		"--targetblocksize", strconv.Itoa(dasd.BlockSize), "--targetoffset", strconv.FormatInt(d.PartitionStart(), 10))
	if err != nil {
		return fmt.Errorf("zipl: %w", err)
	}
	log.Info("boot records written by the image's zipl", "type", typ, "geometry", d.Geometry(), "last", lastLines(out, 1))
	return nil
}

// scrubMounted removes what mounting the file system for zipl left in its
// superblock: the mount point (a scratch path of the build host), the
// mount count and the lifetime write counter. Normalize then clamps the
// mount and write times, so the image does not depend on the build.
func scrubMounted(ctx context.Context, diskPath string, off int64) error {
	cmd := exec.CommandContext(ctx, "debugfs", "-w", "-f", "-", fmt.Sprintf("%s?offset=%d", diskPath, off))
	cmd.Stdin = strings.NewReader("ssv last_mounted \"\"\nssv mnt_count 0\nssv kbytes_written 0\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("debugfs (clearing the mount's traces in the superblock): %w: %s", err, lastLines(string(out), 5))
	}
	return nil
}
