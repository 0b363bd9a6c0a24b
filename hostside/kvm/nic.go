package kvm

import (
	"context"
	"crypto/rand"
	"encoding/xml"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/digitalocean/go-libvirt"

	"github.com/zguest/zguest/hostside/api"
)

// NICs are virtio-net-ccw devices at the device number nova names (a
// z/VM vdev such as 1000; the guest names the interface enc1000). Each
// change redefines the domain; with active set on a running domain the
// change is also made live (hotplug, or a link state update).

// nextDevNo picks the first free device number from 1000 in steps of 3,
// as z/VM assigns NIC vdevs.
func nextDevNo(g *GuestMeta, taken []string) (string, error) {
	for n := 0x1000; n <= 0xfffd; n += 3 {
		d := fmt.Sprintf("%04x", n)
		if !slices.ContainsFunc(g.NICs, func(m MetaNIC) bool { return m.DevNo == d }) && !slices.Contains(taken, d) {
			return d, nil
		}
	}
	return "", fmt.Errorf("no free NIC device number")
}

// addNIC validates and appends one NIC to g.
func (b *Backend) addNIC(g *GuestMeta, vdev, mac, nicID string, coupled bool, taken []string) (MetaNIC, error) {
	var n MetaNIC
	var err error
	if len(g.NICs) >= maxNICs {
		return n, inputErr(api.ModNetwork, "%s: at most %d NICs", g.UserID, maxNICs)
	}
	if vdev == "" {
		if n.DevNo, err = nextDevNo(g, taken); err != nil {
			return n, inputErr(api.ModNetwork, "%s: %v", g.UserID, err)
		}
	} else if n.DevNo, err = parseNICDevNo(vdev); err != nil {
		return n, inputErr(api.ModNetwork, "%s: %v", g.UserID, err)
	}
	if slices.ContainsFunc(g.NICs, func(m MetaNIC) bool { return m.DevNo == n.DevNo }) {
		return n, conflict(api.ModNetwork, 1, "%s: NIC %s already exists; delete it first or pick another vdev", g.UserID, strings.ToUpper(n.DevNo))
	}
	if mac == "" {
		mac = randomMAC()
	}
	if n.MAC, err = parseMAC(mac); err != nil {
		return n, inputErr(api.ModNetwork, "%s NIC %s: %v", g.UserID, n.DevNo, err)
	}
	if slices.ContainsFunc(g.NICs, func(m MetaNIC) bool { return m.MAC == n.MAC }) {
		return n, conflict(api.ModNetwork, 2, "%s: MAC %s is already on another NIC of this guest", g.UserID, n.MAC)
	}
	if len(nicID) > 128 || strings.ContainsAny(nicID, "<>&\"'\x00") {
		return n, inputErr(api.ModNetwork, "%s NIC %s: nic_id %q: want up to 128 characters, no XML specials", g.UserID, n.DevNo, nicID)
	}
	n.NICID, n.Coupled = nicID, coupled
	g.NICs = append(g.NICs, n)
	return n, nil
}

// randomMAC is a random locally administered unicast MAC (02:...).
func randomMAC() string {
	var m [6]byte
	_, _ = rand.Read(m[:])
	m[0] = 0x02
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
}

// ifaceXML renders one <interface> for a live device change.
func (b *Backend) ifaceXML(n MetaNIC) (string, error) {
	x, err := xml.Marshal(struct {
		XMLName xml.Name `xml:"interface"`
		Interface
	}{Interface: b.interfaceFor(n)})
	return string(x), err
}

// running reports whether the domain has a qemu process.
func running(c Conn, dom libvirt.Domain) (bool, error) {
	st, _, err := c.DomainGetState(dom, 0)
	if err != nil {
		return false, err
	}
	return active(libvirt.DomainState(st)), nil
}

// live applies fn to each NIC on the running domain when active is set.
func (b *Backend) live(c Conn, dom libvirt.Domain, userid string, active bool, nics []MetaNIC, what string,
	fn func(dom libvirt.Domain, xml string) error) error {
	if !active {
		return nil
	}
	on, err := running(c, dom)
	if err != nil {
		return lvErr(api.ModNetwork, "state of "+userid, err)
	}
	if !on {
		return nil
	}
	for _, n := range nics {
		x, err := b.ifaceXML(n)
		if err != nil {
			return internalErr(api.ModNetwork, what, err)
		}
		if err := fn(dom, x); err != nil {
			return lvErr(api.ModNetwork, fmt.Sprintf("%s NIC %s of %s (the definition is updated; it applies at the next start)", what, n.DevNo, userid), err)
		}
	}
	return nil
}

// CreateNetworkInterface adds one coupled NIC per guest network (MAC and
// vdev from the request; a missing vdev gets the next free one).
func (b *Backend) CreateNetworkInterface(ctx context.Context, userid string, in api.InterfaceSpec) ([]api.GuestNetwork, error) {
	c, dom, g, err := b.lookup(userid)
	if err != nil {
		return nil, err
	}
	if len(in.GuestNetworks) == 0 {
		return nil, inputErr(api.ModNetwork, "%s: guest_networks is empty", userid)
	}
	out := slices.Clone(in.GuestNetworks)
	var added []MetaNIC
	for i, gn := range in.GuestNetworks {
		if gn.MACAddr == "" {
			return nil, inputErr(api.ModNetwork, "%s: guest_networks[%d]: mac_addr is required (cloud-init matches NICs by MAC)", userid, i)
		}
		ip, gw, dns, err := requestStatic(gn)
		if err != nil {
			return nil, inputErr(api.ModNetwork, "%s: guest_networks[%d]: %v", userid, i, err)
		}
		n, err := b.addNIC(g, gn.NICVdev, gn.MACAddr, gn.NICID, true, nil)
		if err != nil {
			return nil, err
		}
		last := &g.NICs[len(g.NICs)-1]
		last.IP, last.Gateway, last.DNS, last.MTU = ip, gw, dns, gn.MTU
		n = *last
		added = append(added, n)
		out[i].NICVdev = strings.ToUpper(n.DevNo)
	}
	if err := b.rebuildDrive(c, dom, g); err != nil {
		return nil, err
	}
	if _, err := b.define(c, uuidString(dom.UUID), g); err != nil {
		return nil, err
	}
	b.log.Info("network interface created", "userid", userid, "nics", len(added))
	return out, b.live(c, dom, userid, in.Active, added, "attach", func(d libvirt.Domain, x string) error {
		return c.DomainAttachDeviceFlags(d, x, uint32(libvirt.DomainAffectLive))
	})
}

// DeleteNetworkInterface removes the NIC at vdev.
func (b *Backend) DeleteNetworkInterface(ctx context.Context, userid string, osVersion, vdev string, active bool) error {
	return b.DeleteNIC(ctx, userid, vdev, active)
}

// CreateNIC adds an uncoupled NIC (link down until CoupleNIC); a missing
// MAC gets a random locally administered one.
func (b *Backend) CreateNIC(ctx context.Context, userid string, in api.NICSpec) (api.NICSpec, error) {
	c, dom, g, err := b.lookup(userid)
	if err != nil {
		return api.NICSpec{}, err
	}
	n, err := b.addNIC(g, in.Vdev, in.MACAddr, in.NICID, false, nil)
	if err != nil {
		return api.NICSpec{}, err
	}
	if err := b.rebuildDrive(c, dom, g); err != nil {
		return api.NICSpec{}, err
	}
	if _, err := b.define(c, uuidString(dom.UUID), g); err != nil {
		return api.NICSpec{}, err
	}
	out := api.NICSpec{Vdev: strings.ToUpper(n.DevNo), NICID: n.NICID, MACAddr: n.MAC, Active: in.Active}
	return out, b.live(c, dom, userid, in.Active, []MetaNIC{n}, "attach", func(d libvirt.Domain, x string) error {
		return c.DomainAttachDeviceFlags(d, x, uint32(libvirt.DomainAffectLive))
	})
}

// findNIC returns the index of the NIC at vdev.
func findNIC(g *GuestMeta, vdev string) (int, error) {
	d, err := parseDevNo(vdev)
	if err != nil {
		return 0, inputErr(api.ModNetwork, "%s: %v", g.UserID, err)
	}
	i := slices.IndexFunc(g.NICs, func(m MetaNIC) bool { return m.DevNo == d })
	if i < 0 {
		return 0, &api.Error{OverallRC: 404, ModID: api.ModNetwork, RC: 404, RS: 2, Msg: fmt.Sprintf("%s has no NIC %s", g.UserID, strings.ToUpper(d))}
	}
	return i, nil
}

// CoupleNIC couples (link up; vswitch, if given, names the libvirt
// network, bridge or host device instead of the configured one) or
// uncouples (link down) the NIC at vdev.
func (b *Backend) CoupleNIC(ctx context.Context, userid, vdev string, cp api.Couple) error {
	c, dom, g, err := b.lookup(userid)
	if err != nil {
		return err
	}
	i, err := findNIC(g, vdev)
	if err != nil {
		return err
	}
	n := &g.NICs[i]
	if cp.VLANID != 0 {
		return unsupported("vlan_id on couple (configure VLANs on the libvirt network or bridge)")
	}
	if cp.Couple {
		if cp.VSwitch != "" && b.cfg.Network.Type != "user" {
			if !sourceRE.MatchString(cp.VSwitch) {
				return inputErr(api.ModNetwork, "%s NIC %s: vswitch %q: bad network, bridge or device name", userid, n.DevNo, cp.VSwitch)
			}
			n.Source = cp.VSwitch
		}
		n.Coupled = true
	} else {
		n.Coupled = false
	}
	if _, err := b.define(c, uuidString(dom.UUID), g); err != nil {
		return err
	}
	return b.live(c, dom, userid, cp.Active, []MetaNIC{*n}, "update", func(d libvirt.Domain, x string) error {
		return c.DomainUpdateDeviceFlags(d, x, libvirt.DomainDeviceModifyLive)
	})
}

// DeleteNIC removes the NIC at vdev.
func (b *Backend) DeleteNIC(ctx context.Context, userid, vdev string, active bool) error {
	c, dom, g, err := b.lookup(userid)
	if err != nil {
		return err
	}
	i, err := findNIC(g, vdev)
	if err != nil {
		return err
	}
	n := g.NICs[i]
	g.NICs = slices.Delete(g.NICs, i, i+1)
	if err := b.rebuildDrive(c, dom, g); err != nil {
		return err
	}
	if _, err := b.define(c, uuidString(dom.UUID), g); err != nil {
		return err
	}
	b.log.Info("NIC deleted", "userid", userid, "devno", n.DevNo)
	return b.live(c, dom, userid, active, []MetaNIC{n}, "detach", func(d libvirt.Domain, x string) error {
		return c.DomainDetachDeviceFlags(d, x, uint32(libvirt.DomainAffectLive))
	})
}

// rebuildDrive rewrites a config drive the daemon built, so that its
// network_data.json lists the NICs the guest has. A running guest keeps
// the drive it booted with (cloud-init reads it at first boot only).
func (b *Backend) rebuildDrive(c Conn, dom libvirt.Domain, g *GuestMeta) error {
	if g.Hostname == "" || g.Drive == "" {
		return nil
	}
	if on, err := running(c, dom); err != nil || on {
		return nil
	}
	g.Dir = b.guestDir(g.UserID)
	return b.buildDrive(g, uuidString(dom.UUID), g.Hostname, filepath.Join(g.Dir, "configdrive.iso"))
}
