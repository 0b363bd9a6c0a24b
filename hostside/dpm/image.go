package dpm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/imagerepo"
	"github.com/zguest/zguest/hostside/store"
)

// Images: the daemon's repository of boot disk images (raw or qcow2, as
// `zguest-image build` makes them with target dpm), one directory per
// image under Config.ImageDir, recorded in the state store. Deploy
// writes one onto the guest's boot volume (pool.go).

const gib = int64(1) << 30

// ImportImage implements api.Backend with the original's answers.
func (b *Backend) ImportImage(ctx context.Context, im api.ImageImport) error {
	ctx, cancel := api.OpContext(ctx, "import", b.cfg.Timeouts.Import)
	defer cancel()
	if err := b.needImages(); err != nil {
		return err
	}
	osv := im.ImageMeta["os_version"]
	if im.ImageName == "" || osv == "" || strings.ContainsAny(im.ImageName+osv, "/\\\x00") || im.ImageName == "." || im.ImageName == ".." {
		return &api.Error{OverallRC: 100, ModID: api.ModImage, RC: 100, RS: 1, Msg: "image_name and image_meta.os_version are required and may not contain '/'"}
	}
	if _, err := b.cfg.Store.Image(im.ImageName); err == nil {
		return api.ImageNameExists(im.ImageName)
	} else if !errors.Is(err, store.ErrNotFound) {
		return internal(api.ModImage, err)
	}
	dir := filepath.Join(b.cfg.ImageDir, im.ImageName)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return internal(api.ModImage, fmt.Errorf("image repository: %w", err))
	}
	dst := filepath.Join(dir, "disk")
	sum, size, err := imagerepo.Fetch(ctx, b.cfg.SCP, b.cfg.Sources, im.URL, im.RemoteHost, dst)
	if err != nil {
		os.RemoveAll(dir)
		rs, msg := 12, "Import image from local file system failed with error "+err.Error()
		switch {
		case errors.Is(err, imagerepo.ErrBadURL):
			rs, msg = 4, fmt.Sprintf("image %s: %v", im.ImageName, err)
		case errors.Is(err, imagerepo.ErrRemoteHost):
			rs, msg = 11, fmt.Sprintf("The specified remote_host %s format invalid: %v", im.RemoteHost, err)
		case errors.Is(err, imagerepo.ErrRemoteCopy):
			rs, msg = 10, "Image import error: Copying image file from remote filesystem failed with error "+err.Error()
		}
		return &api.Error{OverallRC: 300, ModID: api.ModImage, RC: 300, RS: rs, Msg: msg, Err: err}
	}
	d, err := imagerepo.Open(dst)
	if err != nil {
		os.RemoveAll(dir)
		return &api.Error{OverallRC: 300, ModID: api.ModImage, RC: 300, RS: 4, Msg: fmt.Sprintf("image %s: %v; want a raw or qcow2 disk image", im.ImageName, err), Err: err}
	}
	format, vsize := d.Format, d.Size
	d.Close()
	rec := store.Image{Name: im.ImageName, OSVersion: osv, MD5Sum: sum, SizeBytes: size, Type: "rootonly", Path: dst,
		DiskSizeUnits: fmt.Sprintf("%d:GB", (vsize+gib-1)/gib),
		Meta:          map[string]string{"format": format, "virtual_size": strconv.FormatInt(vsize, 10)}}
	if err := b.cfg.Store.PutImage(rec); err != nil {
		os.RemoveAll(dir)
		return internal(api.ModImage, err)
	}
	b.log.Info("image imported", "image", rec.Name, "os_version", osv, "format", format, "bytes", size, "virtual_bytes", vsize)
	return nil
}

// QueryImages implements api.Backend; a named image that does not exist
// is the original's 404.
func (b *Backend) QueryImages(ctx context.Context, name string) ([]api.Image, error) {
	if b.cfg.Store == nil {
		if name != "" {
			return nil, api.ImageNotExist(name)
		}
		return []api.Image{}, nil
	}
	var recs []store.Image
	if name != "" {
		r, err := b.cfg.Store.Image(name)
		if errors.Is(err, store.ErrNotFound) {
			return nil, api.ImageNotExist(name)
		}
		if err != nil {
			return nil, internal(api.ModImage, err)
		}
		recs = []store.Image{r}
	} else {
		var err error
		if recs, err = b.cfg.Store.Images(); err != nil {
			return nil, internal(api.ModImage, err)
		}
	}
	out := make([]api.Image, 0, len(recs))
	for _, r := range recs {
		out = append(out, api.Image{ImageName: r.Name, ImageOSDistro: r.OSVersion, MD5Sum: r.MD5Sum, DiskSizeUnits: r.DiskSizeUnits,
			ImageSizeInBytes: strconv.FormatInt(r.SizeBytes, 10), Type: r.Type, Comments: r.Comments,
			LastAccessTime: float64(r.Imported.Unix()), ImagePath: r.Path})
	}
	return out, nil
}

// DeleteImage implements api.Backend; a missing image is fine, as in
// the original.
func (b *Backend) DeleteImage(ctx context.Context, name string) error {
	if err := b.needImages(); err != nil {
		return err
	}
	r, err := b.cfg.Store.Image(name)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return internal(api.ModImage, err)
	}
	if err := b.cfg.Store.DeleteImage(name); err != nil {
		return internal(api.ModImage, err)
	}
	if err := os.RemoveAll(filepath.Dir(r.Path)); err != nil {
		return internal(api.ModImage, fmt.Errorf("delete image %s: %w", name, err))
	}
	return nil
}

// ImageRootDiskSize implements api.Backend: the image's virtual size in
// whole GiB with a "g", the form guest_create's disk size takes, so that
// nova asks for a boot volume at least that large.
func (b *Backend) ImageRootDiskSize(ctx context.Context, name string) (string, error) {
	if b.cfg.Store == nil {
		return "", api.ImageNotExist(name)
	}
	r, err := b.cfg.Store.Image(name)
	if errors.Is(err, store.ErrNotFound) {
		return "", api.ImageNotExist(name)
	}
	if err != nil {
		return "", internal(api.ModImage, err)
	}
	n, _, _ := strings.Cut(r.DiskSizeUnits, ":")
	return n + "g", nil
}

func (b *Backend) needImages() error {
	if b.cfg.Store == nil || b.cfg.ImageDir == "" {
		e := api.NotSupported(api.ModImage, "image_import")
		e.Msg += "; the DPM backend has no state store or image directory configured"
		return e
	}
	return nil
}

func internal(mod int, err error) error {
	return &api.Error{OverallRC: 500, ModID: mod, RC: 500, RS: 1, Msg: "Unexpected internal error: " + err.Error(), Err: err}
}
