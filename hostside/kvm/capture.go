package kvm

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/digitalocean/go-libvirt"

	"github.com/zguest/zguest/builder/qcow2"
	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/remotehost"
)

var (
	_ api.Capturer = (*Backend)(nil)
	_ api.Exporter = (*Backend)(nil)
)

// Capture implements api.Capturer: the guest's root disk (an overlay or
// a copy) is flattened into a new qcow2 image in the image store with
// qemu-img convert, compressed (-c, zlib) unless compress_level is 0. A
// running guest is shut down first (softstop) and started again after,
// as the z/VM connector stops a guest it captures. The image's
// os_version is the deployed image's. Only "rootonly" exists: the data
// disks are not part of an image (alldisks answers 501 as the original).
func (b *Backend) Capture(ctx context.Context, userid string, cs api.CaptureSpec) error {
	if err := cs.Check(); err != nil {
		return err
	}
	if !imageNameRE.MatchString(cs.Image) {
		return inputErr(api.ModImage, "image name %q: want 1-128 of A-Z a-z 0-9 _ . + - (not starting with . - _ +)", cs.Image)
	}
	c, dom, g, err := b.lookup(userid)
	if err != nil {
		return err
	}
	if g.Root == "" {
		return conflict(api.ModGuest, 5, "capture %s: no root disk; deploy an image first", userid)
	}
	if _, err := os.Stat(b.imageDir(cs.Image)); err == nil {
		return imageExists(cs.Image)
	}
	st, _, err := c.DomainGetState(dom, 0)
	if err != nil {
		return lvErr(api.ModGuest, "state of "+userid, err)
	}
	running := hasProcess(libvirt.DomainState(st))
	if running {
		if err := b.Action(ctx, userid, api.PowerAction{Name: "softstop"}); err != nil {
			return err
		}
	}
	err = b.captureRoot(ctx, g, cs)
	if running {
		if serr := b.Action(context.WithoutCancel(ctx), userid, api.PowerAction{Name: "start"}); serr != nil && err == nil {
			err = serr
		}
	}
	return err
}

func (b *Backend) captureRoot(ctx context.Context, g *GuestMeta, cs api.CaptureSpec) error {
	b.imgMu.Lock()
	defer b.imgMu.Unlock()
	if _, err := os.Stat(b.imageDir(cs.Image)); err == nil {
		return imageExists(cs.Image)
	}
	var osv string
	if g.Image != "" {
		if im, err := b.image(g.Image); err == nil {
			osv = im.OSVersion
		}
	}
	tmp, err := os.MkdirTemp(b.imagesDir(), ".capture-")
	if err != nil {
		return internalErr(api.ModImage, "image store", err)
	}
	defer os.RemoveAll(tmp)
	disk := filepath.Join(tmp, "disk.qcow2")
	args := []string{b.cfg.QemuImg, "convert", "-q", "-f", "qcow2", "-O", "qcow2"}
	if cs.CompressLevel > 0 {
		args = append(args, "-c")
	}
	if _, err := b.cfg.Run(ctx, append(args, g.Root, disk)...); err != nil {
		return &api.Error{OverallRC: 300, ModID: api.ModGuest, RC: 300, RS: 5,
			Msg: fmt.Sprintf("Guest '%s' operation failed: capture the root disk %s: %v", g.UserID, g.Root, err), Err: err}
	}
	im, err := describeQcow2(disk, cs.Image)
	if err != nil {
		return internalErr(api.ModImage, "captured image "+cs.Image, err)
	}
	im.OSVersion, im.LastAccess = osv, float64(b.cfg.Now().Unix())
	raw, _ := json.MarshalIndent(im, "", "  ")
	if err := os.WriteFile(filepath.Join(tmp, "image.json"), raw, 0o644); err != nil {
		return internalErr(api.ModImage, "image store", err)
	}
	if err := os.Rename(tmp, b.imageDir(cs.Image)); err != nil {
		return internalErr(api.ModImage, "image store", err)
	}
	b.log.Info("guest captured", "userid", g.UserID, "image", cs.Image, "compressed", cs.CompressLevel > 0, "virtual_size", im.VirtualSize, "bytes", im.SizeBytes)
	return nil
}

// describeQcow2 reads a qcow2 file's virtual size (builder/qcow2) and md5.
func describeQcow2(path, name string) (*imageRecord, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	q, err := qcow2.Open(f, fi.Size())
	if err != nil {
		return nil, err
	}
	h := md5.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, fi.Size())); err != nil {
		return nil, err
	}
	return &imageRecord{Name: name, Format: "qcow2", MD5: hex.EncodeToString(h.Sum(nil)), SizeBytes: fi.Size(), VirtualSize: q.Size()}, nil
}

// ExportImage implements api.Exporter as the z/VM connector's
// image_export: the image file is copied to a file:// destination on
// this host, or with remote_host (user@host) by scp there. The answer
// describes the image.
func (b *Backend) ExportImage(ctx context.Context, name string, e api.ExportSpec) (map[string]any, error) {
	b.imgMu.RLock()
	defer b.imgMu.RUnlock()
	im, err := b.image(name)
	if err != nil {
		return nil, err
	}
	dest, ok := strings.CutPrefix(e.DestURL, "file://")
	if !ok || checkPath(dest) != nil || strings.HasSuffix(dest, "/") {
		return nil, &api.Error{OverallRC: 300, ModID: api.ModImage, RC: 300, RS: 2,
			Msg: fmt.Sprintf("image %s: dest_url %q: want file:///<absolute path of the file to write>", name, e.DestURL)}
	}
	src := b.imageDisk(im)
	if e.RemoteHost != "" {
		if err := b.scpPut(ctx, src, e.RemoteHost, dest); err != nil {
			return nil, &api.Error{OverallRC: 300, ModID: api.ModImage, RC: 300, RS: 21,
				Msg: fmt.Sprintf("Error happened when copying image %s to remote host %s: %v", name, e.RemoteHost, err), Err: err}
		}
	} else if err := copyTo(src, dest); err != nil {
		return nil, &api.Error{OverallRC: 300, ModID: api.ModImage, RC: 300, RS: 22,
			Msg: fmt.Sprintf("Export image %s from %s to local file system %s failed: %v", name, src, dest, err), Err: err}
	}
	b.log.Info("image exported", "image", name, "dest", e.DestURL, "remote_host", e.RemoteHost)
	return map[string]any{"image_name": name, "image_path": e.DestURL, "os_version": im.OSVersion, "md5sum": im.MD5, "comments": nil}, nil
}

// copyTo copies src to a new file dst; an existing dst (or a symbolic
// link there) is refused, not overwritten: the daemon runs as root and
// the destination is the caller's word.
func copyTo(src, dst string) error {
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

// scpPut copies src to remote:dst with scp (Config.SCP, -P
// Config.SSHPort), as the connector's image_export.
func (b *Backend) scpPut(ctx context.Context, src, remote, dst string) error {
	argv, err := remotehost.PutArgv(b.cfg.SCP, b.cfg.SSHPort, src, remote, dst)
	if err != nil {
		return err
	}
	_, err = b.cfg.Run(ctx, argv...)
	return err
}

// scpGet copies remote:path to the local file dst with scp, as the
// connector's image_import.
func (b *Backend) scpGet(ctx context.Context, remote, path, dst string) error {
	argv, err := remotehost.GetArgv(b.cfg.SCP, b.cfg.SSHPort, remote, path, dst)
	if err != nil {
		return err
	}
	_, err = b.cfg.Run(ctx, argv...)
	return err
}
