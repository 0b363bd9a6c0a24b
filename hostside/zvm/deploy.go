package zvm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/zguest/zguest/builder/dasd"
	"github.com/zguest/zguest/builder/xcat"
	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/source"
)

// Deploy implements api.Backend (docs/facts/zvm-connector.md §2.4): copy the image onto the
// root minidisk (unless skipdiskcopy), punch the transport file
// (cfgdrive.iso) class X, punch the NIC list when the guest has NICs, and
// record os_version.
func (b *Backend) Deploy(ctx context.Context, userid string, d api.DeploySpec) error {
	ctx, cancel := opContext(ctx, "deploy", b.c.Timeouts.orDefaults().Deploy)
	defer cancel()
	g, err := b.guest(ctx, userid)
	if err != nil {
		return err
	}
	im, ok, err := b.store.Image(ctx, d.Image)
	if err != nil {
		return internalErr(api.ModImage, err)
	}
	if !ok {
		return api.ImageRecordMissing(d.Image)
	}
	vdev := d.Vdev
	if vdev == "" {
		vdev = b.c.RootVdev
	}
	r, err := b.begin(ctx, "deploy", userid, opData{Image: im.Name})
	if err != nil {
		return err
	}
	// fail ends the operation unless a file may be left in the
	// connector's reader: then Recover purges it at the next start.
	fail := func(err error) error {
		if errors.Is(err, errCrashed) || !r.clean() {
			return err
		}
		return r.endAfter(ctx, err)
	}
	if !d.SkipDiskCopy {
		if err := b.copyImage(ctx, userid, vdev, im); err != nil {
			return fail(guestOpErr(3, userid, fmt.Errorf("deploy image %s to %s: %w", im.Name, vdev, err)))
		}
		if err := r.step(ctx, stepImage); err != nil {
			return err
		}
	}
	if d.TransportFiles != "" {
		if err := b.punchTransport(ctx, r, userid, d); err != nil {
			return fail(guestOpErr(3, userid, err))
		}
	}
	if len(g.NICs) > 0 {
		if err := b.punchNICList(ctx, r, g); err != nil {
			return fail(err)
		}
	}
	g.OSVersion = im.OSVersion
	if err := b.store.PutGuest(ctx, g); err != nil {
		return fail(internalErr(api.ModGuest, err))
	}
	if err := r.step(ctx, stepRecorded); err != nil {
		return err
	}
	return r.endAfter(ctx, nil)
}

func (b *Backend) copyImage(ctx context.Context, userid, vdev string, im ImageRecord) error {
	src, h, err := openImage(im.Path)
	if err != nil {
		return fmt.Errorf("open image %s: %w", im.Path, err)
	}
	defer src.Close()
	disk, err := b.c.Disks.OpenDisk(ctx, userid, vdev)
	if err != nil {
		return err
	}
	var n int64
	if h.Format == FormatXCATCKD {
		// The payload is the connector's CiKaDa track encoding
		// (ckdencode); written as Linux sees the minidisk, 4 KiB blocks,
		// as ckddecode leaves it.
		var tracks int64
		tracks, err = xcat.DecodeTracks(source.NewReader(ctx, src), disk, disk.Size()/dasd.TrackBytes)
		n = tracks * dasd.TrackBytes
	} else {
		n, err = source.Copy(ctx, io.NewOffsetWriter(disk, 0), src)
	}
	cerr := disk.Close()
	if err != nil {
		return fmt.Errorf("write %s (%s) to minidisk %s of %d bytes after %d bytes: %w", im.Name, h.Format, vdev, disk.Size(), n, err)
	}
	if cerr != nil {
		return fmt.Errorf("close minidisk %s: %w", vdev, cerr)
	}
	b.log.Info("image written", "userid", userid, "vdev", vdev, "image", im.Name, "format", h.Format, "bytes", n)
	return nil
}

// punchTransport fetches the transport file (cp, or scp -B -P from
// remotehost) into a temporary directory and punches it class X under its
// basename.
func (b *Backend) punchTransport(ctx context.Context, r *run, userid string, d api.DeploySpec) error {
	tmp, err := os.MkdirTemp("", "zguest-"+userid+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	base := filepath.Base(d.TransportFiles)
	dst := filepath.Join(tmp, base)
	ctx, cancel := opContext(ctx, "transport", b.c.Timeouts.orDefaults().Transport)
	defer cancel()
	if d.RemoteHost != "" {
		if err := b.scpFrom(ctx, d.RemoteHost, d.TransportFiles, dst); err != nil {
			return err
		}
	} else if err := copyFile(ctx, b.c.Sources, d.TransportFiles, dst); err != nil {
		return fmt.Errorf("copy transport file: %w", err)
	}
	f, size, err := openBounded(dst, DefaultMaxTransportBytes)
	if err != nil {
		return err
	}
	defer f.Close()
	name, typ := spoolName(base)
	if _, err := b.punchFile(ctx, r, userid, io.LimitReader(f, size), name, typ); err != nil {
		return fmt.Errorf("punch %s: %w", base, err)
	}
	return nil
}

// spoolName splits a basename into spool NAME and TYPE at the last dot.
func spoolName(base string) (string, string) {
	if i := strings.LastIndexByte(base, '.'); i > 0 {
		return base[:i], base[i+1:]
	}
	return base, ""
}

// openBounded opens a fetched transport file to be punched as it is
// read, refusing one larger than max (a policy bound: it becomes one
// spool file) before reading anything; the size returned is what is
// punched, should the file grow meanwhile.
func openBounded(path string, max int64) (*os.File, int64, error) {
	f, fi, err := source.Open(path)
	if err != nil {
		return nil, 0, err
	}
	if fi.Size() > max {
		f.Close()
		return nil, 0, fmt.Errorf("transport file of %d bytes, larger than %d: a config drive is a few MiB", fi.Size(), max)
	}
	return f, fi.Size(), nil
}

// copyFile copies a local regular file; FIFOs, devices and kernel
// pseudo-files are refused before anything is read; src is opened under
// sources (nil: any path).
func copyFile(ctx context.Context, sources *source.Policy, src, dst string) error {
	in, fi, err := sources.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if fi.Size() > DefaultMaxTransportBytes {
		return fmt.Errorf("%s has %d bytes, more than a transport file may (%d)", src, fi.Size(), DefaultMaxTransportBytes)
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := source.Copy(ctx, out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

var errBadURL = errors.New("only file:// URLs are supported")
