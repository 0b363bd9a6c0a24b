package dpm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Volume is a storage volume of the boot pool as the HMC describes it.
type Volume struct {
	GroupURI string // its storage group
	URI      string // the storage volume's element-uri
	UUID     string // the LUN's identifier (NAA), 32 hex digits
	Size     int64  // bytes
}

// VolumeWriter is this host's own FCP access to a volume: it makes the
// volume reachable from the partition the daemon runs in and returns it
// open for writing; Close flushes it and takes the access away again.
// The deploy writes the image through it and the delete wipes through it.
type VolumeWriter interface {
	Open(ctx context.Context, v Volume) (VolumeFile, error)
}

// VolumeFile is an open volume.
type VolumeFile interface {
	io.WriterAt
	// Zero makes [off, off+n) read back as zeros (a discard where the
	// device supports it, written zeros otherwise).
	Zero(off, n int64) error
	Close() error
}

// hmcVolumeWriter is the VolumeWriter of a daemon running in a DPM
// partition of the same CPC: attach the volume's storage group to that
// partition, wait for the Linux block device of the LUN, write through
// it, detach. The HMC simulator gives the same path a directory of
// sparse backing files named as the real device links are, so the
// simulated run takes this very code.
type hmcVolumeWriter struct {
	b       *Backend
	ownURI  string        // the daemon's own partition
	devDir  string        // /dev/disk/by-id
	timeout time.Duration // waiting for the device to appear
}

// devicePath is the LUN's device link under devDir.
//
// guess: zfcp with automatic LUN scanning (the default on DPM, NPIV)
// brings the volume up as a SCSI disk once its storage group is attached
// to the partition, and udev names it /dev/disk/by-id/wwn-0x<NAA id>,
// the NAA id being the storage volume's "uuid" property in lower case.
// With multipath the link would be dm-uuid-mpath-3<id> instead; not
// handled.
func devicePath(dir, uuid string) string {
	return filepath.Join(dir, "wwn-0x"+strings.ToLower(uuid))
}

func (w *hmcVolumeWriter) Open(ctx context.Context, v Volume) (VolumeFile, error) {
	did, err := w.b.attachStorageGroup(ctx, "(this host)", w.ownURI, v.GroupURI)
	if err != nil {
		return nil, fmt.Errorf("attach storage group %s to this host's partition: %w", v.GroupURI, err)
	}
	detach := func() error {
		if !did {
			return nil
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 60*time.Second)
		defer cancel()
		return w.b.detachStorageGroup(cctx, w.ownURI, v.GroupURI)
	}
	path := devicePath(w.devDir, v.UUID)
	deadline := time.Now().Add(w.timeout)
	var f *os.File
	for {
		// No O_CREATE: a device that is not there must not become a file.
		f, err = os.OpenFile(path, os.O_WRONLY, 0)
		if err == nil || !errors.Is(err, os.ErrNotExist) || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-time.After(200 * time.Millisecond):
			continue
		}
		break
	}
	if err != nil {
		if derr := detach(); derr != nil {
			w.b.log.Error("could not detach a storage group from this host's partition", "storage_group", v.GroupURI, "error", derr)
		}
		return nil, fmt.Errorf("volume %s: block device %s: %w", v.URI, path, err)
	}
	return &volumeFile{f: f, detach: detach}, nil
}

type volumeFile struct {
	f      *os.File
	detach func() error
}

func (v *volumeFile) WriteAt(p []byte, off int64) (int, error) { return v.f.WriteAt(p, off) }

func (v *volumeFile) Zero(off, n int64) error {
	if n <= 0 {
		return nil
	}
	// Punching a hole reads back as zeros on a sparse file and on a
	// block device (the kernel zeroes or discards with guaranteed zeros).
	err := unix.Fallocate(int(v.f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n)
	if err == nil {
		return nil
	}
	zero := make([]byte, 1<<20)
	for n > 0 {
		k := min(n, int64(len(zero)))
		if _, err := v.f.WriteAt(zero[:k], off); err != nil {
			return err
		}
		off += k
		n -= k
	}
	return nil
}

func (v *volumeFile) Close() error {
	err := v.f.Sync()
	if cerr := v.f.Close(); err == nil {
		err = cerr
	}
	if derr := v.detach(); err == nil {
		err = derr
	}
	return err
}

// writeImage copies the disk contents of d onto f: 1 MiB chunks, the
// all-zero ones zeroed (discarded) instead of written.
func writeImage(ctx context.Context, f VolumeFile, d io.ReaderAt, size int64) error {
	buf := make([]byte, 1<<20)
	for off := int64(0); off < size; off += int64(len(buf)) {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(int64(len(buf)), size-off)
		if _, err := d.ReadAt(buf[:n], off); err != nil && !(errors.Is(err, io.EOF) && n == size-off) {
			return fmt.Errorf("read the image at %d: %w", off, err)
		}
		if allZero(buf[:n]) {
			if err := f.Zero(off, n); err != nil {
				return fmt.Errorf("zero the volume at %d: %w", off, err)
			}
			continue
		}
		if _, err := f.WriteAt(buf[:n], off); err != nil {
			return fmt.Errorf("write the volume at %d: %w", off, err)
		}
	}
	return nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
