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

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/imagerepo"
)

// ImportImage implements api.Backend: copy a file:// image into
// <repo>/netboot/<os_version>/<name>/0100, recognise its format and
// record it.
func (b *Backend) ImportImage(ctx context.Context, im api.ImageImport) error {
	ctx, cancel := opContext(ctx, "import", b.c.Timeouts.orDefaults().Import)
	defer cancel()
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
	return b.importStaged(ctx, im, osv, u.Path)
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

func (b *Backend) copyHash(ctx context.Context, src, dst string) (string, int64, error) {
	return imagerepo.CopyHash(ctx, b.c.Sources, src, dst)
}

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
