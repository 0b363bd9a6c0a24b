package kvm

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/zguest/zguest/builder/qcow2"
	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/remotehost"
	"github.com/zguest/zguest/hostside/source"
)

// Images live in <storage_dir>/images/<name>/: disk.qcow2 or disk.raw
// and image.json (imageRecord). Import writes them under a temporary
// directory and renames it into place, so an image is either complete
// or absent.

// imageRecord is image.json.
type imageRecord struct {
	Name        string  `json:"name"`
	OSVersion   string  `json:"os_version,omitempty"`
	Format      string  `json:"format"` // qcow2 or raw
	MD5         string  `json:"md5"`
	SizeBytes   int64   `json:"size_bytes"`   // file size
	VirtualSize int64   `json:"virtual_size"` // disk size the guest sees
	LastAccess  float64 `json:"last_access"`  // Unix seconds
}

// cylinderBytes is a 3390 cylinder, the unit nova's z/VM driver reads
// root disk sizes in.
const cylinderBytes = 849960

func (b *Backend) imageDir(name string) string { return filepath.Join(b.imagesDir(), name) }
func (b *Backend) imageDisk(im *imageRecord) string {
	return filepath.Join(b.imageDir(im.Name), "disk."+im.Format)
}

// image reads an imported image's record.
func (b *Backend) image(name string) (*imageRecord, error) {
	if !imageNameRE.MatchString(name) {
		return nil, inputErr(api.ModImage, "image name %q: want 1-128 of A-Z a-z 0-9 _ . + - (not starting with . - _ +)", name)
	}
	raw, err := os.ReadFile(filepath.Join(b.imageDir(name), "image.json"))
	if os.IsNotExist(err) {
		return nil, api.ImageNotExist(name)
	}
	if err != nil {
		return nil, internalErr(api.ModImage, "image "+name, err)
	}
	var im imageRecord
	if err := json.Unmarshal(raw, &im); err != nil || im.Name != name || (im.Format != "qcow2" && im.Format != "raw") {
		return nil, internalErr(api.ModImage, "image "+name, fmt.Errorf("bad image.json (%v); delete the image and import it again", err))
	}
	return &im, nil
}

// touchImage records the image's last use.
func (b *Backend) touchImage(im *imageRecord) {
	im.LastAccess = float64(b.cfg.Now().Unix())
	if raw, err := json.Marshal(im); err == nil {
		p := filepath.Join(b.imageDir(im.Name), "image.json")
		if err := os.WriteFile(p+".new", raw, 0o644); err == nil {
			_ = os.Rename(p+".new", p)
		}
	}
}

// ImportImage copies a qcow2 (without a backing file) or raw image from
// a file:// URL into the image store. image_meta's md5sum, if given,
// must match; os_version is recorded.
func (b *Backend) ImportImage(ctx context.Context, in api.ImageImport) error {
	if !imageNameRE.MatchString(in.ImageName) {
		return inputErr(api.ModImage, "image name %q: want 1-128 of A-Z a-z 0-9 _ . + - (not starting with . - _ +)", in.ImageName)
	}
	u, err := url.Parse(in.URL)
	if err != nil || u.Scheme != "file" || checkPath(u.Path) != nil {
		return &api.Error{OverallRC: 300, ModID: api.ModImage, RC: 300, RS: 4, Msg: fmt.Sprintf("image %s: URL %q: want file:///absolute/path on this host", in.ImageName, in.URL)}
	}
	if in.RemoteHost != "" {
		if err := remotehost.CheckPath(in.RemoteHost, u.Path); err != nil {
			return &api.Error{OverallRC: 300, ModID: api.ModImage, RC: 300, RS: 11, Msg: fmt.Sprintf("The specified remote_host %s format invalid: %v", in.RemoteHost, err), Err: err}
		}
	}
	ctx, cancel := opContext(ctx, "import", b.cfg.Timeouts.Import)
	defer cancel()
	b.imgMu.Lock()
	defer b.imgMu.Unlock()
	if _, err := os.Stat(b.imageDir(in.ImageName)); err == nil {
		return imageExists(in.ImageName)
	}
	tmp, err := os.MkdirTemp(b.imagesDir(), ".import-")
	if err != nil {
		return internalErr(api.ModImage, "image store", err)
	}
	defer os.RemoveAll(tmp) // after a successful rename there is nothing left
	src := u.Path
	if in.RemoteHost != "" {
		// As the original's image_import: scp from remote_host (nova
		// sends <user>@<my_ip>, its own host), then import the copy.
		src = filepath.Join(tmp, "download")
		if err := b.scpGet(ctx, in.RemoteHost, u.Path, src); err != nil {
			return &api.Error{OverallRC: 300, ModID: api.ModImage, RC: 300, RS: 10, Msg: fmt.Sprintf("Image import error: Copying image file from remote filesystem failed with error %v", err), Err: err}
		}
	}
	im, err := importFile(ctx, b.cfg.Sources, src, tmp, in.ImageName)
	if src != u.Path {
		os.Remove(src)
	}
	if err != nil {
		return &api.Error{OverallRC: 300, ModID: api.ModImage, RC: 300, RS: 4, Msg: fmt.Sprintf("image %s: %v", in.ImageName, err), Err: err}
	}
	if want := in.ImageMeta["md5sum"]; want != "" && !strings.EqualFold(want, im.MD5) {
		return &api.Error{OverallRC: 300, ModID: api.ModImage, RC: 300, RS: 4, Msg: fmt.Sprintf("image %s: md5 %s, image_meta.md5sum says %s: the file changed or is not the one meant", in.ImageName, im.MD5, want)}
	}
	im.OSVersion = in.ImageMeta["os_version"]
	im.LastAccess = float64(b.cfg.Now().Unix())
	raw, _ := json.MarshalIndent(im, "", "  ")
	if err := os.WriteFile(filepath.Join(tmp, "image.json"), raw, 0o644); err != nil {
		return internalErr(api.ModImage, "image store", err)
	}
	if err := os.Rename(tmp, b.imageDir(in.ImageName)); err != nil {
		return internalErr(api.ModImage, "image store", err)
	}
	b.log.Info("image imported", "image", im.Name, "format", im.Format, "virtual_size", im.VirtualSize, "bytes", im.SizeBytes)
	return nil
}

// importFile copies src into dir as disk.<format>, hashing it, and
// reads its format and virtual size.
func importFile(ctx context.Context, sources *source.Policy, src, dir, name string) (*imageRecord, error) {
	f, _, err := sources.Open(src) // FIFOs, devices, /proc refused unread
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() || fi.Size() == 0 {
		return nil, fmt.Errorf("%s: not a regular, non-empty file", src)
	}
	im := &imageRecord{Name: name, Format: "raw", SizeBytes: fi.Size(), VirtualSize: fi.Size()}
	var magic [4]byte
	if _, err := f.ReadAt(magic[:], 0); err == nil && string(magic[:]) == "QFI\xfb" {
		q, err := qcow2.Open(f, fi.Size())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src, err)
		}
		im.Format, im.VirtualSize = "qcow2", q.Size()
	}
	out, err := os.Create(filepath.Join(dir, "disk."+im.Format))
	if err != nil {
		return nil, err
	}
	h := md5.New()
	_, err = source.Copy(ctx, io.MultiWriter(out, h), io.NewSectionReader(f, 0, fi.Size())) // stops when the client goes away
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("copy %s: %w", src, err)
	}
	im.MD5 = hex.EncodeToString(h.Sum(nil))
	return im, nil
}

// QueryImages lists the imported images (name "" for all).
func (b *Backend) QueryImages(ctx context.Context, name string) ([]api.Image, error) {
	var names []string
	if name != "" {
		names = []string{name}
	} else {
		ents, err := os.ReadDir(b.imagesDir())
		if err != nil {
			return nil, internalErr(api.ModImage, "image store", err)
		}
		for _, e := range ents {
			if e.IsDir() && imageNameRE.MatchString(e.Name()) {
				names = append(names, e.Name())
			}
		}
	}
	sort.Strings(names)
	out := []api.Image{}
	for _, n := range names {
		im, err := b.image(n)
		if err != nil {
			return nil, err
		}
		out = append(out, api.Image{ImageName: im.Name, ImageOSDistro: im.OSVersion, MD5Sum: im.MD5,
			DiskSizeUnits:    fmt.Sprintf("%d:CYL", (im.VirtualSize+cylinderBytes-1)/cylinderBytes),
			ImageSizeInBytes: fmt.Sprint(im.SizeBytes), Type: "rootonly", LastAccessTime: im.LastAccess,
			ImagePath: b.imageDisk(im), Comments: im.Format})
	}
	return out, nil
}

// DeleteImage removes an image unless a guest's root disk is an overlay
// on it. An image already gone is not an error.
func (b *Backend) DeleteImage(ctx context.Context, name string) error {
	b.imgMu.Lock()
	defer b.imgMu.Unlock()
	im, err := b.image(name)
	if err != nil && api.AsError(err).OverallRC == 404 {
		return nil
	}
	if err != nil {
		return err
	}
	c, err := b.connect(api.ModImage)
	if err != nil {
		return err
	}
	ids, err := b.listGuests(c)
	if err != nil {
		return lvErr(api.ModImage, "list domains", err)
	}
	var users []string
	for _, id := range ids {
		if _, g, err := b.lookupWith(c, id); err == nil && g.Base == b.imageDisk(im) {
			users = append(users, id)
		}
	}
	if len(users) > 0 {
		return conflict(api.ModImage, 5, "image %s: the root disks of %s are overlays on it; delete those guests first", name, strings.Join(users, ", "))
	}
	if err := os.RemoveAll(b.imageDir(name)); err != nil {
		return internalErr(api.ModImage, "delete image "+name, err)
	}
	b.log.Info("image deleted", "image", name)
	return nil
}

// ImageRootDiskSize is the image's virtual size in 3390 cylinders, the
// unit nova's z/VM driver expects.
func (b *Backend) ImageRootDiskSize(ctx context.Context, name string) (string, error) {
	im, err := b.image(name)
	if err != nil {
		return "", err
	}
	return fmt.Sprint((im.VirtualSize + cylinderBytes - 1) / cylinderBytes), nil
}
