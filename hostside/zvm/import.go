package zvm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/remotehost"
)

// stagingDir is where imports are copied before they are renamed into
// <repo>/netboot/<os_version>/<name>: a partial copy never stands where
// an image would, and Recover removes what a crash left there.
func (b *Backend) stagingDir() string { return filepath.Join(b.c.ImageRepo, ".staging") }

// Journal step of an import.
const stepInPlace = "in-place" // import: the staged directory was renamed to its place

// importStaged copies src into a staging directory of the repository,
// fsyncs it, renames it into place and records the image, journaled as
// "import": a crash at any point leaves nothing after Recover but a
// complete, recorded image or no trace at all.
func (b *Backend) importStaged(ctx context.Context, im api.ImageImport, osv, src string) (err error) {
	name := im.ImageName
	dir := filepath.Join(b.c.ImageRepo, "netboot", osv, name)
	if _, err := os.Lstat(dir); err == nil {
		return &api.Error{OverallRC: 300, ModID: api.ModImage, RC: 300, RS: 4,
			Msg: fmt.Sprintf("image %s: %s exists but no image of that name is recorded; remove it", name, dir)}
	}
	if err := os.MkdirAll(b.stagingDir(), 0o700); err != nil {
		return internalErr(api.ModImage, fmt.Errorf("image repository: %w", err))
	}
	staged := filepath.Join(b.stagingDir(), fmt.Sprintf("%s.%d", name, time.Now().UnixNano()))
	r, err := b.begin(ctx, "import", name, opData{Image: name, Staged: staged, Dest: dir})
	if err != nil {
		return err
	}
	placed := false
	defer func() {
		if errors.Is(err, errCrashed) {
			return
		}
		if err != nil {
			os.RemoveAll(staged)
			if placed {
				os.RemoveAll(dir)
			}
		}
		err = r.endAfter(ctx, err)
	}()
	if err := os.Mkdir(staged, 0o755); err != nil {
		return internalErr(api.ModImage, fmt.Errorf("image repository: %w", err))
	}
	var sum string
	var size int64
	if im.RemoteHost != "" {
		// As the original's FilesystemBackend.image_import: scp from
		// remote_host (nova sends <user>@<my_ip>, its own host).
		if err := remotehost.CheckPath(im.RemoteHost, src); err != nil {
			return &api.Error{OverallRC: 300, ModID: api.ModImage, RC: 300, RS: 11, Msg: fmt.Sprintf("The specified remote_host %s format invalid: %v", im.RemoteHost, err), Err: err}
		}
		if err = b.scpFrom(ctx, im.RemoteHost, src, filepath.Join(staged, "0100")); err == nil {
			sum, size, err = hashFile(filepath.Join(staged, "0100"))
		}
		if err != nil {
			return &api.Error{OverallRC: 300, ModID: api.ModImage, RC: 300, RS: 10, Msg: fmt.Sprintf("Image import error: Copying image file from remote filesystem failed with error %v", err), Err: err}
		}
	} else if sum, size, err = b.copyHash(ctx, src, filepath.Join(staged, "0100")); err != nil {
		return &api.Error{OverallRC: 300, ModID: api.ModImage, RC: 300, RS: 12, Msg: fmt.Sprintf("Import image from local file system failed with error %v", err), Err: err}
	}
	rec := ImageRecord{Name: name, OSVersion: osv, MD5: sum, SizeBytes: size, Path: filepath.Join(staged, "0100"), LastAccess: float64(time.Now().Unix())}
	if err := describe(&rec); err != nil {
		return &api.Error{OverallRC: 300, ModID: api.ModImage, RC: 300, RS: 4, Msg: fmt.Sprintf("image %s: %v", name, err), Err: err}
	}
	if err := r.step(ctx, stepImage); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return internalErr(api.ModImage, fmt.Errorf("image repository: %w", err))
	}
	if err := os.Rename(staged, dir); err != nil {
		return internalErr(api.ModImage, fmt.Errorf("image %s: move into place: %w", name, err))
	}
	placed = true
	syncDir(filepath.Dir(dir))
	syncDir(b.stagingDir())
	if err := r.step(ctx, stepInPlace); err != nil {
		return err
	}
	rec.Path = filepath.Join(dir, "0100")
	if err := b.store.PutImage(ctx, rec); err != nil {
		return internalErr(api.ModImage, err)
	}
	b.log.Info("image imported", "image", rec.Name, "os_version", osv, "format", rec.ImageFormat, "bytes", size)
	return nil
}

// syncDir makes a rename in dir durable; an error only loses durability.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// recoverImport rolls back an import a crash interrupted unless its
// image was recorded: the staged copy and, if it was renamed into place
// but not recorded, the image's directory are removed.
func (b *Backend) recoverImport(ctx context.Context, log *slog.Logger, op Op, d opData) error {
	if d.Staged != "" {
		if err := os.RemoveAll(d.Staged); err != nil {
			return err
		}
	}
	_, ok, err := b.store.Image(ctx, op.Target)
	if err != nil {
		return err
	}
	if ok {
		log.Info("recovery: interrupted import had recorded its image; keeping it")
		return nil
	}
	if d.Dest != "" && strings.HasPrefix(d.Dest, filepath.Clean(b.c.ImageRepo)+string(filepath.Separator)) {
		if err := os.RemoveAll(d.Dest); err != nil {
			return err
		}
	}
	log.Info("recovery: interrupted import rolled back", "image", op.Target)
	return nil
}

// sweepStaging removes whatever is left in the staging directory at
// start: no import is in flight then.
func (b *Backend) sweepStaging() error {
	ents, err := os.ReadDir(b.stagingDir())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("zvm recovery: staging directory: %w", err)
	}
	for _, e := range ents {
		p := filepath.Join(b.stagingDir(), e.Name())
		b.log.Info("recovery: removing a staged import", "path", p)
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("zvm recovery: %w", err)
		}
	}
	return nil
}
