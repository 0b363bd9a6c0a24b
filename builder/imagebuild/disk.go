package imagebuild

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// Disk layout constants.
const (
	sectorSize = 512
	// partStart is where the root partition starts on a partitioned disk
	// (1 MiB, as fdisk and parted align): the blocks before it hold the
	// s390x boot map.
	partStart = 1 << 20
	fsBlock   = 4096
)

// writeMBR writes a DOS partition table with one bootable Linux partition
// from partStart to the end of the disk. The boot code area stays zero
// (zipl's SCSI record goes there); the disk signature comes from the
// file system UUID, so it is reproducible.
func writeMBR(f io.WriterAt, size int64, sig [4]byte) error {
	mbr := make([]byte, sectorSize)
	copy(mbr[0x1b8:], sig[:])
	p := mbr[0x1be:]
	p[0] = 0x80                            // bootable
	copy(p[1:4], []byte{0xfe, 0xff, 0xff}) // CHS unused: LBA only
	p[4] = 0x83                            // Linux
	copy(p[5:8], []byte{0xfe, 0xff, 0xff})
	start := uint64(partStart / sectorSize)
	n := uint64(size)/sectorSize - start
	if n > 0xffffffff {
		return fmt.Errorf("disk of %d bytes is too big for a DOS partition table (2 TiB)", size)
	}
	binary.LittleEndian.PutUint32(p[8:], uint32(start))
	binary.LittleEndian.PutUint32(p[12:], uint32(n))
	mbr[510], mbr[511] = 0x55, 0xaa
	_, err := f.WriteAt(mbr, 0)
	return err
}

// rootPartition finds the root file system of a disk image: the largest
// Linux partition of a DOS or GPT partition table, or the whole image when
// it has no table. It returns the byte offset.
func rootPartition(r io.ReaderAt) (int64, error) {
	b := make([]byte, 2*sectorSize)
	if _, err := r.ReadAt(b, 0); err != nil && err != io.EOF {
		return 0, err
	}
	if b[510] != 0x55 || b[511] != 0xaa {
		return 0, nil
	}
	// An ext4 file system with no table has its superblock magic at 1080.
	var best, bestSize uint64
	for i := 0; i < 4; i++ {
		p := b[0x1be+16*i:]
		typ := p[4]
		start := uint64(binary.LittleEndian.Uint32(p[8:]))
		n := uint64(binary.LittleEndian.Uint32(p[12:]))
		switch typ {
		case 0xee: // protective MBR: GPT
			return gptRoot(r)
		case 0x83:
			if n > bestSize {
				best, bestSize = start, n
			}
		}
	}
	if bestSize == 0 {
		return 0, fmt.Errorf("the DOS partition table has no Linux (type 83) partition")
	}
	return int64(best) * sectorSize, nil
}

// linuxFS is the GPT type GUID of Linux file system data, as stored
// (mixed-endian) on disk.
var linuxFS = []byte{0xaf, 0x3d, 0xc6, 0x0f, 0x83, 0x84, 0x72, 0x47, 0x8e, 0x79, 0x3d, 0x69, 0xd8, 0x47, 0x7d, 0xe4}

func gptRoot(r io.ReaderAt) (int64, error) {
	h := make([]byte, sectorSize)
	if _, err := r.ReadAt(h, sectorSize); err != nil {
		return 0, err
	}
	if string(h[:8]) != "EFI PART" {
		return 0, fmt.Errorf("protective MBR but no GPT header at block 1")
	}
	lba := int64(binary.LittleEndian.Uint64(h[72:]))
	n := binary.LittleEndian.Uint32(h[80:])
	esz := binary.LittleEndian.Uint32(h[84:])
	if n > 1024 || esz < 128 || esz > 4096 {
		return 0, fmt.Errorf("GPT header: %d entries of %d bytes: not plausible", n, esz)
	}
	ents := make([]byte, int(n)*int(esz))
	if _, err := r.ReadAt(ents, lba*sectorSize); err != nil {
		return 0, fmt.Errorf("GPT entries: %w", err)
	}
	var best, bestSize uint64
	for i := 0; i < int(n); i++ {
		e := ents[i*int(esz):]
		if !bytes.Equal(e[:16], linuxFS) {
			continue
		}
		first, last := binary.LittleEndian.Uint64(e[32:]), binary.LittleEndian.Uint64(e[40:])
		if last >= first && last-first+1 > bestSize {
			best, bestSize = first, last-first+1
		}
	}
	if bestSize == 0 {
		return 0, fmt.Errorf("the GPT has no Linux file system partition")
	}
	return int64(best) * sectorSize, nil
}

// mkfs runs mke2fs -d over the staged tree into the disk file at offset.
// The settings that make the result reproducible: a fixed UUID and hash
// seed, E2FSPROGS_FAKE_TIME for the superblock, MKE2FS_CONFIG pointing
// nowhere so the build host's /etc/mke2fs.conf does not matter (mke2fs
// then uses its built-in defaults), and sorted directory reading, which
// mke2fs 1.47 does itself. Inode times are clamped afterwards.
func mkfs(ctx context.Context, disk string, offset, size int64, stage, label, uuid string, epoch int64) error {
	blocks := size / fsBlock
	args := []string{"-q", "-F", "-t", "ext4", "-b", strconv.Itoa(fsBlock), "-L", label, "-U", uuid,
		// orphan_file needs e2fsprogs 1.47 in the guest; older guests
		// (RHEL 8/9's e2fsck) refuse such a file system.
		"-O", "^orphan_file,^metadata_csum_seed",
		"-E", fmt.Sprintf("hash_seed=%s,root_owner=0:0,offset=%d", uuid, offset),
		"-d", stage, disk, strconv.FormatInt(blocks, 10)}
	cmd := exec.CommandContext(ctx, "mke2fs", args...)
	cmd.Env = append(os.Environ(), "E2FSPROGS_FAKE_TIME="+strconv.FormatInt(epoch, 10),
		"MKE2FS_CONFIG="+filepath.Join(os.TempDir(), "zguest-no-mke2fs.conf"), "MKE2FS_DEVICE_SECTSIZE=512")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		if _, lerr := exec.LookPath("mke2fs"); lerr != nil {
			return fmt.Errorf("mke2fs not found: install e2fsprogs (1.43 or later, for -d)")
		}
		return fmt.Errorf("mke2fs -d %s: %w: %s", stage, err, lastLines(out.String(), 8))
	}
	return nil
}

// applyOwners sets owners, modes and device nodes that a build without
// root could not give the staged files, with one debugfs run.
func applyOwners(ctx context.Context, disk string, offset int64, fix []owner, work string) error {
	if len(fix) == 0 {
		return nil
	}
	var b strings.Builder
	for _, o := range fix {
		if strings.ContainsAny(o.Path, "\"\n\\") {
			return fmt.Errorf("%s: a name debugfs cannot be given; build as root", o.Path)
		}
		q := `"` + o.Path + `"`
		if o.Node != 0 {
			// debugfs' mknod links the node only into the current
			// directory: given a path, it allocates an inode and loses it.
			dir, base := filepath.Split(o.Path)
			fmt.Fprintf(&b, "cd \"%s\"\n", dir)
			if o.Node == 'p' {
				fmt.Fprintf(&b, "mknod \"%s\" p\n", base)
			} else {
				fmt.Fprintf(&b, "mknod \"%s\" %c %d %d\n", base, o.Node, o.Major, o.Minor)
			}
			b.WriteString("cd /\n")
		}
		fmt.Fprintf(&b, "sif %s uid %d\nsif %s gid %d\n", q, o.UID, q, o.GID)
		if o.Mode&0o7000 != 0 || o.Node != 0 {
			// sif mode replaces the whole i_mode: keep the file type.
			fmt.Fprintf(&b, "sif %s mode 0%o\n", q, o.Mode|o.Type|typeBits(o.Node))
		}
	}
	script := filepath.Join(work, "owners.debugfs")
	if err := os.WriteFile(script, []byte(b.String()), 0o600); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "debugfs", "-w", "-f", script, fmt.Sprintf("%s?offset=%d", disk, offset))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("debugfs (owners of %d files): %w: %s", len(fix), err, lastLines(string(out), 5))
	}
	return nil
}

// rootlessOwners lists, for a build without root, every staged file that
// must become root's: all the build's own files except those the source
// gave another owner (those fixups come after, so they win).
func rootlessOwners(stage string, explicit []owner) ([]owner, error) {
	if os.Geteuid() == 0 {
		return explicit, nil
	}
	var out []owner
	err := filepath.WalkDir(stage, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(stage, p)
		if rel == "." {
			return nil // mke2fs sets the root's owner (root_owner=0:0)
		}
		out = append(out, owner{Path: "/" + filepath.ToSlash(rel)})
		return nil
	})
	return append(out, explicit...), err
}

// typeBits returns the i_mode file type for a debugfs "sif mode" of a file
// whose type the build knows: regular unless a node.
func typeBits(node byte) uint32 {
	switch node {
	case 'c':
		return 0o020000
	case 'b':
		return 0o060000
	case 'p':
		return 0o010000
	}
	return 0
}
