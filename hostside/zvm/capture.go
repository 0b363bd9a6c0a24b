package zvm

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/zguest/zguest/builder/dasd"
	"github.com/zguest/zguest/builder/xcat"
	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/remotehost"
)

var (
	_ api.Capturer = (*Backend)(nil)
	_ api.Exporter = (*Backend)(nil)
)

// Capture implements api.Capturer as the original's smtclient
// guest_capture does for a guest it cannot reach over IUCV: only
// "rootonly" (alldisks answers 501 as SDKFunctionNotImplementError); the
// os_version is the one recorded at deploy; a running guest is stopped
// first and started again afterwards; the root minidisk becomes an xCAT
// image (creatediskimage's 512-byte header with the size in cylinders or
// blocks and the gzip level, then the disk gzipped at that level, or as it
// is for level 0), written under <repo>/staging/<os>/<image>/<vdev>, moved
// to <repo>/netboot/<os>/<image>/<vdev> and recorded, so that it can be
// queried, deployed, exported and deleted like an imported image.
//
// A CKD disk's payload is ckdencode's CiKaDa track encoding
// (builder/xcat), which deploy decodes back onto the minidisk; an FBA
// disk's is its blocks as they are.
func (b *Backend) Capture(ctx context.Context, userid string, c api.CaptureSpec) error {
	if err := c.Check(); err != nil {
		return err
	}
	if c.Image == "" || strings.ContainsAny(c.Image, "/\\") || c.Image == "." || c.Image == ".." {
		return inputErr("image name %q: want a name without '/'", c.Image)
	}
	g, err := b.guest(ctx, userid)
	if err != nil {
		return err
	}
	if _, ok, err := b.store.Image(ctx, c.Image); err != nil {
		return internalErr(api.ModImage, err)
	} else if ok {
		return api.ImageNameExists(c.Image)
	}
	if g.OSVersion == "" {
		return guestOpErr(5, userid, fmt.Errorf("no image was deployed to %s, so its os_version is unknown; deploy an image before capturing", userid))
	}
	var root *DiskRecord
	for i := range g.Disks {
		if g.Disks[i].Vdev == b.c.RootVdev {
			root = &g.Disks[i]
		}
	}
	if root == nil && len(g.Disks) > 0 {
		root = &g.Disks[0] // the first MDISK, as the original takes
	}
	if root == nil {
		return guestOpErr(5, userid, fmt.Errorf("%s has no minidisk to capture", userid))
	}
	state, err := b.powerState(ctx, userid)
	if err != nil {
		return err
	}
	if state == "on" {
		if err := b.Action(ctx, userid, api.PowerAction{Name: "stop"}); err != nil {
			return err
		}
	}
	rec, err := b.captureDisk(ctx, userid, g.OSVersion, c, *root)
	if state == "on" {
		if serr := b.Action(context.WithoutCancel(ctx), userid, api.PowerAction{Name: "start"}); serr != nil && err == nil {
			err = serr
		}
	}
	if err != nil {
		return err
	}
	b.log.Info("guest captured", "userid", userid, "image", rec.Name, "vdev", root.Vdev, "format", rec.ImageFormat, "level", c.CompressLevel, "bytes", rec.SizeBytes)
	return nil
}

func (b *Backend) captureDisk(ctx context.Context, userid, osv string, c api.CaptureSpec, d DiskRecord) (ImageRecord, error) {
	fail := func(err error) (ImageRecord, error) {
		return ImageRecord{}, guestOpErr(5, userid, err)
	}
	disk, err := b.c.Disks.OpenDisk(ctx, userid, d.Vdev)
	if err != nil {
		return fail(fmt.Errorf("link minidisk %s: %w", d.Vdev, err))
	}
	defer disk.Close()
	ra, ok := disk.(io.ReaderAt)
	if !ok {
		return fail(fmt.Errorf("minidisk %s cannot be read by this CP access", d.Vdev))
	}
	h := Header{Format: FormatXCATCKD, Unit: "CYL", Size: disk.Size() / CylinderBytes, Level: c.CompressLevel}
	if d.Type == "9336" {
		h.Format, h.Unit, h.Size = FormatXCATFBA, "BLK", disk.Size()/512
	}
	stageDir := filepath.Join(b.c.ImageRepo, "staging", osv, c.Image)
	finalDir := filepath.Join(b.c.ImageRepo, "netboot", osv, c.Image)
	if err := os.MkdirAll(stageDir, 0o755); err != nil {
		return ImageRecord{}, internalErr(api.ModImage, fmt.Errorf("image repository: %w", err))
	}
	defer os.RemoveAll(stageDir)
	stage := filepath.Join(stageDir, d.Vdev)
	src := io.Reader(io.NewSectionReader(ra, 0, disk.Size()))
	if h.Format == FormatXCATCKD {
		// As creatediskimage: the tracks in ckdencode's CiKaDa encoding,
		// with the records a Linux CDL disk has on tracks 0 and 1 (a disk
		// that is not CDL is written as 12 records of 4 KiB a track).
		layout, _, _ := dasd.Detect(ra)
		pr, pw := io.Pipe()
		go func() {
			pw.CloseWithError(xcat.EncodeTracks(pw, ra, dasd.Disk{Cylinders: h.Size, Layout: layout}))
		}()
		defer pr.Close() // stops the encoder if writing the image failed
		src = pr
	}
	sum, size, err := writeImage(ctx, stage, h, src)
	if err != nil {
		return fail(fmt.Errorf("create the image of minidisk %s: %w", d.Vdev, err))
	}
	if err := os.MkdirAll(finalDir, 0o755); err != nil {
		return ImageRecord{}, internalErr(api.ModImage, fmt.Errorf("image repository: %w", err))
	}
	final := filepath.Join(finalDir, d.Vdev)
	if err := os.Rename(stage, final); err != nil {
		os.RemoveAll(finalDir)
		return fail(fmt.Errorf("move the image from staging to netboot: %w", err))
	}
	rec := ImageRecord{Name: c.Image, OSVersion: osv, MD5: sum, DiskUnits: h.DiskUnitsString(), SizeBytes: size, Path: final,
		LastAccess: float64(time.Now().Unix()), ImageFormat: h.Format}
	if err := b.store.PutImage(ctx, rec); err != nil {
		os.RemoveAll(finalDir)
		return ImageRecord{}, internalErr(api.ModImage, err)
	}
	return rec, nil
}

// writeImage writes h and the disk content to path and returns the
// file's md5 and size.
func writeImage(ctx context.Context, path string, h Header, src io.Reader) (string, int64, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return "", 0, err
	}
	sum := md5.New()
	cw := &countWriter{w: io.MultiWriter(f, sum)}
	bw := bufio.NewWriterSize(cw, 1<<20)
	err = func() error {
		if _, err := bw.Write(h.Bytes()); err != nil {
			return err
		}
		src := io.Reader(ctxReader{ctx, src})
		if h.Level == 0 {
			_, err := io.Copy(bw, src)
			return err
		}
		zw, err := gzip.NewWriterLevel(bw, h.Level)
		if err != nil {
			return err
		}
		if _, err := io.Copy(zw, src); err != nil {
			return err
		}
		return zw.Close()
	}()
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return "", 0, err
	}
	return hex.EncodeToString(sum.Sum(nil)), cw.n, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// ctxReader stops a long copy when the request is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// ExportImage implements api.Exporter as smtclient image_export does: a
// file:// destination is written locally, or with remote_host
// (user@host) copied there by scp; the answer describes the image.
func (b *Backend) ExportImage(ctx context.Context, name string, e api.ExportSpec) (map[string]any, error) {
	r, ok, err := b.store.Image(ctx, name)
	if err != nil {
		return nil, internalErr(api.ModImage, err)
	}
	if !ok {
		return nil, api.ImageNotExist(name)
	}
	dest, err := exportPath(e.DestURL)
	if err != nil {
		return nil, &api.Error{OverallRC: 300, ModID: api.ModImage, RC: 300, RS: 2, Msg: fmt.Sprintf("image %s: dest_url %q: %v", name, e.DestURL, err)}
	}
	if e.RemoteHost != "" {
		if err := b.scpPut(ctx, r.Path, e.RemoteHost, dest); err != nil {
			return nil, &api.Error{OverallRC: 300, ModID: api.ModImage, RC: 300, RS: 21,
				Msg: fmt.Sprintf("Error happened when copying image %s to remote host %s: %v", name, e.RemoteHost, err), Err: err}
		}
	} else if err := exportFile(r.Path, dest); err != nil {
		return nil, &api.Error{OverallRC: 300, ModID: api.ModImage, RC: 300, RS: 22,
			Msg: fmt.Sprintf("Export image %s from %s to local file system %s failed: %v", name, r.Path, dest, err), Err: err}
	}
	return map[string]any{"image_name": name, "image_path": e.DestURL, "os_version": r.OSVersion, "md5sum": r.MD5, "comments": nullable(r.Comments)}, nil
}

// exportPath is the local path of a file:// URL.
func exportPath(u string) (string, error) {
	p, ok := strings.CutPrefix(u, "file://")
	if !ok {
		return "", errors.New("only file:// destinations are supported")
	}
	if p == "" || !filepath.IsAbs(p) || strings.HasSuffix(p, "/") {
		return "", errors.New("want file:///<absolute path of the file to write>")
	}
	return filepath.Clean(p), nil
}

// nullable is the original's value for an empty comments column (None).
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// scpPut copies src to dst on remote with the scp the backend uses for
// remote transport files (Config.SCP, -P Config.SSHPort), as the
// original's FilesystemBackend.image_export.
func (b *Backend) scpPut(ctx context.Context, src, remote, dst string) error {
	argv, err := remotehost.PutArgv(b.c.SCP, b.c.SSHPort, src, remote, dst)
	if err != nil {
		return err
	}
	if out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput(); err != nil {
		return fmt.Errorf("scp %s to %s:%s: %w: %s", src, remote, dst, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// exportFile copies src to a new file dst. An existing dst (or a symbolic
// link there) is refused rather than overwritten: the daemon runs as root
// and a destination is the caller's word.
func exportFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%s exists; export writes a new file only, remove it first", dst)
	}
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err = errors.Join(err, out.Close()); err != nil {
		os.Remove(dst)
	}
	return err
}
