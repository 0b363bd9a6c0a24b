package initrd

import (
	_ "embed"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Kinds of initramfs generators, as returned by Detect.
const (
	KindInitramfsTools = "initramfs-tools" // Debian, Ubuntu
	KindDracut         = "dracut"          // RHEL, Fedora, SUSE
)

// Detect tells which tool generated the initramfs whose entries are given.
func Detect(entries []Entry) (string, error) {
	m := Merged(entries)
	itools := m["conf/initramfs.conf"].IsRegular() && m["init"].IsRegular() &&
		(m["scripts/local-top"].IsDir() || m["scripts/functions"].IsRegular())
	dracut := false
	for n := range m {
		if hasDirPrefix(n, "usr/lib/dracut") || hasDirPrefix(n, "lib/dracut") || hasDirPrefix(n, "var/lib/dracut/hooks") {
			dracut = true
			break
		}
	}
	switch {
	case itools && dracut:
		return "", errors.New("initramfs has markers of both initramfs-tools (conf/initramfs.conf) and dracut (lib/dracut); cannot tell how to extend it")
	case itools:
		return KindInitramfsTools, nil
	case dracut:
		return KindDracut, nil
	}
	return "", errors.New("initramfs was made by neither initramfs-tools (no conf/initramfs.conf, init and scripts/) nor dracut (no usr/lib/dracut or lib/dracut); only those two are supported")
}

func hasDirPrefix(n, dir string) bool { return n == dir || strings.HasPrefix(n, dir+"/") }

// The boot-time scripts. Each file carries a header comment on what it does.
var (
	//go:embed zguest_zfcp_ipldev.sh
	itoolsScript []byte
	//go:embed zguest_zfcp_hook.sh
	itoolsHook []byte
	//go:embed parse-zfcp.sh
	dracutHook []byte
	//go:embed module-setup.sh
	dracutModuleSetup []byte
)

const (
	itoolsScriptName = "zguest_zfcp_ipldev"
	orderPath        = "scripts/local-top/ORDER"
	orderParamLine   = "[ -e /conf/param.conf ] && . /conf/param.conf"
)

var (
	zfcpModule     = regexp.MustCompile(`^(usr/)?lib/modules/[^/]+/kernel/drivers/s390/scsi/zfcp\.ko(\.(gz|xz|zst|bz2|lz4))?$`)
	modulesBuiltin = regexp.MustCompile(`^(usr/)?lib/modules/[^/]+/modules\.builtin$`)
	dracutZfcpHook = regexp.MustCompile(`^(usr/|var/)?lib/dracut/hooks/cmdline/[0-9]+-parse-zfcp\.sh$`)
)

// ZFCPIPLDev returns a gzip-compressed newc cpio archive that, appended to
// the initramfs image initrd, makes it bring the FCP IPL device and LUN
// online when the kernel command line has rd.zfcp=ipldev (DPM partitions
// boot from an FCP LUN that is only known at IPL time), and the kind of the
// initramfs (KindInitramfsTools or KindDracut).
//
// For initramfs-tools it adds scripts/local-top/zguest_zfcp_ipldev and a
// scripts/local-top/ORDER that runs it after the original scripts. For
// dracut it replaces the cmdline hook of the zfcp module (95zfcp) with one
// that expands "ipldev" from /sys/firmware/ipl.
func ZFCPIPLDev(initrd []byte) (overlay []byte, kind string, err error) {
	lim := DefaultLimits
	lim.Keep = func(n string) bool {
		return n == orderPath || modulesBuiltin.MatchString(n) || dracutZfcpHook.MatchString(n)
	}
	entries, err := ListLimits(initrd, lim)
	if err != nil {
		return nil, "", fmt.Errorf("rd.zfcp=ipldev support: reading the initramfs: %w", err)
	}
	kind, err = Detect(entries)
	if err != nil {
		return nil, "", fmt.Errorf("rd.zfcp=ipldev support: %w", err)
	}
	m := Merged(entries)
	exists := func(d string) bool { _, ok := m[d]; return ok }
	var files []File
	switch kind {
	case KindInitramfsTools:
		files, err = itoolsOverlay(m)
	case KindDracut:
		files, err = dracutOverlay(m)
	}
	if err != nil {
		return nil, kind, fmt.Errorf("rd.zfcp=ipldev support for %s initramfs: %w", kind, err)
	}
	overlay, err = GzipArchive(withParents(files, exists))
	if err != nil {
		return nil, kind, fmt.Errorf("rd.zfcp=ipldev support: writing the archive: %w", err)
	}
	return overlay, kind, nil
}

func itoolsOverlay(m map[string]Entry) ([]File, error) {
	if !hasZfcp(m) {
		return nil, errors.New("the initramfs lacks the zfcp driver (no lib/modules/*/kernel/drivers/s390/scsi/zfcp.ko*), so it cannot reach an FCP root disk; in the guest set MODULES=most in /etc/initramfs-tools/initramfs.conf or add zfcp to /etc/initramfs-tools/modules, run update-initramfs -u, and build again")
	}
	order := []byte{}
	mode := uint32(ModeRegular | 0o644)
	if e, ok := m[orderPath]; ok {
		if !e.IsRegular() || e.Data == nil {
			return nil, fmt.Errorf("%s in the initramfs is not a regular file of at most %d bytes", orderPath, DefaultLimits.MaxData)
		}
		order, mode = e.Data, ModeRegular|(e.Mode&0o7777)
	}
	return []File{
		{Name: "scripts/local-top/" + itoolsScriptName, Mode: ModeRegular | 0o755, Data: itoolsScript},
		{Name: orderPath, Mode: mode, Data: appendOrder(order)},
	}, nil
}

// appendOrder adds the lines cache_run_scripts (initramfs-tools
// hook-functions) writes for our script to an ORDER file, keeping every
// original line; it is idempotent.
func appendOrder(order []byte) []byte { return appendOrderFor(order, itoolsScriptName) }

// appendOrderFor is appendOrder for the local-top script name.
func appendOrderFor(order []byte, name string) []byte {
	line := "/scripts/local-top/" + name + ` "$@"`
	for _, l := range strings.Split(string(order), "\n") {
		if l == line {
			return order
		}
	}
	out := append([]byte{}, order...)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	return append(out, line+"\n"+orderParamLine+"\n"...)
}

func hasZfcp(m map[string]Entry) bool {
	for n, e := range m {
		if zfcpModule.MatchString(n) {
			return true
		}
		if modulesBuiltin.MatchString(n) && strings.Contains(string(e.Data), "kernel/drivers/s390/scsi/zfcp.ko") {
			return true
		}
	}
	return false
}

func dracutOverlay(m map[string]Entry) ([]File, error) {
	var hooks []string
	for n, e := range m {
		if dracutZfcpHook.MatchString(n) && !e.IsDir() {
			hooks = append(hooks, n)
		}
	}
	sort.Strings(hooks)
	var other []string
	for _, n := range hooks {
		e := m[n]
		if !e.IsRegular() {
			other = append(other, n+" (not a regular file)")
			continue
		}
		// 95zfcp's hook writes /etc/zfcp.conf and calls zfcp_cio_free;
		// s390-tools' 95zdev and SUSE's zfcp_rules hooks of the same name
		// work differently and are left alone.
		if !strings.Contains(string(e.Data), "zfcp.conf") || !strings.Contains(string(e.Data), "zfcp_cio_free") {
			other = append(other, n)
			continue
		}
		return []File{{Name: n, Mode: ModeRegular | (e.Mode & 0o7777), Data: dracutHook}}, nil
	}
	if len(other) > 0 {
		return nil, fmt.Errorf("the initramfs has no parse-zfcp hook of dracut's zfcp module (95zfcp), only %s from another module (s390-tools zdev or SUSE zfcp_rules), which zguest cannot extend; in the guest add the zfcp dracut module (add_dracutmodules+=\" zfcp \" in /etc/dracut.conf.d/), run dracut -f, and build again", strings.Join(other, ", "))
	}
	return nil, errors.New("the initramfs has no parse-zfcp cmdline hook, so dracut's zfcp module (95zfcp) is not included and rd.zfcp= is ignored; in the guest add it (add_dracutmodules+=\" zfcp \" in /etc/dracut.conf.d/ and, for a generic image, install dracut-config-generic), run dracut -f, and build again")
}

// Paths installed into the guest by GuestFiles.
const (
	GuestItoolsScript     = "/etc/initramfs-tools/scripts/local-top/" + itoolsScriptName
	GuestItoolsHook       = "/etc/initramfs-tools/hooks/zguest_zfcp"
	GuestDracutModuleDir  = "/usr/lib/dracut/modules.d/96zguest-zfcp"
	GuestDracutModSetup   = GuestDracutModuleDir + "/module-setup.sh"
	GuestDracutParseHook  = GuestDracutModuleDir + "/parse-zfcp.sh"
	guestScriptPermission = 0o755
)

// GuestFiles returns the files (absolute path in the guest's root → content,
// all scripts to be installed with mode 0755) that make the guest's own
// initramfs generator keep rd.zfcp=ipldev support when it regenerates the
// initramfs (kernel updates), for kind KindInitramfsTools or KindDracut. It
// returns nil for another kind.
//
// initramfs-tools copies /etc/initramfs-tools/scripts/* into the initramfs
// and regenerates ORDER; the hook adds the zfcp module. For dracut, module
// 96zguest-zfcp depends on zfcp and installs its hook under the same name as
// 95zfcp's (cmdline/30-parse-zfcp.sh), replacing it.
func GuestFiles(kind string) map[string][]byte {
	switch kind {
	case KindInitramfsTools:
		return map[string][]byte{GuestItoolsScript: itoolsScript, GuestItoolsHook: itoolsHook}
	case KindDracut:
		return map[string][]byte{GuestDracutModSetup: dracutModuleSetup, GuestDracutParseHook: dracutHook}
	}
	return nil
}

// GuestFileMode is the permission GuestFiles' files are installed with.
const GuestFileMode = guestScriptPermission
