package zvm

import (
	"archive/tar"
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/zguest/zguest/hostside/api"
)

// SetupDiskScript is the worker aemod.doscript carries (POSIX sh, written
// from the documented behaviour of the original's setupDisk, docs/facts/zvm-connector.md
// §2.6).
//
//go:embed setupDisk.sh
var SetupDiskScript string

// diskFormats are the filesys values setupDisk knows; "none" only brings
// the disk online.
var diskFormats = map[string]bool{"ext2": true, "ext3": true, "ext4": true, "xfs": true, "swap": true, "none": true}

var mntDirRe = regexp.MustCompile(`^/[A-Za-z0-9._/+-]*$`)

// systemDirs may not be mount points; below sysDirPrefixes nothing may.
var (
	systemDirs = map[string]bool{"/": true, "/bin": true, "/boot": true, "/dev": true, "/etc": true, "/home": true, "/lib": true,
		"/lib64": true, "/opt": true, "/proc": true, "/root": true, "/run": true, "/sbin": true, "/srv": true, "/sys": true,
		"/tmp": true, "/usr": true, "/var": true, "/mnt": true, "/media": true}
	sysDirPrefixes = []string{"/proc/", "/sys/", "/dev/", "/run/", "/boot/", "/etc/", "/usr/", "/bin/", "/sbin/", "/lib/", "/lib64/"}
)

// CheckMntDir refuses a mount directory that is not absolute and clean
// (no ".", ".." or empty components, no trailing slash), that has
// characters other than A-Z a-z 0-9 . _ / + - (so no shell
// metacharacters, blanks or quotes), or that is a system directory or
// below one. setupDisk applies the same rules again in the guest.
func CheckMntDir(dir string) error {
	switch {
	case !strings.HasPrefix(dir, "/"):
		return fmt.Errorf("mntdir %q is not an absolute path", dir)
	case !mntDirRe.MatchString(dir):
		return fmt.Errorf("mntdir %q has characters other than A-Z a-z 0-9 . _ / + -", dir)
	case path.Clean(dir) != dir || strings.Contains(dir, "/./") || strings.HasSuffix(dir, "/."):
		return fmt.Errorf("mntdir %q is not a clean path (\".\", \"..\", empty components or a trailing slash)", dir)
	case len(dir) > 1024:
		return fmt.Errorf("mntdir is longer than 1024 characters")
	case systemDirs[dir]:
		return fmt.Errorf("mntdir %q is a system directory", dir)
	}
	for _, p := range sysDirPrefixes {
		if strings.HasPrefix(dir, p) {
			return fmt.Errorf("mntdir %q is below the system directory %s", dir, strings.TrimSuffix(p, "/"))
		}
	}
	return nil
}

// DiskParms is one disk's setupDisk parameter line.
type DiskParms struct {
	Vdev, FileSys, MntDir string
}

// Line is the original's parameter line: "action=addMdisk vaddr=<vdev>
// filesys=<fmt> mntdir=<dir>".
func (p DiskParms) Line() string {
	return fmt.Sprintf("action=addMdisk vaddr=%s filesys=%s mntdir=%s", p.Vdev, p.FileSys, p.MntDir)
}

// diskParms checks disk i of a disk_list and fills in the defaults: vdev
// the root vdev + i + 1, mntdir /mnt/ephemeral<vdev> ("swap" for swap).
// guess: an empty format means "none" (online only); the original passes
// the string None to setupDisk.
func (b *Backend) diskParms(userid string, i int, d api.Disk) (DiskParms, error) {
	var p DiskParms
	var err error
	if d.Vdev == "" {
		p.Vdev, err = vdevAdd(b.c.RootVdev, i+1)
	} else {
		p.Vdev, err = vdevAdd(d.Vdev, 0)
	}
	if err != nil {
		return p, inputErr("guest %s: disk %d: %v", userid, i, err)
	}
	p.FileSys = strings.ToLower(strings.TrimSpace(d.Format))
	if p.FileSys == "" {
		p.FileSys = "none"
	}
	if !diskFormats[p.FileSys] {
		return p, inputErr("guest %s: disk %d (%s): format %q is not one of ext2, ext3, ext4, xfs, swap", userid, i, p.Vdev, d.Format)
	}
	switch {
	case p.FileSys == "swap":
		p.MntDir = "swap"
	case d.MntDir == "":
		p.MntDir = "/mnt/ephemeral" + p.Vdev
	default:
		if err := CheckMntDir(d.MntDir); err != nil {
			return p, inputErr("guest %s: disk %d (%s): %v", userid, i, p.Vdev, err)
		}
		p.MntDir = d.MntDir
	}
	return p, nil
}

// aemodTime is the modification time of the doscript's files (fixed, so
// that the same parameters give the same bytes).
var aemodTime = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// InvokeScript is the doscript's invokeScript.sh for p: run setupDisk
// from the transport directory (the agent's working directory) with the
// parameter line, remove both files and pass setupDisk's exit status on.
// Every value was checked (hex vdev, known format, mntdir without shell
// metacharacters), so single quotes cannot be broken out of.
func InvokeScript(p DiskParms) string {
	var args []string
	for _, a := range strings.Fields(p.Line()) {
		args = append(args, "'"+a+"'")
	}
	return "#!/bin/bash\n" +
		"# aemod.doscript from zguest-hostd: set up minidisk " + p.Vdev + "\n" +
		"/bin/sh ./setupDisk " + strings.Join(args, " ") + "\n" +
		"rc=$?\n" +
		"rm -f ./setupDisk ./invokeScript.sh\n" +
		"exit $rc\n"
}

// AemodDoscript builds aemod.doscript for p: an uncompressed tar with
// invokeScript.sh and setupDisk, both mode 0755.
func AemodDoscript(p DiskParms) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct{ name, body string }{
		{"invokeScript.sh", InvokeScript(p)},
		{"setupDisk", SetupDiskScript},
	} {
		h := &tar.Header{Name: f.name, Mode: 0o755, Size: int64(len(f.body)), ModTime: aemodTime, Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write([]byte(f.body)); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ConfigMinidisks implements api.Backend as the original's
// process_additional_minidisks: for each disk, aemod.doscript (setupDisk
// with "action=addMdisk vaddr= filesys= mntdir=") punched class X to the
// guest, each punch journaled on its own like the NIC list's. Every disk
// is checked before anything is punched. The agent runs the doscripts in
// compatibility mode at its next run.
// guess: the original also runs "zvmguestconfigure start" over IUCV
// when the guest is on; there is no IUCV here, so a running guest picks
// the files up when its agent next reads the reader.
func (b *Backend) ConfigMinidisks(ctx context.Context, userid string, disks []api.Disk) error {
	if _, err := b.guest(ctx, userid); err != nil {
		return err
	}
	var all []DiskParms
	for i, d := range disks {
		p, err := b.diskParms(userid, i, d)
		if err != nil {
			return err
		}
		all = append(all, p)
	}
	for _, p := range all {
		data, err := AemodDoscript(p)
		if err != nil {
			return internalErr(api.ModGuest, fmt.Errorf("guest %s: build aemod.doscript for %s: %w", userid, p.Vdev, err))
		}
		if _, err := b.punchFile(ctx, nil, userid, bytes.NewReader(data), "aemod", "doscript"); err != nil {
			return guestOpErr(3, userid, fmt.Errorf("punch aemod.doscript for minidisk %s: %w", p.Vdev, err))
		}
	}
	return nil
}
