package initrd

import (
	_ "embed"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

var (
	//go:embed zguest_dasd.sh
	dasdScript []byte
	//go:embed zguest_dasd_hook.sh
	dasdHook []byte
)

const dasdScriptName = "zguest_dasd"

var (
	dasdModule    = regexp.MustCompile(`^(usr/)?lib/modules/[^/]+/kernel/drivers/s390/block/dasd_eckd_mod\.ko(\.(gz|xz|zst|bz2|lz4))?$`)
	dracutDASDMod = regexp.MustCompile(`^(usr/|var/)?lib/dracut/hooks/cmdline/[0-9]+-parse-dasd-mod\.sh$`)
)

// Paths of the DASD support installed into the guest by DASDGuestFiles.
const (
	GuestDASDScript = "/etc/initramfs-tools/scripts/local-top/" + dasdScriptName
	GuestDASDHook   = "/etc/initramfs-tools/hooks/" + dasdScriptName
)

// DASDOnline returns a gzip-compressed newc cpio archive that, appended to
// the initramfs image initrd, makes it bring the DASDs named by rd.dasd=
// on the kernel command line online before it looks for the root file
// system (a z/VM guest's root minidisk), and the initramfs kind.
//
// For initramfs-tools it adds scripts/local-top/zguest_dasd and its line in
// scripts/local-top/ORDER. A dracut initramfs handles rd.dasd= itself
// (module 95dasd_mod): the archive is empty, and an initramfs without that
// module is an error.
func DASDOnline(initrd []byte) (overlay []byte, kind string, err error) {
	lim := DefaultLimits
	lim.Keep = func(n string) bool { return n == orderPath || modulesBuiltin.MatchString(n) }
	entries, err := ListLimits(initrd, lim)
	if err != nil {
		return nil, "", fmt.Errorf("rd.dasd support: reading the initramfs: %w", err)
	}
	kind, err = Detect(entries)
	if err != nil {
		return nil, "", fmt.Errorf("rd.dasd support: %w", err)
	}
	m := Merged(entries)
	if kind == KindDracut {
		for n := range m {
			if dracutDASDMod.MatchString(n) {
				return nil, kind, nil
			}
		}
		return nil, kind, errors.New("rd.dasd support: the dracut initramfs has no parse-dasd-mod cmdline hook, so dracut's dasd_mod module (95dasd_mod) is not included and rd.dasd= would be ignored; in the guest add it (add_dracutmodules+=\" dasd_mod \" in /etc/dracut.conf.d/), run dracut -f, and build again")
	}
	if !hasModule(m, dasdModule, "kernel/drivers/s390/block/dasd_eckd_mod.ko") {
		return nil, kind, errors.New("rd.dasd support: the initramfs lacks the ECKD DASD driver (no lib/modules/*/kernel/drivers/s390/block/dasd_eckd_mod.ko*); in the guest add dasd_eckd_mod to /etc/initramfs-tools/modules, run update-initramfs -u, and build again")
	}
	order := []byte{}
	mode := uint32(ModeRegular | 0o644)
	if e, ok := m[orderPath]; ok {
		if !e.IsRegular() || e.Data == nil {
			return nil, kind, fmt.Errorf("rd.dasd support: %s in the initramfs is not a regular file of at most %d bytes", orderPath, DefaultLimits.MaxData)
		}
		order, mode = e.Data, ModeRegular|(e.Mode&0o7777)
	}
	files := []File{
		{Name: "scripts/local-top/" + dasdScriptName, Mode: ModeRegular | 0o755, Data: dasdScript},
		{Name: orderPath, Mode: mode, Data: appendOrderFor(order, dasdScriptName)},
	}
	exists := func(d string) bool { _, ok := m[d]; return ok }
	overlay, err = GzipArchive(withParents(files, exists))
	if err != nil {
		return nil, kind, fmt.Errorf("rd.dasd support: writing the archive: %w", err)
	}
	return overlay, kind, nil
}

func hasModule(m map[string]Entry, re *regexp.Regexp, builtin string) bool {
	for n, e := range m {
		if re.MatchString(n) {
			return true
		}
		if modulesBuiltin.MatchString(n) && strings.Contains(string(e.Data), builtin) {
			return true
		}
	}
	return false
}

// DASDGuestFiles returns the files (absolute path in the guest → content,
// installed with GuestFileMode) that keep rd.dasd support when the guest's
// initramfs-tools regenerates the initramfs; nil for dracut, which has its
// own.
func DASDGuestFiles(kind string) map[string][]byte {
	if kind == KindInitramfsTools {
		return map[string][]byte{GuestDASDScript: dasdScript, GuestDASDHook: dasdHook}
	}
	return nil
}
