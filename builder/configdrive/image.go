package configdrive

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/zguest/zguest/builder/fileout"
	"github.com/zguest/zguest/builder/fstree"
	"github.com/zguest/zguest/builder/iso9660"
	"github.com/zguest/zguest/builder/vfat"
)

// Label is the volume label cloud-init looks for.
const Label = "config-2"

// Format is the image type.
type Format int

// Image formats.
const (
	ISO9660 Format = iota + 1
	VFAT
)

func (f Format) String() string {
	switch f {
	case ISO9660:
		return "iso9660"
	case VFAT:
		return "vfat"
	}
	return fmt.Sprintf("unknown(%d)", int(f))
}

// ParseFormat accepts "iso9660"/"iso" and "vfat"/"fat".
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "iso9660", "iso":
		return ISO9660, nil
	case "vfat", "fat":
		return VFAT, nil
	}
	return 0, fmt.Errorf("unknown config drive format %q (want iso9660 or vfat)", s)
}

// FormatFromName guesses the format from an output file name.
func FormatFromName(name string) (Format, bool) {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".iso":
		return ISO9660, true
	case ".vfat", ".fat":
		return VFAT, true
	}
	return 0, false
}

// ImageOptions control WriteImage.
type ImageOptions struct {
	Format     Format
	SourceDate time.Time // every timestamp and serial derives from it
	Publisher  string    // ISO publisher id; nova writes "OpenStack Nova <version>"
	NoJoliet   bool      // ISO only: leave out the Joliet tree (nova uses -J)
	Size       int64     // vfat only: volume size, 0 = 64 MiB like nova
	Sync       bool      // fsync before the final rename
	Logger     *slog.Logger
}

// WriteImage writes t as a config drive image to path. The image is built
// under a temporary name in the same directory and renamed into place only
// when complete; on error nothing is left behind.
func WriteImage(path string, t *fstree.Tree, o ImageOptions) (err error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	f, err := fileout.Create(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	var n int64
	switch o.Format {
	case ISO9660:
		n, err = iso9660.WriteFile(f.File, t, iso9660.Options{
			VolumeID:    Label,
			Publisher:   o.Publisher,
			Application: "ZGUEST-IMAGE",
			Joliet:      !o.NoJoliet,
			SourceDate:  o.SourceDate,
		})
	case VFAT:
		n, err = vfat.WriteFile(f.File, t, vfat.Options{Label: Label, Size: o.Size, SourceDate: o.SourceDate})
	default:
		err = fmt.Errorf("unknown config drive format %v", o.Format)
	}
	if err != nil {
		return fmt.Errorf("config drive %s: %w", path, err)
	}
	if err := f.Commit(o.Sync); err != nil {
		return err
	}
	log.Info("config drive written", "path", path, "format", o.Format.String(), "bytes", n, "elapsed", time.Since(start))
	return nil
}
