package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/zguest/zguest/builder/configdrive"
	"github.com/zguest/zguest/builder/fstree"
)

// defaultSourceDate is used when neither --source-date-epoch nor
// SOURCE_DATE_EPOCH is given, so that the same input always gives the same
// image. It is the earliest date FAT can store.
var defaultSourceDate = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

func (e *env) configdrive(args []string) error {
	fs := e.newFlags("configdrive", "configdrive (--from-json instance.json | --from-dir tree) -o drive.iso|drive.vfat [options]")
	fromJSON := fs.String("from-json", "", "instance data as JSON (fields of configdrive.Instance)")
	fromDir := fs.String("from-dir", "", "an existing config drive tree, used unchanged")
	out := fs.String("o", "", "output image; the format follows the extension (.iso, .vfat) unless --format is given")
	format := fs.String("format", "", "iso9660 or vfat")
	epoch := fs.String("source-date-epoch", os.Getenv("SOURCE_DATE_EPOCH"), "Unix time for every timestamp and serial (default $SOURCE_DATE_EPOCH, else 1980-01-01)")
	publisher := fs.String("publisher", "zguest", "ISO publisher id (nova writes \"OpenStack Nova <version>\")")
	noJoliet := fs.Bool("no-joliet", false, "ISO: leave out the Joliet tree (needed for names over 64 characters)")
	size := fs.Int64("size", 0, "vfat: volume size in bytes (default 64 MiB, like nova)")
	sync := fs.Bool("sync", false, "fsync the image before renaming it into place")
	verbose := fs.Bool("v", false, "log progress to stderr")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if (*fromJSON == "") == (*fromDir == "") {
		return fmt.Errorf("%w: give exactly one of --from-json and --from-dir", errUsage)
	}
	if *out == "" {
		return fmt.Errorf("%w: -o is required", errUsage)
	}
	var f configdrive.Format
	if *format != "" {
		var err error
		if f, err = configdrive.ParseFormat(*format); err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
	} else {
		var ok bool
		if f, ok = configdrive.FormatFromName(*out); !ok {
			return fmt.Errorf("%w: cannot tell the format from %q; use --format iso9660|vfat", errUsage, *out)
		}
	}
	date := defaultSourceDate
	if *epoch != "" {
		sec, err := strconv.ParseInt(*epoch, 10, 64)
		if err != nil {
			return fmt.Errorf("%w: source date epoch %q is not an integer", errUsage, *epoch)
		}
		date = time.Unix(sec, 0).UTC()
	}

	var tree *fstree.Tree
	if *fromJSON != "" {
		b, err := os.ReadFile(*fromJSON)
		if err != nil {
			return err
		}
		var in configdrive.Instance
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			return fmt.Errorf("%s: %w: %v", *fromJSON, configdrive.ErrInvalid, err)
		}
		if tree, err = configdrive.Build(&in); err != nil {
			return fmt.Errorf("%s: %w", *fromJSON, err)
		}
	} else {
		var err error
		if tree, err = fstree.FromDir(*fromDir); err != nil {
			return fmt.Errorf("%s: %w", *fromDir, err)
		}
		if err := configdrive.CheckTree(tree); err != nil {
			return fmt.Errorf("%s: %w", *fromDir, err)
		}
	}
	return configdrive.WriteImage(*out, tree, configdrive.ImageOptions{
		Format:     f,
		SourceDate: date,
		Publisher:  *publisher,
		NoJoliet:   *noJoliet,
		Size:       *size,
		Sync:       *sync,
		Logger:     e.logger(*verbose),
	})
}
