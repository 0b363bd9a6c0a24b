package imagebuild

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/zguest/zguest/builder/imagespec"
	"github.com/zguest/zguest/builder/initrd"
	"github.com/zguest/zguest/udev"
	"github.com/zguest/zguest/units"
)

// Where things go in the image.
const (
	unitDir      = "usr/lib/systemd/system"
	udevDir      = "usr/lib/udev/rules.d"
	cloudCfgFile = "etc/cloud/cloud.cfg.d/90-zguest.cfg"
	// dsIdentifyFile is read by cloud-init's ds-identify.
	dsIdentifyFile = "etc/cloud/ds-identify.cfg"
)

// change is one thing the build did to the tree, for the log.
type change struct{ Path, What string }

// customizer writes into the staged tree through its Root. Every file it
// writes gets the build time (SOURCE_DATE_EPOCH) as its times.
type customizer struct {
	root    *os.Root
	mtime   time.Time
	changes []change
}

func (c *customizer) note(p, what string) { c.changes = append(c.changes, change{"/" + p, what}) }

// mkdirAll creates dir (relative) with 0755 directories owned by whoever
// runs the build; images built as root get root-owned directories.
func (c *customizer) mkdirAll(dir string) error {
	if err := c.root.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("/%s: %w", dir, err)
	}
	return nil
}

// writeFile replaces name with data: written to a temporary name in the
// same directory and renamed over, so a symlink at name is replaced, never
// followed.
func (c *customizer) writeFile(name string, data []byte, mode os.FileMode, what string) error {
	if err := c.mkdirAll(path.Dir(name)); err != nil {
		return err
	}
	tmp := name + ".zguest-tmp"
	_ = c.root.Remove(tmp)
	f, err := c.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode.Perm())
	if err != nil {
		return fmt.Errorf("/%s: %w", name, err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = c.root.Chmod(tmp, mode) // umask and setuid bits
	}
	if err == nil && os.Geteuid() == 0 {
		err = c.root.Lchown(tmp, 0, 0)
		if err == nil {
			err = c.root.Chmod(tmp, mode)
		}
	}
	if err == nil {
		err = c.root.Chtimes(tmp, c.mtime, c.mtime)
	}
	if err == nil {
		if st, lerr := c.root.Lstat(name); lerr == nil && st.IsDir() {
			err = fmt.Errorf("a directory is in the way")
		}
	}
	if err == nil {
		err = c.root.Rename(tmp, name)
	}
	if err != nil {
		_ = c.root.Remove(tmp)
		return fmt.Errorf("/%s: %w", name, err)
	}
	c.note(name, what)
	return nil
}

// symlink makes name point at target, replacing what is there.
func (c *customizer) symlink(target, name, what string) error {
	if err := c.mkdirAll(path.Dir(name)); err != nil {
		return err
	}
	if st, err := c.root.Lstat(name); err == nil {
		if st.IsDir() {
			return fmt.Errorf("/%s: a directory is in the way", name)
		}
		if err := c.root.Remove(name); err != nil {
			return fmt.Errorf("/%s: %w", name, err)
		}
	}
	if err := c.root.Symlink(target, name); err != nil {
		return fmt.Errorf("/%s: %w", name, err)
	}
	c.note(name, what)
	return nil
}

// installAgent puts the agent binary, the units (enabled the way
// systemctl enable would, by their [Install] WantedBy=) and the udev
// rules into the tree.
func (c *customizer) installAgent(agent string) error {
	b, err := os.ReadFile(agent)
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	b, ver, err := agentBinary(b)
	if err != nil {
		return fmt.Errorf("agent %s: %w", agent, err)
	}
	if err := checkS390xELF(b); err != nil {
		return fmt.Errorf("agent %s: %w", agent, err)
	}
	if err := c.writeFile(strings.TrimPrefix(units.AgentPath, "/"), b, 0o755, "zguest-agent"); err != nil {
		return err
	}
	if err := c.writeFile(VersionFile, []byte(ver+"\n"), 0o644, "agent version "+ver); err != nil {
		return err
	}
	ents, err := fs.ReadDir(units.Guest, ".")
	if err != nil {
		return err
	}
	for _, e := range ents {
		data, _ := fs.ReadFile(units.Guest, e.Name())
		if err := c.writeFile(path.Join(unitDir, e.Name()), data, 0o644, "unit"); err != nil {
			return err
		}
		for _, target := range wantedBy(data) {
			if strings.Contains(e.Name(), "@") {
				continue // a template is started by udev, not enabled
			}
			link := path.Join("etc/systemd/system", target+".wants", e.Name())
			if err := c.symlink("/"+path.Join(unitDir, e.Name()), link, "enabled"); err != nil {
				return err
			}
		}
	}
	rules, err := fs.ReadDir(udev.Rules, ".")
	if err != nil {
		return err
	}
	for _, e := range rules {
		data, _ := fs.ReadFile(udev.Rules, e.Name())
		if err := c.writeFile(path.Join(udevDir, e.Name()), data, 0o644, "udev rule"); err != nil {
			return err
		}
	}
	return nil
}

// wantedBy returns the WantedBy= targets of a unit's [Install] section.
func wantedBy(unit []byte) []string {
	var out []string
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(unit))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(l, "["):
			section = l
		case section == "[Install]" && strings.HasPrefix(l, "WantedBy="):
			out = append(out, strings.Fields(strings.TrimPrefix(l, "WantedBy="))...)
		}
	}
	return out
}

// checkS390xELF refuses a binary the guest cannot run.
func checkS390xELF(b []byte) error {
	if len(b) < 20 || string(b[:4]) != "\x7fELF" {
		return errors.New("not an ELF executable")
	}
	if b[4] != 2 || b[5] != 2 || b[18] != 0 || b[19] != 22 { // 64-bit, big-endian, EM_S390
		return errors.New("not a 64-bit s390x executable; build it with `make build-s390x` (bin/s390x/zguest-agent)")
	}
	return nil
}

// cloudInit writes the settings that tell cloud-init where the instance
// data is: the spec's datasources (by default the config drive, and for
// dpm then nova's metadata service), the config drive read locally, and,
// when the metadata service is listed, how ds-identify must treat it.
func (c *customizer) cloudInit(s *imagespec.Spec) error {
	if s.CloudInit.Disabled {
		return nil
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Written by zguest-image for target %s.\n", s.Target)
	switch s.Target {
	case "zvm":
		b.WriteString("# zguest-agent receives the config drive from the z/VM reader and unpacks it\n" +
			"# into /var/lib/cloud/seed/config_drive before cloud-init-local.service.\n")
	case "dpm":
		b.WriteString("# zguest-agent brings the qeth NICs up with the MACs from the kernel command\n" +
			"# line before cloud-init-local.service; cloud-init matches network_data.json by MAC.\n" +
			"# A partition has no reader and no cdrom: without a config drive the instance\n" +
			"# data comes from nova's metadata service over the first NIC.\n")
	default:
		b.WriteString("# The host attaches the config drive (label config-2) as a cdrom or disk.\n")
	}
	openstack := s.CloudInit.HasDatasource("OpenStack")
	if openstack {
		b.WriteString("# The metadata service is asked only when there is no config drive: in\n" +
			"# init-local, cloud-init runs dhclient on the first NIC it finds, reads\n" +
			"# http://169.254.169.254/openstack/ and applies its network_data.json.\n")
	} else {
		b.WriteString("# No network probing of other datasources at boot.\n")
	}
	fmt.Fprintf(&b, "datasource_list: [ %s ]\ndatasource:\n", strings.Join(s.CloudInit.Datasources, ", "))
	b.WriteString("  ConfigDrive:\n    dsmode: local\n")
	if openstack {
		b.WriteString("  OpenStack:\n    metadata_urls: [ \"http://169.254.169.254\" ]\n    apply_network_config: true\n")
	}
	if s.CloudInit.Network == "disabled" {
		b.WriteString("network:\n  config: disabled\n")
	}
	if len(s.CloudInit.Config) > 0 {
		keys := make([]string, 0, len(s.CloudInit.Config))
		for k := range s.CloudInit.Config {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString("# From the image spec's cloud_init.config:\n")
		for _, k := range keys {
			y, err := yaml.Marshal(map[string]any{k: s.CloudInit.Config[k]})
			if err != nil {
				return fmt.Errorf("cloud_init.config.%s: %w", k, err)
			}
			b.Write(y)
		}
	}
	if err := c.writeFile(cloudCfgFile, b.Bytes(), 0o644, "cloud-init settings"); err != nil {
		return err
	}
	if !openstack {
		return nil
	}
	// ds-identify (cloud-init's systemd generator) rates the OpenStack
	// datasource only "maybe" on s390x (no DMI there), and what it does
	// with a "maybe" is its policy's choice; say it.
	return c.writeFile(dsIdentifyFile, []byte(dsIdentifyPolicy), 0o644, "ds-identify policy")
}

// dsIdentifyPolicy makes ds-identify keep a datasource it can only call
// "maybe" (OpenStack on s390x) and never disable cloud-init for lack of
// one. builder/imagespec/README.md has the reasoning.
const dsIdentifyPolicy = "# Written by zguest-image: the OpenStack datasource (nova's metadata service)\n" +
	"# cannot be identified without DMI, which s390x lacks; ds-identify rates it\n" +
	"# \"maybe\". Keep the maybes, and never disable cloud-init when nothing is found.\n" +
	"policy: search,found=all,maybe=all,notfound=enabled\n"

// fstab makes / mount by UUID: the root line is replaced, other lines kept.
func (c *customizer) fstab(uuid string) error {
	old, err := c.root.ReadFile("etc/fstab")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("/etc/fstab: %w", err)
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, "UUID=%s / ext4 errors=remount-ro 0 1\n", uuid)
	for _, l := range strings.SplitAfter(string(old), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && !strings.HasPrefix(f[0], "#") && f[1] == "/" {
			continue
		}
		if strings.Contains(l, "UNCONFIGURED FSTAB") {
			continue
		}
		out.WriteString(l)
	}
	return c.writeFile("etc/fstab", out.Bytes(), 0o644, "root by UUID")
}

// ziplConf writes /etc/zipl.conf so that s390-tools' zipl, run in the
// guest after a kernel update, keeps the disk bootable.
func (c *customizer) ziplConf(image, initrd, params string) error {
	var b strings.Builder
	b.WriteString("# Written by zguest-image. zipl (s390-tools) reads this when it runs in\n" +
		"# the guest, e.g. from the kernel's postinst hook after an update.\n")
	b.WriteString("[defaultboot]\ndefault=linux\ntarget=/boot\n\n[linux]\n")
	fmt.Fprintf(&b, "image=%s\n", image)
	if initrd != "" {
		fmt.Fprintf(&b, "ramdisk=%s\n", initrd)
	}
	fmt.Fprintf(&b, "parameters=%q\n", params)
	return c.writeFile("etc/zipl.conf", []byte(b.String()), 0o644, "zipl configuration")
}

// extraFiles copies the spec's files.
func (c *customizer) extraFiles(files []imagespec.File) error {
	for i, f := range files {
		data := []byte(f.Content)
		if f.Src != "" {
			r, err := os.Open(f.Src)
			if err != nil {
				return fmt.Errorf("files[%d]: %w", i, err)
			}
			data, err = io.ReadAll(r)
			r.Close()
			if err != nil {
				return fmt.Errorf("files[%d]: %w", i, err)
			}
		}
		if err := c.writeFile(strings.TrimPrefix(f.Dst, "/"), data, f.ModeOr(0o644), "from the spec"); err != nil {
			return fmt.Errorf("files[%d]: %w", i, err)
		}
	}
	return nil
}

// bootFiles is the kernel and initrd the boot record loads.
type bootFiles struct {
	Image, Initrd         string // real paths in the tree (no symlinks), absolute
	ImageLink, InitrdLink string // what zipl.conf names (Debian's symlinks when present)
	Version               string
}

// findKernel picks the kernel: the spec's, else /vmlinuz (Debian's
// symlink to the newest), else the newest /boot/vmlinuz-*.
func findKernel(root *os.Root, image, initrd string) (bootFiles, error) {
	var bf bootFiles
	resolve := func(p string) (string, error) {
		p = strings.TrimPrefix(p, "/")
		for range 16 {
			st, err := root.Lstat(p)
			if err != nil {
				return "", err
			}
			if st.Mode()&fs.ModeSymlink == 0 {
				if !st.Mode().IsRegular() {
					return "", fmt.Errorf("/%s is not a regular file", p)
				}
				return "/" + p, nil
			}
			t, err := root.Readlink(p)
			if err != nil {
				return "", err
			}
			if strings.HasPrefix(t, "/") {
				p = strings.TrimPrefix(path.Clean(t), "/")
			} else {
				p = strings.TrimPrefix(path.Clean("/"+path.Join(path.Dir(p), t)), "/")
			}
		}
		return "", fmt.Errorf("/%s: too many symlinks", p)
	}
	if image == "" {
		for _, cand := range []string{"/vmlinuz", "/boot/vmlinuz"} {
			if _, err := resolve(cand); err == nil {
				image = cand
				break
			}
		}
	}
	if image == "" {
		d, err := root.Open("boot")
		if err != nil {
			return bf, fmt.Errorf("no kernel: the tree has no /boot (install a kernel package, e.g. linux-image-s390x)")
		}
		names, _ := d.Readdirnames(-1)
		d.Close()
		var ks []string
		for _, n := range names {
			if strings.HasPrefix(n, "vmlinuz-") || strings.HasPrefix(n, "vmlinux-") || strings.HasPrefix(n, "image-") {
				ks = append(ks, n)
			}
		}
		if len(ks) == 0 {
			return bf, fmt.Errorf("no kernel: /boot has no vmlinuz-* (install a kernel package, e.g. linux-image-s390x)")
		}
		sort.Slice(ks, func(i, j int) bool { return versionLess(ks[i], ks[j]) })
		image = "/boot/" + ks[len(ks)-1]
	}
	real, err := resolve(image)
	if err != nil {
		return bf, fmt.Errorf("kernel.image %s: %w", image, err)
	}
	bf.Image, bf.ImageLink = real, image
	base := path.Base(real)
	if i := strings.IndexByte(base, '-'); i >= 0 {
		bf.Version = base[i+1:]
	}
	if initrd == "" {
		cands := []string{}
		if image == "/vmlinuz" {
			cands = append(cands, "/initrd.img")
		}
		if bf.Version != "" {
			cands = append(cands, "/boot/initrd.img-"+bf.Version, "/boot/initramfs-"+bf.Version+".img", "/boot/initrd-"+bf.Version)
		}
		for _, cand := range cands {
			if _, err := resolve(cand); err == nil {
				initrd = cand
				break
			}
		}
		if initrd == "" {
			return bf, fmt.Errorf("no initrd for kernel %s (looked for %s); an s390x kernel needs one to mount an ext4 root from virtio or FCP", real, strings.Join(cands, ", "))
		}
	}
	realInitrd, err := resolve(initrd)
	if err != nil {
		return bf, fmt.Errorf("kernel.initrd %s: %w", initrd, err)
	}
	bf.Initrd, bf.InitrdLink = realInitrd, initrd
	return bf, nil
}

// versionLess orders kernel file names by their numeric fields.
func versionLess(a, b string) bool {
	fa, fb := strings.FieldsFunc(a, notDigit), strings.FieldsFunc(b, notDigit)
	for i := 0; i < len(fa) && i < len(fb); i++ {
		if len(fa[i]) != len(fb[i]) {
			return len(fa[i]) < len(fb[i])
		}
		if fa[i] != fb[i] {
			return fa[i] < fb[i]
		}
	}
	return len(fa) < len(fb)
}

func notDigit(r rune) bool { return r < '0' || r > '9' }

// fcpIPL makes the initramfs bring the FCP device and LUN the partition
// IPLed from online (rd.zfcp=ipldev, which DPM images need: the LUN is
// known only at boot). The guest's initramfs is not regenerated (that
// would mean running its tools under qemu-user): a small archive is
// appended to it, which the kernel unpacks over the original; the same
// support is installed into the tree so that the guest's own
// update-initramfs or dracut keeps it (builder/initrd).
func (c *customizer) fcpIPL(initrdPath string) (string, error) {
	return c.extendInitrd(initrdPath, "rd.zfcp=ipldev", initrd.ZFCPIPLDev, initrd.GuestFiles)
}

// dasdOnline makes the initramfs bring the DASDs named by rd.dasd= online
// (the root minidisk of a z/VM guest), the same way as fcpIPL.
func (c *customizer) dasdOnline(initrdPath string) (string, error) {
	return c.extendInitrd(initrdPath, "rd.dasd", initrd.DASDOnline, initrd.DASDGuestFiles)
}

// extendInitrd appends the overlay made by overlayFor to the initrd and
// installs guestFiles for the guest's own initramfs generator.
func (c *customizer) extendInitrd(initrdPath, what string, overlayFor func([]byte) ([]byte, string, error), guestFiles func(string) map[string][]byte) (string, error) {
	name := strings.TrimPrefix(initrdPath, "/")
	data, err := c.root.ReadFile(name)
	if err != nil {
		return "", fmt.Errorf("initrd %s: %w", initrdPath, err)
	}
	overlay, kind, err := overlayFor(data)
	if err != nil {
		return "", fmt.Errorf("adding %s support to %s: %w", what, initrdPath, err)
	}
	if len(overlay) > 0 {
		st, err := c.root.Stat(name)
		if err != nil {
			return "", err
		}
		if err := c.writeFile(name, append(data, overlay...), st.Mode().Perm(), what+" support appended"); err != nil {
			return "", err
		}
	}
	files := guestFiles(kind)
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if err := c.writeFile(strings.TrimPrefix(p, "/"), files[p], initrd.GuestFileMode, what+" support"); err != nil {
			return "", err
		}
	}
	return kind, nil
}
