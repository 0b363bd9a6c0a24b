package zvm_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zguest/zguest/builder/dasd"
	"github.com/zguest/zguest/builder/xcat"
	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/zvm"
)

// levelImage is an image as creatediskimage writes it: the 512-byte
// version 2 header with the level at offset 54, then the payload gzipped
// at that level, or as it is for level 0.
func levelImage(t *testing.T, format string, size int64, level int, payload []byte) []byte {
	t.Helper()
	unit := "CYL"
	if format == zvm.FormatXCATFBA {
		unit = "BLK"
	}
	h := zvm.Header{Format: format, Size: size, Unit: unit, Level: level}
	b := bytes.NewBuffer(h.Bytes())
	if format == zvm.FormatXCATCKD {
		// A CKD payload is the minidisk's tracks in ckdencode's CiKaDa
		// encoding: the payload at the start of a disk of size cylinders.
		disk := make([]byte, size*dasd.CylinderBytes)
		copy(disk, payload)
		var enc bytes.Buffer
		if err := xcat.EncodeTracks(&enc, bytes.NewReader(disk), dasd.Disk{Cylinders: size}); err != nil {
			t.Fatal(err)
		}
		payload = enc.Bytes()
	}
	if level == 0 {
		b.Write(payload)
		return b.Bytes()
	}
	zw, err := gzip.NewWriterLevel(b, level)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(payload)
	zw.Close()
	return b.Bytes()
}

func TestHeaderBytesRoundTrip(t *testing.T) {
	h := zvm.Header{Format: zvm.FormatXCATCKD, Size: 3338, Unit: "CYL", Level: 0}
	b := h.Bytes()
	if len(b) != 512 || string(b[:55]) != "xCAT CKD Disk Image:        3338 CYL HLen: 0055 GZIP: 0" {
		t.Fatalf("%q", b[:60])
	}
	got, err := zvm.ParseHeader(b)
	if err != nil || got != (zvm.Header{Format: zvm.FormatXCATCKD, Size: 3338, Unit: "CYL", Len: 512, Level: 0}) {
		t.Errorf("%+v %v", got, err)
	}
}

// Every gzip level, both kinds: import records the header's size, deploy
// puts the payload on the root minidisk byte for byte.
func TestImportDeployEveryLevel(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	if _, err := r.b.CreateGuest(ctx, spec("LEVELS")); err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{zvm.FormatXCATCKD, zvm.FormatXCATFBA} {
		for level := 0; level <= 9; level++ {
			payload := bytes.Repeat([]byte(fmt.Sprintf("%s level %d|", format, level)), 3000)
			name := fmt.Sprintf("%s-%d", format, level)
			src := filepath.Join(r.dir, name)
			os.WriteFile(src, levelImage(t, format, 20, level, payload), 0o644)
			if err := r.b.ImportImage(ctx, api.ImageImport{ImageName: name, URL: "file://" + src, ImageMeta: map[string]string{"os_version": "rhel9"}}); err != nil {
				t.Fatalf("%s: import: %v", name, err)
			}
			ims, err := r.b.QueryImages(ctx, name)
			wantUnits := "20:CYL"
			if format == zvm.FormatXCATFBA {
				wantUnits = "20:BLK"
			}
			if err != nil || len(ims) != 1 || ims[0].DiskSizeUnits != wantUnits {
				t.Fatalf("%s: %+v %v", name, ims, err)
			}
			if err := r.b.Deploy(ctx, "LEVELS", api.DeploySpec{Image: name}); err != nil {
				t.Fatalf("%s: deploy: %v", name, err)
			}
			path, _, _ := r.sim.DiskPath("LEVELS", "0100")
			disk, _ := os.ReadFile(path)
			if !bytes.HasPrefix(disk, payload) {
				t.Errorf("%s: payload not on the root disk (starts %q)", name, disk[:40])
			}
		}
	}
}

// zvmsdk utils.make_dummy_image writes a 55-byte "z/VM ... Disk Image:"
// header of size 0 and level 0 with no payload.
func TestDummyImage(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	for _, c := range []struct{ kind, unit string }{{"CKD", "CYL"}, {"FBA", "BLK"}} {
		head := fmt.Sprintf("z/VM %s Disk Image:           0 %s", c.kind, c.unit) + " HLen: 0055 GZIP: 0"
		h, err := zvm.ParseHeader([]byte(head))
		if err != nil || h.Size != 0 || h.Level != 0 || h.Len != 512 {
			t.Fatalf("%s: %+v %v", c.kind, h, err)
		}
		src := filepath.Join(r.dir, "dummy"+c.kind)
		os.WriteFile(src, []byte(head), 0o644)
		name := "dummy-" + strings.ToLower(c.kind)
		if err := r.b.ImportImage(ctx, api.ImageImport{ImageName: name, URL: "file://" + src, ImageMeta: map[string]string{"os_version": "rhel9"}}); err != nil {
			t.Fatal(err)
		}
		if n, err := r.b.ImageRootDiskSize(ctx, name); err != nil || n != "0" {
			t.Errorf("%s: root disk size %q %v", name, n, err)
		}
	}
	if _, err := r.b.CreateGuest(ctx, spec("DUMMY")); err != nil {
		t.Fatal(err)
	}
	if err := r.b.Deploy(ctx, "DUMMY", api.DeploySpec{Image: "dummy-ckd"}); err != nil {
		t.Errorf("deploy of the dummy image: %v", err)
	}
}

func TestParseHeaderRefusals(t *testing.T) {
	ok := "xCAT CKD Disk Image:        3338 CYL HLen: 0055 GZIP: "
	for _, c := range []struct{ in, want string }{
		{ok + "x", "gzip level"},
		{"xCAT CKD Disk Image:        3338 BLK HLen: 0055 GZIP: 1", "unit"},
		{"xCAT CKD Disk Image:        3338 CYL HLen: 00x5 GZIP: 1", "HLen"},
		{"xCAT CKD Disk Image:        3338 CYL HLen: 0055 ZIPG: 1", "GZIP"},
		{"xCAT CKD Disk Image:          -1 CYL", "size"},
		{"xCAT CKD Disk Image: 12", "size field needs"},
		{"z/VM FCP Disk Image:           0 BLK", "FCP"},
	} {
		_, err := zvm.ParseHeader([]byte(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v (want %q)", c.in, err, c.want)
		}
	}
	// Version 1 (no HLen) is level 6 with the payload at 36; HLen without
	// GZIP is level 6 too.
	for _, c := range []struct {
		in         string
		len, level int
	}{
		{"xCAT FBA Disk Image:     2097152 BLK", 36, 6},
		{"xCAT FBA Disk Image:     2097152 BLK HLen: 0047", 512, 6},
		{"xCAT FBA Disk Image:     2097152 BLK HLen: 0600 GZIP: 3", 1024, 3},
	} {
		h, err := zvm.ParseHeader([]byte(c.in))
		if err != nil || h.Len != c.len || h.Level != c.level {
			t.Errorf("%q: %+v %v", c.in, h, err)
		}
	}
}
