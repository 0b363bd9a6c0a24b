package zvm

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/imagerepo"
	"github.com/zguest/zguest/hostside/remotehost"
)

// ImportImage implements api.Backend: copy a file:// image into
// <repo>/netboot/<os_version>/<name>/0100, recognise its format and
// record it.
func (b *Backend) ImportImage(ctx context.Context, im api.ImageImport) error {
	osv := im.ImageMeta["os_version"]
	if im.ImageName == "" || osv == "" || strings.ContainsAny(im.ImageName+osv, "/\\") || im.ImageName == "." || im.ImageName == ".." {
		return &api.Error{OverallRC: 100, ModID: api.ModImage, RC: 100, RS: 1, Msg: "image_name and image_meta.os_version are required and may not contain '/'"}
	}
	if _, ok, err := b.store.Image(ctx, im.ImageName); err != nil {
		return internalErr(api.ModImage, err)
	} else if ok {
		return api.ImageNameExists(im.ImageName)
	}
	u, err := url.Parse(im.URL)
	if err != nil || u.Scheme != "file" || u.Path == "" {
		return &api.Error{OverallRC: 300, ModID: api.ModImage, RC: 300, RS: 4, Msg: fmt.Sprintf("image %s: URL %q: %v", im.ImageName, im.URL, errBadURL)}
	}
	dir := filepath.Join(b.c.ImageRepo, "netboot", osv, im.ImageName)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return internalErr(api.ModImage, fmt.Errorf("image repository: %w", err))
	}
	dst := filepath.Join(dir, "0100")
	var sum string
	var size int64
	if im.RemoteHost != "" {
		// As the original's FilesystemBackend.image_import: scp from
		// remote_host (nova sends <user>@<my_ip>, its own host).
		if err := remotehost.CheckPath(im.RemoteHost, u.Path); err != nil {
			os.RemoveAll(dir)
			return &api.Error{OverallRC: 300, ModID: api.ModImage, RC: 300, RS: 11, Msg: fmt.Sprintf("The specified remote_host %s format invalid: %v", im.RemoteHost, err), Err: err}
		}
		if err = b.scpFrom(ctx, im.RemoteHost, u.Path, dst); err == nil {
			sum, size, err = hashFile(dst)
		}
		if err != nil {
			os.RemoveAll(dir)
			return &api.Error{OverallRC: 300, ModID: api.ModImage, RC: 300, RS: 10, Msg: fmt.Sprintf("Image import error: Copying image file from remote filesystem failed with error %v", err), Err: err}
		}
	} else if sum, size, err = copyHash(u.Path, dst); err != nil {
		os.RemoveAll(dir)
		return &api.Error{OverallRC: 300, ModID: api.ModImage, RC: 300, RS: 12, Msg: fmt.Sprintf("Import image from local file system failed with error %v", err), Err: err}
	}
	rec := ImageRecord{Name: im.ImageName, OSVersion: osv, MD5: sum, SizeBytes: size, Path: dst, LastAccess: float64(time.Now().Unix())}
	if err := describe(&rec); err != nil {
		os.RemoveAll(dir)
		return &api.Error{OverallRC: 300, ModID: api.ModImage, RC: 300, RS: 4, Msg: fmt.Sprintf("image %s: %v", im.ImageName, err), Err: err}
	}
	if err := b.store.PutImage(ctx, rec); err != nil {
		return internalErr(api.ModImage, err)
	}
	b.log.Info("image imported", "image", rec.Name, "os_version", osv, "format", rec.ImageFormat, "bytes", size)
	return nil
}

// describe sets the format and disk size units of an imported image: the
// header's for xCAT images, the size in 3390 cylinders for raw ones.
func describe(rec *ImageRecord) error {
	f, err := os.Open(rec.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	h, err := ParseHeader(head[:n])
	switch {
	case err == ErrNoHeader:
		rec.ImageFormat = FormatRaw
		rec.DiskUnits = fmt.Sprintf("%d:CYL", (rec.SizeBytes+CylinderBytes-1)/CylinderBytes)
	case err != nil:
		return err
	default:
		rec.ImageFormat = h.Format
		rec.DiskUnits = h.DiskUnitsString()
	}
	return nil
}

func copyHash(src, dst string) (string, int64, error) { return imagerepo.CopyHash(src, dst) }

// QueryImages implements api.Backend; a named image that does not exist
// is the original's 404.
func (b *Backend) QueryImages(ctx context.Context, name string) ([]api.Image, error) {
	var recs []ImageRecord
	if name != "" {
		r, ok, err := b.store.Image(ctx, name)
		if err != nil {
			return nil, internalErr(api.ModImage, err)
		}
		if !ok {
			return nil, api.ImageNotExist(name)
		}
		recs = []ImageRecord{r}
	} else {
		var err error
		if recs, err = b.store.Images(ctx); err != nil {
			return nil, internalErr(api.ModImage, err)
		}
	}
	out := make([]api.Image, 0, len(recs))
	for _, r := range recs {
		out = append(out, api.Image{ImageName: r.Name, ImageOSDistro: r.OSVersion, MD5Sum: r.MD5, DiskSizeUnits: r.DiskUnits,
			ImageSizeInBytes: strconv.FormatInt(r.SizeBytes, 10), Type: "rootonly", Comments: r.Comments, LastAccessTime: r.LastAccess, ImagePath: r.Path})
	}
	return out, nil
}

// DeleteImage implements api.Backend; deleting a missing image is fine,
// as in the original.
func (b *Backend) DeleteImage(ctx context.Context, name string) error {
	r, ok, err := b.store.Image(ctx, name)
	if err != nil {
		return internalErr(api.ModImage, err)
	}
	if !ok {
		return nil
	}
	if err := os.RemoveAll(filepath.Dir(r.Path)); err != nil {
		return internalErr(api.ModImage, fmt.Errorf("delete image %s: %w", name, err))
	}
	if err := b.store.DeleteImage(ctx, name); err != nil {
		return internalErr(api.ModImage, err)
	}
	return nil
}

// ImageRootDiskSize implements api.Backend: the number of disk_size_units.
func (b *Backend) ImageRootDiskSize(ctx context.Context, name string) (string, error) {
	r, ok, err := b.store.Image(ctx, name)
	if err != nil {
		return "", internalErr(api.ModImage, err)
	}
	if !ok {
		return "", api.ImageNotExist(name)
	}
	n, _, _ := strings.Cut(r.DiskUnits, ":")
	return n, nil
}
