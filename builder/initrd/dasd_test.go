package initrd

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func itoolsDASDInitrd(t testing.TB, withDASD bool) []byte {
	fs := itoolsFiles(false)
	if withDASD {
		fs = append(fs, dir("usr/lib/modules/6.1.0-50-s390x/kernel/drivers/s390/block"),
			reg("usr/lib/modules/6.1.0-50-s390x/kernel/drivers/s390/block/dasd_eckd_mod.ko.xz", "\xfd7zXZ fake"))
	}
	return append(earlyCpio(t), zstdFrames(t, mustArchive(t, fs), 2)...)
}

func TestDASDOnlineInitramfsTools(t *testing.T) {
	in := itoolsDASDInitrd(t, true)
	overlay, kind, err := DASDOnline(in)
	if err != nil {
		t.Fatal(err)
	}
	if kind != KindInitramfsTools {
		t.Errorf("kind = %q", kind)
	}
	om := checkOverlay(t, overlay)
	if e := om["scripts/local-top/zguest_dasd"]; !e.IsRegular() || e.Mode&0o111 == 0 || !bytes.Equal(e.Data, dasdScript) {
		t.Errorf("script entry %+v", e)
	}
	order := string(om[orderPath].Data)
	if !strings.HasPrefix(order, origOrder) || !strings.Contains(order, "/scripts/local-top/zguest_dasd \"$@\"\n") {
		t.Errorf("ORDER:\n%s", order)
	}
	// The kernel unpacks the overlay over the original (the merged view);
	// initramfs-tools' own lister reads the overlay alone.
	es, err := List(append(append([]byte{}, in...), overlay...))
	if err != nil {
		t.Fatal(err)
	}
	if e := Merged(es)["scripts/local-top/zguest_dasd"]; !bytes.Equal(e.Data, dasdScript) {
		t.Errorf("merged initramfs lacks the script")
	}
	if out := lsinitramfs(t, overlay); out != "scripts/local-top/zguest_dasd\nscripts/local-top/ORDER\n" {
		t.Errorf("lsinitramfs of the overlay:\n%s", out)
	}
	if files := DASDGuestFiles(kind); len(files) != 2 || !bytes.Equal(files[GuestDASDScript], dasdScript) || !bytes.Equal(files[GuestDASDHook], dasdHook) {
		t.Errorf("guest files %v", files)
	}
}

func TestDASDOnlineDracut(t *testing.T) {
	fs := []File{
		dir("."), dir("usr"), dir("usr/lib"), dir("usr/lib/dracut"), dir("usr/lib/dracut/hooks"), dir("usr/lib/dracut/hooks/cmdline"),
		exe("usr/lib/dracut/hooks/cmdline/95-parse-dasd-mod.sh", "#!/bin/sh\n"), exe("init", "#!/usr/lib/systemd/systemd\n"),
	}
	overlay, kind, err := DASDOnline(append(earlyCpio(t), gz(t, mustArchive(t, fs))...))
	if err != nil || kind != KindDracut || overlay != nil {
		t.Errorf("dracut with 95dasd_mod: overlay %d bytes, kind %q, err %v; want none, dracut, nil", len(overlay), kind, err)
	}
	if DASDGuestFiles(kind) != nil {
		t.Error("guest files for dracut")
	}
	_, _, err = DASDOnline(dracutInitrd(t, ""))
	if err == nil || !strings.Contains(err.Error(), "95dasd_mod") {
		t.Errorf("dracut without dasd_mod: %v", err)
	}
	_, _, err = DASDOnline(itoolsDASDInitrd(t, false))
	if err == nil || !strings.Contains(err.Error(), "dasd_eckd_mod") {
		t.Errorf("initramfs-tools without the driver: %v", err)
	}
}

// TestDASDScript runs the local-top script against an emulated /proc and
// /sys: an offline DASD is set online, an online virtio device is left
// alone, a missing device and a bad bus ID are reported, and nothing
// happens without rd.dasd.
func TestDASDScript(t *testing.T) {
	script := filepath.Join(t.TempDir(), dasdScriptName)
	if err := os.WriteFile(script, dasdScript, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, shell := range shells(t) {
		f := newFakeRoot(t, rootOpts{cmdline: "root=UUID=x rd.dasd=0.0.0100,0.0.0200 rd.dasd=0.0.0300 rd.dasd=0.0.01a0-0.0.01a3 quiet", cioIgnore: true})
		f.write("sys/bus/ccw/devices/0.0.0100/online", "0\n")
		os.MkdirAll(filepath.Join(f.root, "sys/bus/ccw/drivers/dasd-eckd"), 0o755)
		os.Symlink("../../../bus/ccw/drivers/dasd-eckd", filepath.Join(f.root, "sys/bus/ccw/devices/0.0.0100/driver"))
		f.write("sys/bus/ccw/devices/0.0.0200/online", "1\n")
		env := []string{"PATH=" + f.bin + ":/usr/bin:/bin", "ZGUEST_SYSROOT=" + f.root, "ZGUEST_DASD_WAIT=1"}
		out := runShell(t, shell, env, script)
		if got := f.read("sys/bus/ccw/devices/0.0.0100/online"); got != "1\n" {
			t.Errorf("%s: 0.0.0100 online = %q", shell, got)
		}
		if got := f.read("sys/bus/ccw/devices/0.0.0200/online"); got != "1\n" {
			t.Errorf("%s: 0.0.0200 online = %q", shell, got)
		}
		for _, want := range []string{"0.0.0100 set online (driver dasd-eckd)", "0.0.0200 is online (driver none)",
			"0.0.0300: no such CCW device", "rd.dasd=0.0.01a0-0.0.01a3: not a bus ID"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: output lacks %q:\n%s", shell, want, out)
			}
		}
		calls := f.calls()
		for _, want := range []string{"modprobe -q dasd_eckd_mod", "cio_ignore -r 0.0.0100", "udevadm settle"} {
			if !strings.Contains(calls, want) {
				t.Errorf("%s: calls lack %q:\n%s", shell, want, calls)
			}
		}
		g := newFakeRoot(t, rootOpts{cmdline: "root=UUID=x"})
		if out := runShell(t, shell, []string{"PATH=" + g.bin + ":/usr/bin:/bin", "ZGUEST_SYSROOT=" + g.root}, script); out != "" || g.calls() != "" {
			t.Errorf("%s: without rd.dasd: output %q, calls %q", shell, out, g.calls())
		}
	}
}
