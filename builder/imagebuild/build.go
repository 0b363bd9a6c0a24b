// Package imagebuild turns a root file system into a bootable s390x guest
// image: `zguest-image build`. The steps, each its own function:
//
//  1. stage: copy the source (directory, tarball, or the root file system
//     of a raw/qcow2 image) into a scratch tree, owners and all;
//  2. customize: install zguest-agent, its units (enabled) and udev rules,
//     cloud-init settings for the target, /etc/fstab by UUID, zipl.conf,
//     the spec's extra files;
//  3. sysprep: remove per-instance state (builder/sysprep);
//  4. file system: mke2fs -d into the disk at the partition's offset, then
//     clamp inode times so the result is reproducible (builder/ext4);
//  5. boot record: the s390x SCSI boot map for the image's kernel and
//     initrd (builder/zipl), or kernel and initrd next to the output for a
//     direct kernel boot;
//  6. output: raw, or qcow2 through builder/qcow2, written under a
//     temporary name and renamed into place only when complete.
//
// Nothing touches the source; the scratch tree and temporary files are
// removed however the build ends.
package imagebuild

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/zguest/zguest/builder/dasd"
	"github.com/zguest/zguest/builder/ext4"
	"github.com/zguest/zguest/builder/fileout"
	"github.com/zguest/zguest/builder/imagespec"
	"github.com/zguest/zguest/builder/qcow2"
	"github.com/zguest/zguest/builder/sysprep"
	"github.com/zguest/zguest/builder/xcat"
	"github.com/zguest/zguest/builder/zipl"
)

// Options are the command line's part of a build.
type Options struct {
	Output  string
	Format  string // overrides the spec; default from the spec, then the output name
	WorkDir string // scratch space (default $TMPDIR); needs room for the tree and the raw disk
	// Epoch is SOURCE_DATE_EPOCH: file times are clamped to it and it
	// seeds the UUIDs. Zero: now, and random UUIDs.
	Epoch int64
	Log   *slog.Logger
	// Step is called when a step starts (for a progress display).
	Step func(n, total int, name string)
	// Progress reports bytes written by the output step.
	Progress func(done, total int64)
}

// Result describes a finished build.
type Result struct {
	Output     string
	Format     string
	UUID       string
	Cmdline    string
	Kernel     string // path in the image
	Initrd     string
	Bootloader string
	// BootRecord says what the boot record is, for people.
	BootRecord string
	Extra      []string // kernel/initrd/cmdline files written next to the output
	Steps      []StepTime
	Changes    int // files the customize and sysprep steps changed
}

// StepTime is how long a step took.
type StepTime struct {
	Name string
	D    time.Duration
}

// Step errors tell the command what failed, for its exit status.
var (
	ErrSource = errors.New("source")
	ErrBoot   = errors.New("boot record")
)

const steps = 6

// Build runs the build. It returns only after removing its scratch files.
func Build(ctx context.Context, s *imagespec.Spec, o Options) (res Result, err error) {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	res.Output = o.Output
	res.Format = formatFor(s, o)
	res.Bootloader = s.Bootloader
	if o.Output == "" {
		return res, fmt.Errorf("no output file: give -o")
	}
	if err := checkDASDBuild(s); err != nil {
		return res, err
	}
	var dk dasd.Disk
	if s.DASDLayout() {
		if dk, err = newDASD(s); err != nil {
			return res, err
		}
	}
	epoch := time.Unix(o.Epoch, 0).UTC()
	if o.Epoch == 0 {
		epoch = time.Now().UTC().Truncate(time.Second)
	}
	res.UUID = s.Filesystem.UUID
	if res.UUID == "" {
		res.UUID = deriveUUID(s, o.Epoch)
	}
	if o.WorkDir == "" {
		o.WorkDir = defaultWorkDir(s.Source, log)
	}
	work, err := os.MkdirTemp(o.WorkDir, "zguest-image-")
	if err != nil {
		return res, fmt.Errorf("scratch directory: %w", err)
	}
	defer func() {
		// The staged tree may hold read-only directories: make them
		// writable for removal (through nothing but the tree itself).
		if rerr := removeTree(work); rerr != nil && err == nil {
			err = fmt.Errorf("removing scratch directory %s: %w", work, rerr)
		}
	}()
	stage := filepath.Join(work, "root")
	if err := os.Mkdir(stage, 0o755); err != nil {
		return res, err
	}
	n := 0
	step := func(name string) func() {
		n++
		if o.Step != nil {
			o.Step(n, steps, name)
		}
		log.Info("step", "n", n, "of", steps, "name", name)
		t := time.Now()
		return func() { res.Steps = append(res.Steps, StepTime{name, time.Since(t)}) }
	}

	// 1. stage
	done := step("stage " + filepath.Base(s.Source))
	if err := stageSource(ctx, s.Source, stage, work); err != nil {
		return res, fmt.Errorf("%w: %w", ErrSource, err)
	}
	st, err := newStager(stage)
	if err != nil {
		return res, err
	}
	defer st.Close()
	fixups, err := stageInto(ctx, st, s.Source, stage, work)
	if err != nil {
		return res, fmt.Errorf("%w: %w", ErrSource, err)
	}
	done()

	// 2. customize
	done = step("install agent, units, cloud-init settings")
	c := &customizer{root: st.root, mtime: epoch}
	agent := s.Agent
	if agent == "" {
		agent, err = DefaultAgent()
		if err != nil {
			return res, err
		}
	}
	if err := c.installAgent(agent); err != nil {
		return res, err
	}
	if err := c.cloudInit(s); err != nil {
		return res, err
	}
	if err := c.zvmSenders(s.ZVM); err != nil {
		return res, err
	}
	if err := c.fstab(res.UUID); err != nil {
		return res, err
	}
	bf, err := findKernel(st.root, s.Kernel.Image, s.Kernel.Initrd)
	if err != nil {
		return res, fmt.Errorf("%w: %w", ErrBoot, err)
	}
	res.Kernel, res.Initrd = bf.Image, bf.Initrd
	res.Cmdline = cmdline(s, res.UUID)
	if s.Target == "dpm" {
		kind, err := c.fcpIPL(bf.Initrd)
		if err != nil {
			return res, fmt.Errorf("%w: %w", ErrBoot, err)
		}
		log.Info("FCP boot from the IPL device", "initramfs", kind, "initrd", bf.Initrd)
		if !strings.Contains(" "+res.Cmdline+" ", " rd.zfcp=ipldev ") {
			res.Cmdline += " rd.zfcp=ipldev"
		}
	}
	if s.DASDLayout() {
		kind, err := c.dasdOnline(bf.Initrd)
		if err != nil {
			return res, fmt.Errorf("%w: %w", ErrBoot, err)
		}
		log.Info("root DASD online from the initramfs", "initramfs", kind, "vdev", s.DASD.Vdev)
		if !strings.Contains(" "+res.Cmdline+" ", " rd.dasd=") {
			res.Cmdline += " rd.dasd=" + s.DASD.Vdev
		}
	}
	if err := c.ziplConf(bf.ImageLink, bf.InitrdLink, res.Cmdline); err != nil {
		return res, err
	}
	if err := c.extraFiles(s.Files); err != nil {
		return res, err
	}
	for _, ch := range c.changes {
		log.Debug("changed", "path", ch.Path, "what", ch.What)
	}
	res.Changes += len(c.changes)
	done()

	// 3. sysprep
	done = step("remove per-instance state")
	ops, err := sysprep.Select(s.Sysprep.Enable, s.Sysprep.Disable)
	if err != nil {
		return res, err
	}
	plan, err := sysprep.NewPlan(stage, ops, log)
	if err != nil {
		return res, err
	}
	rep, err := plan.Apply(log)
	if err != nil {
		return res, err
	}
	res.Changes += rep.Changes()
	// Sysprep removed and rewrote files: their directories now carry the
	// build's wall-clock time, which the clamp below brings to epoch.
	done()

	// 4. file system
	done = step("make the ext4 file system")
	diskPath, out, err := openDisk(o.Output, res.Format, work)
	if err != nil {
		return res, err
	}
	defer out.Abort()
	disk, err := os.OpenFile(diskPath, os.O_RDWR, 0)
	if err != nil {
		return res, err
	}
	defer disk.Close()
	if err := disk.Truncate(s.SizeBytes); err != nil {
		return res, fmt.Errorf("disk of %d bytes: %w", s.SizeBytes, err)
	}
	var fsOff int64
	fsSize := s.SizeBytes
	if s.DASDLayout() {
		fsOff, fsSize = dk.PartitionStart()*dasd.BlockSize, dk.PartitionBytes()
		if err := dk.WriteBootstrap(disk); err != nil {
			return res, fmt.Errorf("DASD bootstrap records: %w", err)
		}
	}
	if s.PartitionTable == "msdos" {
		fsOff = partStart
		if err := writeMBR(disk, s.SizeBytes, diskSignature(res.UUID)); err != nil {
			return res, err
		}
	}
	if s.PartitionTable == "msdos" {
		fsSize = s.SizeBytes - fsOff
	}
	if err := mkfs(ctx, diskPath, fsOff, fsSize, stage, s.Filesystem.Label, res.UUID, epoch.Unix()); err != nil {
		return res, err
	}
	owners, err := rootlessOwners(stage, append(fixups, st.fixups...))
	if err != nil {
		return res, err
	}
	if err := applyOwners(ctx, diskPath, fsOff, owners, work); err != nil {
		return res, err
	}
	if _, err := ext4.Normalize(disk, fsOff, epoch); err != nil {
		return res, fmt.Errorf("clamping file times in the new file system: %w", err)
	}
	done()

	// 5. boot record
	done = step("boot record (" + s.Bootloader + ")")
	switch {
	case s.Bootloader == "zipl" && s.DASDLayout():
		if err := disk.Sync(); err != nil {
			return res, err
		}
		if err := dasdBoot(ctx, dk, diskPath, work, bf.Image, bf.Initrd, res.Cmdline, log); err != nil {
			return res, fmt.Errorf("%w: %w", ErrBoot, err)
		}
		res.BootRecord = fmt.Sprintf("zipl ECKD boot record, 3390 %s, %d cylinders, VOLSER %s", strings.ToUpper(dk.Layout), dk.Cylinders, dk.Volser)
		if err := scrubMounted(ctx, diskPath, fsOff); err != nil {
			return res, err
		}
		// zipl added /boot/bootmap: clamp its times too.
		if _, err := ext4.Normalize(disk, fsOff, epoch); err != nil {
			return res, fmt.Errorf("clamping file times after zipl: %w", err)
		}
	case s.Bootloader == "zipl":
		lay, err := writeBootRecord(disk, fsOff, stage, bf, res.Cmdline)
		if err != nil {
			return res, fmt.Errorf("%w: %w", ErrBoot, err)
		}
		res.BootRecord = "s390x SCSI boot record"
		log.Info("boot record", "program_table", lay.ProgramTable, "blocks", lay.Used, "initrd_addr", fmt.Sprintf("%#x", lay.InitrdAddr))
	default:
		extra, err := exportKernel(o.Output, stage, bf, res.Cmdline)
		if err != nil {
			return res, err
		}
		res.Extra = extra
	}
	done()

	// 6. output
	done = step("write " + res.Format)
	if res.Format == "xcat" {
		err = writeXCAT(disk, out, s, dk)
	} else {
		err = writeOutput(ctx, disk, out, res.Format, s.Compress, o.Progress)
	}
	if err != nil {
		return res, err
	}
	done()
	return res, nil
}

// removeTree removes a scratch tree whose directories may be read-only.
func removeTree(dir string) error {
	if err := os.RemoveAll(dir); err == nil {
		return nil
	}
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(dir)
}

// formatFor picks the output format: option, spec, then the file name.
func formatFor(s *imagespec.Spec, o Options) string {
	switch {
	case o.Format != "":
		return o.Format
	case s.Format != "":
		return s.Format
	case strings.HasSuffix(o.Output, ".raw") || strings.HasSuffix(o.Output, ".img"):
		return "raw"
	}
	return "qcow2"
}

// stageSource handles image sources (copied with debugfs); trees and
// tarballs go through the stager (stageInto).
func stageSource(ctx context.Context, src, stage, work string) error {
	kind, err := sourceKind(src)
	if err != nil || (kind != "raw" && kind != "qcow2") {
		return err
	}
	img := src
	if kind == "qcow2" {
		img = filepath.Join(work, "source.raw")
		if err := qcow2ToRaw(src, img); err != nil {
			return err
		}
	}
	f, err := os.Open(img)
	if err != nil {
		return err
	}
	off, err := rootPartition(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	return stageImage(ctx, img, off, stage)
}

// stageInto stages trees and tarballs and returns owner fixups.
func stageInto(ctx context.Context, st *stager, src, stage, work string) ([]owner, error) {
	kind, err := sourceKind(src)
	if err != nil {
		return nil, err
	}
	switch kind {
	case "dir":
		return nil, st.stageDir(ctx, src)
	case "tar":
		return nil, st.stageTar(ctx, src)
	}
	return nil, nil // images were staged by stageSource
}

// sourceKind tells a directory, a tarball, a qcow2 and a raw image apart
// by content, not by name.
func sourceKind(src string) (string, error) {
	fi, err := os.Stat(src)
	if err != nil {
		return "", err
	}
	if fi.IsDir() {
		return "dir", nil
	}
	f, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer f.Close()
	head := make([]byte, 1024)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	switch {
	case len(head) >= 4 && string(head[:4]) == "QFI\xfb":
		return "qcow2", nil
	case len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b,
		len(head) >= 4 && string(head[:4]) == "\x28\xb5\x2f\xfd",
		len(head) >= 6 && string(head[:6]) == "\xfd7zXZ\x00",
		len(head) >= 262 && string(head[257:262]) == "ustar":
		return "tar", nil
	case len(head) >= 512 && head[510] == 0x55 && head[511] == 0xaa:
		return "raw", nil
	}
	// A bare ext file system: magic 0xEF53 at 1080.
	b := make([]byte, 2)
	if _, err := f.ReadAt(b, 1080); err == nil && b[0] == 0x53 && b[1] == 0xef {
		return "raw", nil
	}
	return "", fmt.Errorf("%s is neither a directory, a tarball (.tar, .tar.gz, .tar.zst), a qcow2 image nor a raw disk or ext4 image", src)
}

func qcow2ToRaw(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	im, err := qcow2.Open(in, fi.Size())
	if err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer out.Close()
	if _, err := qcow2.WriteRaw(out, im, nil); err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	return nil
}

// openDisk returns the raw disk to build in and the output file. A raw
// output is built in place (under its temporary name); a qcow2 one is
// built in the scratch directory and converted at the end.
func openDisk(output, format, work string) (string, *fileout.File, error) {
	out, err := fileout.Create(output)
	if err != nil {
		return "", nil, err
	}
	if format == "raw" {
		return out.Name(), out, nil
	}
	p := filepath.Join(work, "disk.raw")
	f, err := os.Create(p)
	if err != nil {
		out.Abort()
		return "", nil, err
	}
	f.Close()
	return p, out, nil
}

func writeOutput(ctx context.Context, disk *os.File, out *fileout.File, format string, compress bool, progress func(done, total int64)) error {
	if format == "raw" {
		if err := disk.Sync(); err != nil {
			return err
		}
		return out.Commit(true)
	}
	src, err := qcow2.NewRawFile(disk)
	if err != nil {
		return err
	}
	if _, err := qcow2.Write(out.File, ctxSource{ctx, src}, qcow2.Options{Compress: compress, Progress: progress}); err != nil {
		return fmt.Errorf("writing qcow2: %w", err)
	}
	return out.Commit(true)
}

// writeXCAT writes the z/VM cloud connector's CKD image of the DASD.
func writeXCAT(disk *os.File, out *fileout.File, s *imagespec.Spec, dk dasd.Disk) error {
	if !s.DASDLayout() {
		return fmt.Errorf("format xcat needs a DASD image: target zvm with partition_table cdl or ldl")
	}
	if err := xcat.Write(out.File, disk, dk, *s.DASD.Gzip); err != nil {
		return fmt.Errorf("writing the xCAT CKD image: %w", err)
	}
	return out.Commit(true)
}

// ctxSource stops a long conversion when the build is interrupted.
type ctxSource struct {
	ctx context.Context
	*qcow2.RawFile
}

func (c ctxSource) ReadAt(p []byte, off int64) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.RawFile.ReadAt(p, off)
}

// cmdline is the kernel command line: root by UUID unless the spec names
// its own root=.
func cmdline(s *imagespec.Spec, uuid string) string {
	c := strings.TrimSpace(s.Kernel.Cmdline)
	for _, f := range strings.Fields(c) {
		if strings.HasPrefix(f, "root=") {
			return c
		}
	}
	return strings.TrimSpace("root=UUID=" + uuid + " " + c)
}

// deriveUUID makes the file system UUID reproducible: a hash of the spec
// and SOURCE_DATE_EPOCH (random without it), as a version 4 UUID.
func deriveUUID(s *imagespec.Spec, epoch int64) string {
	var b [16]byte
	if epoch == 0 {
		_, _ = rand.Read(b[:])
	} else {
		h := sha256.New()
		h.Write(s.Raw)
		fmt.Fprintf(h, "\x00%d", epoch)
		copy(b[:], h.Sum(nil))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func diskSignature(uuid string) [4]byte {
	h := sha256.Sum256([]byte(uuid))
	return [4]byte{h[0], h[1], h[2], h[3]}
}

// DefaultAgent finds the s390x agent built from this tree: s390x/
// next to this program (bin/s390x/zguest-agent from make build-s390x).
func DefaultAgent() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	for _, p := range []string{
		filepath.Join(filepath.Dir(exe), "s390x", "zguest-agent"),
		filepath.Join(filepath.Dir(exe), "zguest-agent-s390x"),
	} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("agent: the spec names none and %s does not exist; run `make build-s390x` or set agent: in the spec",
		filepath.Join(filepath.Dir(exe), "s390x", "zguest-agent"))
}

// writeBootRecord finds the kernel and initrd in the new file system and
// writes the boot map into the blocks before the partition.
func writeBootRecord(disk *os.File, fsOff int64, stage string, bf bootFiles, cmd string) (zipl.Layout, error) {
	head := make([]byte, 0x12000)
	kf, err := os.Open(filepath.Join(stage, bf.Image))
	if err != nil {
		return zipl.Layout{}, err
	}
	n, _ := io.ReadFull(kf, head)
	kf.Close()
	p := zipl.Program{KernelHead: head[:n], Cmdline: cmd}
	extents := func(path string) ([]zipl.Extent, int64, error) {
		f, err := ext4.Lookup(disk, fsOff, path)
		if err != nil {
			return nil, 0, fmt.Errorf("%s in the new file system: %w", path, err)
		}
		per := uint64(f.BlockSize / sectorSize)
		var out []zipl.Extent
		var next uint64
		for _, e := range f.Extents {
			if e.Logical > next { // a hole: mke2fs -d stores zero blocks as holes
				out = append(out, zipl.Extent{Block: 0, Count: (e.Logical - next) * per})
			}
			if e.Uninit {
				return nil, 0, fmt.Errorf("%s has an unwritten (preallocated) extent at block %d: cannot boot from it", path, e.Logical)
			}
			out = append(out, zipl.Extent{Block: uint64(fsOff)/sectorSize + e.Physical*per, Count: uint64(e.Len) * per})
			next = e.Logical + uint64(e.Len)
		}
		if end := (uint64(f.Size) + uint64(f.BlockSize) - 1) / uint64(f.BlockSize); end > next {
			out = append(out, zipl.Extent{Block: 0, Count: (end - next) * per})
		}
		return out, f.Size, nil
	}
	if p.Kernel, p.KernelSize, err = extents(bf.Image); err != nil {
		return zipl.Layout{}, err
	}
	if p.Initrd, p.InitrdSize, err = extents(bf.Initrd); err != nil {
		return zipl.Layout{}, err
	}
	return zipl.Write(disk, disk, sectorSize, 1, uint64(fsOff)/sectorSize, p)
}

// exportKernel writes the kernel, initrd and command line next to the
// output for a direct kernel boot (qemu -kernel, libvirt <kernel>).
func exportKernel(output, stage string, bf bootFiles, cmd string) ([]string, error) {
	base := strings.TrimSuffix(output, filepath.Ext(output))
	var written []string
	for _, x := range []struct{ src, dst string }{{bf.Image, base + ".vmlinuz"}, {bf.Initrd, base + ".initrd"}} {
		data, err := os.ReadFile(filepath.Join(stage, x.src))
		if err != nil {
			return nil, err
		}
		if err := writeAtomic(x.dst, data); err != nil {
			return nil, err
		}
		written = append(written, x.dst)
	}
	if err := writeAtomic(base+".cmdline", []byte(cmd+"\n")); err != nil {
		return nil, err
	}
	return append(written, base+".cmdline"), nil
}

func writeAtomic(path string, data []byte) error {
	f, err := fileout.Create(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := f.Write(data); err != nil {
		return err
	}
	return f.Commit(true)
}

// defaultWorkDir picks the scratch space when the caller gave none: $TMPDIR
// when set; else /dev/shm when it is a tmpfs with room for about three
// times the unpacked source and that much memory is available (the staged
// tree and the raw disk live there; on a disk they cost a journaled write
// of every file, which made staging four times slower than on tmpfs in
// the benchmark); else the system's temporary directory.
func defaultWorkDir(src string, log *slog.Logger) string {
	if d := os.Getenv("TMPDIR"); d != "" {
		return d
	}
	need := int64(4 << 30) // a directory source: assume a large tree
	if st, err := os.Stat(src); err == nil && !st.IsDir() {
		need = 3 * st.Size()
		if kind, _ := sourceKind(src); kind == "tar" && !strings.HasSuffix(src, ".tar") {
			need *= 4 // compressed
		}
	}
	var fs unix.Statfs_t
	if err := unix.Statfs("/dev/shm", &fs); err != nil || fs.Type != unix.TMPFS_MAGIC {
		return os.TempDir()
	}
	free := int64(fs.Bavail) * int64(fs.Bsize) // Bsize is uint32 on s390x
	if free < need || memAvailable() < need {
		log.Info("scratch space", "dir", os.TempDir(), "why", fmt.Sprintf("/dev/shm or memory has less than the %d MiB needed", need>>20))
		return os.TempDir()
	}
	return "/dev/shm"
}

// memAvailable reads MemAvailable from /proc/meminfo (0 when unknown).
func memAvailable() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "MemAvailable:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}
