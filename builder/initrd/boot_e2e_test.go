package initrd_test

import (
	"archive/tar"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zguest/zguest/builder/initrd"
	"github.com/zguest/zguest/internal/imagefixture"
	"github.com/zguest/zguest/internal/testutil"
)

// kernelAndInitrd returns the kernel and initramfs of the Debian 12 s390x
// root file system fixture, or those named by ZGUEST_TEST_KERNEL and
// ZGUEST_TEST_INITRD.
func kernelAndInitrd(t *testing.T) (kernel string, img []byte) {
	if k, i := os.Getenv("ZGUEST_TEST_KERNEL"), os.Getenv("ZGUEST_TEST_INITRD"); k != "" && i != "" {
		b, err := os.ReadFile(i)
		if err != nil {
			t.Fatal(err)
		}
		return k, b
	}
	testutil.RequireTool(t, "qemu-system-s390x")
	tarPath := imagefixture.RootfsTar(t)
	f, err := os.Open(tarPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	kernel = filepath.Join(t.TempDir(), "vmlinuz")
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name := path.Clean("/" + h.Name)
		switch {
		case h.Typeflag == tar.TypeReg && strings.HasPrefix(name, "/boot/vmlinuz-"):
			b, _ := io.ReadAll(tr)
			if err := os.WriteFile(kernel, b, 0o644); err != nil {
				t.Fatal(err)
			}
		case h.Typeflag == tar.TypeReg && strings.HasPrefix(name, "/boot/initrd.img-"):
			img, _ = io.ReadAll(tr)
		}
	}
	if img == nil {
		t.Fatalf("%s has no /boot/initrd.img-*", tarPath)
	}
	return kernel, img
}

// TestBootDebianInitrdWithOverlay appends the rd.zfcp=ipldev overlay to the
// real Debian 12 s390x initramfs (zstd, made by initramfs-tools) and boots
// it under qemu-system-s390x: the kernel must unpack the appended archive,
// initramfs-tools must run our local-top script from the new ORDER (its log
// line shows), and, qemu's -kernel boot not being an FCP IPL, the script
// must do nothing else and let the boot go on to wait for the root device.
func TestBootDebianInitrdWithOverlay(t *testing.T) {
	kernel, img := kernelAndInitrd(t)
	overlay, kind, err := initrd.ZFCPIPLDev(img)
	if err != nil {
		t.Fatal(err)
	}
	if kind != initrd.KindInitramfsTools {
		t.Fatalf("kind %q", kind)
	}
	es, err := initrd.List(append(append([]byte{}, img...), overlay...))
	if err != nil {
		t.Fatal(err)
	}
	order := string(initrd.Merged(es)["scripts/local-top/ORDER"].Data)
	t.Logf("new ORDER:\n%s", order)
	combined := filepath.Join(t.TempDir(), "initrd.img")
	if err := os.WriteFile(combined, append(img, overlay...), 0o644); err != nil {
		t.Fatal(err)
	}
	const want = "zguest_zfcp_ipldev: rd.zfcp=ipldev: IPL type is"
	args := []string{"-m", "1024", "-kernel", kernel, "-initrd", combined,
		"-append", "console=ttysclp0 rd.zfcp=ipldev root=/dev/disk/by-uuid/00000000-0000-0000-0000-000000000000 rootdelay=1 panic=1"}
	c, err := imagefixture.BootQEMU(t, args, filepath.Join(t.TempDir(), "console.log"), 4*time.Minute, func(ls []imagefixture.Line) bool {
		return imagefixture.Index(ls, "Gave up waiting for root") >= 0
	})
	lines := c.Lines()
	if i := imagefixture.Index(lines, want); i < 0 {
		t.Errorf("console has no %q (boot: %v):\n%s", want, err, imagefixture.Tail(lines, 60))
	} else {
		t.Logf("console: %s", lines[i].Text)
	}
	if err != nil {
		t.Errorf("boot: %v\n%s", err, imagefixture.Tail(lines, 40))
	}
}
