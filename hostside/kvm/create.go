package kvm

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/digitalocean/go-libvirt"

	"github.com/zguest/zguest/builder/configdrive"
	"github.com/zguest/zguest/hostside/api"
)

// Guest memory bounds, MiB: s390x Linux needs about 256 MiB to boot a
// distribution kernel and initramfs.
const minMemoryMB = 256

// CreateGuest defines the guest's domain (no root disk yet: Deploy adds
// it) and makes its data disks: disk_list's boot disk sets the root
// disk's minimum size, every other entry becomes a qcow2 data disk.
func (b *Backend) CreateGuest(ctx context.Context, gs api.GuestSpec) ([]api.Disk, error) {
	ctx, cancel := opContext(ctx, "create", b.cfg.Timeouts.Create)
	defer cancel()
	if !userIDRE.MatchString(gs.UserID) {
		return nil, inputErr(api.ModGuest, "userid %q: want 1-8 upper-case letters and digits", gs.UserID)
	}
	if gs.VCPUs < 1 || gs.VCPUs > b.maxVCPUs {
		return nil, exhausted(1, "vcpus %d for %s: want 1 to %d (this host's limit)", gs.VCPUs, gs.UserID, b.maxVCPUs)
	}
	if gs.MaxCPU != 0 && gs.MaxCPU < gs.VCPUs {
		return nil, inputErr(api.ModGuest, "max_cpu %d is below vcpus %d", gs.MaxCPU, gs.VCPUs)
	}
	if gs.Memory < minMemoryMB || gs.Memory > b.maxMemMB {
		return nil, exhausted(2, "memory %d MiB for %s: want %d to %d MiB (this host's limit)", gs.Memory, gs.UserID, minMemoryMB, b.maxMemMB)
	}
	if len(gs.DedicateVdevs) > 0 {
		return nil, unsupported("dedicate_vdevs")
	}
	g := &GuestMeta{UserID: gs.UserID, VCPUs: gs.VCPUs, MemoryMB: gs.Memory,
		Created: b.cfg.Now().UTC().Format(time.RFC3339), Dir: b.guestDir(gs.UserID)}
	out := make([]api.Disk, len(gs.DiskList))
	boot := false
	for i, d := range gs.DiskList {
		out[i] = d
		size, err := parseSize(d.Size)
		if err != nil {
			return nil, inputErr(api.ModGuest, "disk_list[%d] of %s: %v", i, gs.UserID, err)
		}
		if d.IsBootDisk {
			if boot {
				return nil, inputErr(api.ModGuest, "disk_list of %s: more than one boot disk", gs.UserID)
			}
			boot = true
			g.RootSize = size
			out[i].Vdev = fmt.Sprintf("%04X", devnoRoot)
			continue
		}
		devno := fmt.Sprintf("%04x", devnoRoot+1+len(g.Disks))
		if d.Vdev != "" {
			v, err := parseDevNo(d.Vdev)
			n, _ := strconv.ParseUint(v, 16, 16)
			if err != nil || n <= devnoRoot || n >= devnoRoot+1+maxDataDisks {
				return nil, inputErr(api.ModGuest, "disk_list[%d] of %s: vdev %q: want %04X-%04X", i, gs.UserID, d.Vdev, devnoRoot+1, devnoRoot+maxDataDisks)
			}
			devno = v
		}
		if len(g.Disks) == maxDataDisks || slices.ContainsFunc(g.Disks, func(m MetaDisk) bool { return m.DevNo == devno }) {
			return nil, inputErr(api.ModGuest, "disk_list of %s: too many disks or vdev %s twice (at most %d data disks)", gs.UserID, devno, maxDataDisks)
		}
		g.Disks = append(g.Disks, MetaDisk{DevNo: devno, File: filepath.Join(g.Dir, "disk-"+devno+".qcow2"), Size: size})
		out[i].Vdev = strings.ToUpper(devno)
	}
	c, err := b.connect(api.ModGuest)
	if err != nil {
		return nil, err
	}
	if _, err := c.DomainLookupByName(b.DomainName(gs.UserID)); err == nil {
		return nil, guestExists(gs.UserID)
	} else if !libvirt.IsNotFound(err) {
		return nil, lvErr(api.ModGuest, "look up "+gs.UserID, err)
	}
	// A directory without a domain is a leftover of an interrupted call.
	if err := os.RemoveAll(g.Dir); err != nil {
		return nil, internalErr(api.ModGuest, "clear "+g.Dir, err)
	}
	if err := os.MkdirAll(g.Dir, 0o750); err != nil {
		return nil, internalErr(api.ModGuest, "guest directory", err)
	}
	fail := func(err error) ([]api.Disk, error) {
		if rerr := os.RemoveAll(g.Dir); rerr != nil {
			b.log.Warn("cannot remove the directory of a failed create", "dir", g.Dir, "error", rerr)
		}
		return nil, err
	}
	for _, d := range g.Disks {
		if _, err := b.cfg.Run(ctx, b.cfg.QemuImg, "create", "-q", "-f", "qcow2", d.File, strconv.FormatInt(d.Size, 10)); err != nil {
			return fail(internalErr(api.ModGuest, fmt.Sprintf("data disk %s of %s", d.DevNo, gs.UserID), err))
		}
	}
	if _, err := b.define(c, newUUID(), g); err != nil {
		return fail(err)
	}
	b.log.Info("guest created", "userid", gs.UserID, "domain", b.DomainName(gs.UserID), "vcpus", gs.VCPUs, "memory_mb", gs.Memory, "data_disks", len(g.Disks))
	return out, nil
}

// ConfigMinidisks has nothing to do on KVM: the data disks exist since
// create and cloud-init formats and mounts them in the guest.
func (b *Backend) ConfigMinidisks(ctx context.Context, userid string, disks []api.Disk) error {
	_, _, _, err := b.lookup(userid)
	return err
}

// DeleteGuest destroys the domain if it runs, undefines it and removes
// the guest's directory and console logs. A guest already gone is not
// an error (its leftover files are still removed).
func (b *Backend) DeleteGuest(ctx context.Context, userid string) error {
	c, dom, g, err := b.lookup(userid)
	switch {
	case err == nil:
		if err := b.destroy(c, dom); err != nil {
			return lvErr(api.ModGuest, "destroy "+userid, err)
		}
		if err := c.DomainUndefineFlags(dom, 0); err != nil && !libvirt.IsNotFound(err) {
			return lvErr(api.ModGuest, "undefine "+userid, err)
		}
	case api.AsError(err).OverallRC == 404 && api.AsError(err).RS == 1:
		g = &GuestMeta{UserID: userid, Dir: b.guestDir(userid)}
	default:
		return err
	}
	// Only paths this backend computes are removed, never ones read back
	// from the metadata.
	g.Dir = b.guestDir(userid)
	sclp, sclplm := b.consoleLogs(g)
	for _, p := range []string{sclp, sclplm} {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return internalErr(api.ModGuest, "remove console log", err)
		}
	}
	if err := os.RemoveAll(g.Dir); err != nil {
		return internalErr(api.ModGuest, "remove "+g.Dir, err)
	}
	b.log.Info("guest deleted", "userid", userid)
	return nil
}

// destroy stops a domain at once; a domain not running is fine.
func (b *Backend) destroy(c Conn, dom libvirt.Domain) error {
	st, _, err := c.DomainGetState(dom, 0)
	if err != nil {
		return err
	}
	if !hasProcess(libvirt.DomainState(st)) {
		return nil
	}
	err = c.DomainDestroy(dom)
	if isOpInvalid(err) {
		return nil // stopped in the meantime
	}
	return err
}

func isOpInvalid(err error) bool {
	e, ok := err.(libvirt.Error)
	return ok && libvirt.ErrorNumber(e.Code) == libvirt.ErrOperationInvalid
}

// active says whether a domain in state st is on: running, paused or
// shutting down.
func active(st libvirt.DomainState) bool {
	switch st {
	case libvirt.DomainRunning, libvirt.DomainBlocked, libvirt.DomainPaused, libvirt.DomainPmsuspended, libvirt.DomainShutdown:
		return true
	}
	return false
}

// hasProcess says whether a domain in state st still has a qemu process
// to destroy: an active one, or one crashed and kept (on_crash preserve).
func hasProcess(st libvirt.DomainState) bool {
	return active(st) || st == libvirt.DomainCrashed
}

// Deploy gives a stopped guest its root disk from an imported image and
// its config drive, and redefines the domain with them (see the package
// doc). With skipdiskcopy an existing root disk is kept.
func (b *Backend) Deploy(ctx context.Context, userid string, d api.DeploySpec) error {
	ctx, cancel := opContext(ctx, "deploy", b.cfg.Timeouts.Deploy)
	defer cancel()
	c, dom, g, err := b.lookup(userid)
	if err != nil {
		return err
	}
	if d.Vdev != "" {
		if v, err := parseDevNo(d.Vdev); err != nil || v != fmt.Sprintf("%04x", devnoRoot) {
			return inputErr(api.ModGuest, "deploy %s: vdev %q: the root disk is %04X", userid, d.Vdev, devnoRoot)
		}
	}
	st, _, err := c.DomainGetState(dom, 0)
	if err != nil {
		return lvErr(api.ModGuest, "state of "+userid, err)
	}
	if hasProcess(libvirt.DomainState(st)) {
		return conflict(api.ModGuest, 4, "deploy %s: the guest is running; stop it first", userid)
	}
	b.imgMu.RLock()
	defer b.imgMu.RUnlock()
	if d.Hostname != "" && !hostnameOK(d.Hostname) {
		return inputErr(api.ModGuest, "deploy %s: hostname %q: want letters, digits, inner hyphens and dots (RFC 1123), at most 253 characters", userid, d.Hostname)
	}
	im, err := b.image(d.Image)
	if err != nil && api.AsError(err).OverallRC == 404 {
		return api.ImageRecordMissing(d.Image)
	}
	if err != nil {
		return err
	}
	g.Dir = b.guestDir(userid)
	if err := os.MkdirAll(g.Dir, 0o750); err != nil {
		return internalErr(api.ModGuest, "guest directory", err)
	}
	root := filepath.Join(g.Dir, "root.qcow2")
	if !d.SkipDiskCopy || g.Root == "" {
		if err := b.makeRoot(ctx, im, root, max(g.RootSize, im.VirtualSize)); err != nil {
			return internalErr(api.ModGuest, fmt.Sprintf("root disk of %s from image %s", userid, im.Name), err)
		}
		g.Base = ""
		if b.cfg.DiskMode == "overlay" {
			g.Base = b.imageDisk(im)
		}
	}
	g.Root, g.Image = root, im.Name
	drive := filepath.Join(g.Dir, "configdrive.iso")
	if d.TransportFiles != "" {
		if d.Hostname != "" {
			b.log.Info("deploy: hostname ignored, the config drive comes from transportfiles", "userid", userid)
		}
		g.Hostname = ""
		err = b.copyDrive(d, drive)
	} else {
		g.Hostname = d.Hostname
		if g.Hostname == "" {
			g.Hostname = strings.ToLower(userid)
		}
		err = b.buildDrive(g, uuidString(dom.UUID), g.Hostname, drive)
	}
	if err != nil {
		return err
	}
	g.Drive = drive
	if _, err := b.define(c, uuidString(dom.UUID), g); err != nil {
		return err
	}
	b.touchImage(im)
	b.log.Info("guest deployed", "userid", userid, "image", im.Name, "disk_mode", b.cfg.DiskMode, "config_drive_from", map[bool]string{true: "transportfiles", false: "request"}[d.TransportFiles != ""])
	return nil
}

// makeRoot writes the root disk under a temporary name and renames it
// into place: a qcow2 overlay on the image (qemu-img create -b) or a
// full copy (qemu-img convert), grown to size if the image is smaller.
func (b *Backend) makeRoot(ctx context.Context, im *imageRecord, root string, size int64) error {
	tmp := root + ".new"
	_ = os.Remove(tmp)
	base := b.imageDisk(im)
	var err error
	if b.cfg.DiskMode == "overlay" {
		_, err = b.cfg.Run(ctx, b.cfg.QemuImg, "create", "-q", "-f", "qcow2", "-b", base, "-F", im.Format, tmp, strconv.FormatInt(size, 10))
	} else {
		_, err = b.cfg.Run(ctx, b.cfg.QemuImg, "convert", "-q", "-f", im.Format, "-O", "qcow2", base, tmp)
		if err == nil && size > im.VirtualSize {
			_, err = b.cfg.Run(ctx, b.cfg.QemuImg, "resize", "-q", "-f", "qcow2", tmp, strconv.FormatInt(size, 10))
		}
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, root)
}

// maxDriveBytes bounds a config drive handed over in transportfiles
// (nova's vfat drives are 64 MiB; ISO drives are far smaller).
const maxDriveBytes = 64<<20 + 1<<20

// copyDrive copies the config drive nova made (transportfiles) next to
// the disks, after checking it is an ISO 9660 or FAT image.
func (b *Backend) copyDrive(d api.DeploySpec, dst string) error {
	src := d.TransportFiles
	if err := checkPath(src); err != nil {
		return inputErr(api.ModGuest, "transportfiles: %v", err)
	}
	f, _, err := b.cfg.Sources.Open(src) // under source_dirs; FIFOs, devices, /proc refused unread
	if err != nil {
		if d.RemoteHost != "" {
			return inputErr(api.ModGuest, "transportfiles %s (remotehost %s): %v; the KVM backend reads the config drive locally: put it on this host", src, d.RemoteHost, err)
		}
		return inputErr(api.ModGuest, "transportfiles: %v", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > maxDriveBytes || fi.Size() < 2048 {
		return inputErr(api.ModGuest, "transportfiles %s: want a regular file of 2 KiB to 65 MiB (a config drive image)", src)
	}
	if kind := driveKind(f); kind == "" {
		return inputErr(api.ModGuest, "transportfiles %s: neither an ISO 9660 nor a FAT image; pass the config drive image (label config-2)", src)
	}
	tmp := dst + ".new"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o640)
	if err != nil {
		return internalErr(api.ModGuest, "config drive", err)
	}
	_, err = io.Copy(out, io.NewSectionReader(f, 0, fi.Size()))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return internalErr(api.ModGuest, "copy the config drive", err)
	}
	return nil
}

// driveKind reads the image's signature: "iso" (CD001 at 32769), "fat"
// (0x55AA boot signature and a FAT type string) or "".
func driveKind(r io.ReaderAt) string {
	var buf [512]byte
	if n, _ := r.ReadAt(buf[:6], 32768); n == 6 && string(buf[1:6]) == "CD001" {
		return "iso"
	}
	if n, _ := r.ReadAt(buf[:], 0); n == 512 && buf[510] == 0x55 && buf[511] == 0xAA &&
		(strings.HasPrefix(string(buf[54:62]), "FAT") || strings.HasPrefix(string(buf[82:90]), "FAT")) {
		return "fat"
	}
	return ""
}

// buildDrive makes the config drive from the request: the domain's UUID
// as instance id, the hostname and the NICs as network_data.json links
// (by MAC) with the static IPv4 configuration of the interface request,
// or DHCP where it gave none.
func (b *Backend) buildDrive(g *GuestMeta, uuid, hostname, dst string) error {
	in := &configdrive.Instance{UUID: uuid, Hostname: hostname, Name: g.UserID}
	if len(g.NICs) > 0 {
		nd := &configdrive.NetworkData{Links: []configdrive.Link{}, Networks: []configdrive.Network{}, Services: []configdrive.Service{}}
		for _, n := range g.NICs {
			id := "nic" + n.DevNo
			l := configdrive.Link{ID: id, Type: "phy", EthernetMACAddress: n.MAC, VifID: n.NICID}
			if n.MTU != 0 {
				mtu := n.MTU
				l.MTU = &mtu
			}
			nd.Links = append(nd.Links, l)
			st, err := staticIP(n.IP, n.Gateway, n.DNS, n.MTU)
			if err != nil {
				return internalErr(api.ModGuest, "config drive of "+g.UserID, err)
			}
			if st == nil {
				nd.Networks = append(nd.Networks, configdrive.Network{ID: "network-" + n.DevNo, Type: "ipv4_dhcp", Link: id})
				continue
			}
			nw := configdrive.Network{ID: "network-" + n.DevNo, Type: "ipv4", Link: id,
				IPAddress: st.addr.String(), Netmask: netmaskString(st.mask)}
			if st.gateway != nil {
				nw.Routes = []configdrive.Route{{Network: "0.0.0.0", Netmask: "0.0.0.0", Gateway: st.gateway.String()}}
			}
			for _, d := range st.dns {
				nw.Services = append(nw.Services, configdrive.Service{Type: "dns", Address: d.String()})
			}
			nd.Networks = append(nd.Networks, nw)
		}
		in.Network = nd
	}
	t, err := configdrive.Build(in)
	if err != nil {
		return inputErr(api.ModGuest, "config drive of %s: %v", g.UserID, err)
	}
	err = configdrive.WriteImage(dst, t, configdrive.ImageOptions{Format: configdrive.ISO9660, SourceDate: b.cfg.Now(),
		Publisher: "zguest-hostd", Logger: b.log})
	if err != nil {
		return internalErr(api.ModGuest, "write the config drive of "+g.UserID, err)
	}
	return nil
}

func netmaskString(m []byte) string {
	return fmt.Sprintf("%d.%d.%d.%d", m[0], m[1], m[2], m[3])
}
