package kvm

import (
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/zguest/zguest/hostside/api"
)

var (
	userIDRE = regexp.MustCompile(`^[A-Z0-9]{1,8}$`)
	// sourceRE is a libvirt network, bridge or host device name.
	sourceRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$`)
	// imageNameRE is an image name: it becomes a directory name.
	imageNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$`)
	prefixRE    = regexp.MustCompile(`^[A-Za-z0-9_.-]{0,40}$`)
	sizeRE      = regexp.MustCompile(`^([0-9]{1,12})([bBkKmMgGtT]?)$`)
	labelRE     = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)
)

// hostnameOK accepts an RFC 1123 host name (dot-separated labels of
// letters, digits and inner hyphens, at most 253 characters).
func hostnameOK(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, l := range strings.Split(h, ".") {
		if !labelRE.MatchString(l) {
			return false
		}
	}
	return true
}

// static is a NIC's static IPv4 configuration.
type static struct {
	addr    net.IP
	mask    net.IPMask
	gateway net.IP
	dns     []net.IP
	mtu     int
}

// staticIP checks a NIC's static configuration as kept in the metadata
// (ip "" means none: DHCP).
func staticIP(ip, gateway, dns string, mtu int) (*static, error) {
	if mtu != 0 && (mtu < 576 || mtu > 9000) {
		return nil, fmt.Errorf("mtu %d: want 576-9000", mtu)
	}
	if ip == "" {
		if gateway != "" || dns != "" {
			return nil, fmt.Errorf("gateway or DNS without an address")
		}
		return nil, nil
	}
	a, n, err := net.ParseCIDR(ip)
	if err != nil || a.To4() == nil {
		return nil, fmt.Errorf("address %q: want IPv4 address/prefix like 10.0.2.15/24", ip)
	}
	s := &static{addr: a.To4(), mask: n.Mask, mtu: mtu}
	if gateway != "" {
		if s.gateway = net.ParseIP(gateway).To4(); s.gateway == nil || !n.Contains(s.gateway) {
			return nil, fmt.Errorf("gateway %q: want an IPv4 address in %s", gateway, n)
		}
	}
	for _, d := range strings.Fields(dns) {
		x := net.ParseIP(d)
		if x == nil {
			return nil, fmt.Errorf("DNS server %q: not an IP address", d)
		}
		s.dns = append(s.dns, x)
	}
	return s, nil
}

// requestStatic turns an interface request's ip_addr, cidr, gateway_addr,
// dns_addr and mtu into the metadata's form.
func requestStatic(gn api.GuestNetwork) (ip, gw, dns string, err error) {
	if gn.IPAddr == "" {
		if gn.GatewayAddr != "" || len(gn.DNSAddr) > 0 {
			return "", "", "", fmt.Errorf("gateway_addr or dns_addr without ip_addr")
		}
		return "", "", "", nil
	}
	a := net.ParseIP(gn.IPAddr)
	if a == nil || a.To4() == nil {
		return "", "", "", fmt.Errorf("ip_addr %q: want an IPv4 address (IPv6 needs a config drive from nova)", gn.IPAddr)
	}
	_, n, err := net.ParseCIDR(gn.CIDR)
	if err != nil || !n.Contains(a) {
		return "", "", "", fmt.Errorf("cidr %q: want the IPv4 network holding %s, like 10.0.2.0/24", gn.CIDR, gn.IPAddr)
	}
	ones, _ := n.Mask.Size()
	ip = fmt.Sprintf("%s/%d", a.To4(), ones)
	dns = strings.Join(gn.DNSAddr, " ")
	if _, err := staticIP(ip, gn.GatewayAddr, dns, gn.MTU); err != nil {
		return "", "", "", err
	}
	return ip, gn.GatewayAddr, dns, nil
}

// Device numbers: the guest's disks and controllers sit below
// firstNICDevNo; NICs take the device numbers nova sends (z/VM vdevs,
// 1000, 1003, ...), at or above it.
const (
	devnoDriveCtl = 0x0002 // virtio-scsi controller of the config drive
	devnoDrive    = 0x0003 // config drive as a virtio disk
	devnoRoot     = 0x0100
	maxDataDisks  = 24 // vdb..vdy
	firstNICDevNo = 0x0200
	maxNICs       = 32
)

// parseDevNo reads a device number in the forms nova and z/VM use:
// "1000", "0.0.1000", "0x1000" (1-4 hex digits), and returns it as 4
// lower-case hex digits.
func parseDevNo(s string) (string, error) {
	t := strings.ToLower(s)
	if rest, ok := strings.CutPrefix(t, "0.0."); ok {
		t = rest
	} else if rest, ok := strings.CutPrefix(t, "0x"); ok {
		t = rest
	}
	if len(t) < 1 || len(t) > 4 {
		return "", fmt.Errorf("device number %q: want 1-4 hex digits (1000, 0.0.1000)", s)
	}
	n, err := strconv.ParseUint(t, 16, 16)
	if err != nil {
		return "", fmt.Errorf("device number %q: want 1-4 hex digits (1000, 0.0.1000)", s)
	}
	return fmt.Sprintf("%04x", n), nil
}

// parseNICDevNo is parseDevNo limited to the NIC range.
func parseNICDevNo(s string) (string, error) {
	d, err := parseDevNo(s)
	if err != nil {
		return "", err
	}
	if n, _ := strconv.ParseUint(d, 16, 16); n < firstNICDevNo {
		return "", fmt.Errorf("NIC device number %q: 0000-%04x are the guest's disks; use %04x or above (nova's default is 1000)", s, firstNICDevNo-1, firstNICDevNo)
	}
	return d, nil
}

// parseMAC checks a unicast Ethernet MAC and returns it as
// aa:bb:cc:dd:ee:ff in lower case.
func parseMAC(s string) (string, error) {
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 {
		return "", fmt.Errorf("MAC address %q: want 6 bytes like 02:00:00:00:00:01", s)
	}
	if hw[0]&1 != 0 {
		return "", fmt.Errorf("MAC address %q: multicast address; a NIC needs a unicast one", s)
	}
	if hw.String() == "00:00:00:00:00:00" {
		return "", fmt.Errorf("MAC address %q: all zeros", s)
	}
	return hw.String(), nil
}

// checkPath accepts absolute, clean paths without odd characters
// (they go into XML attributes and qemu-img's argv).
func checkPath(p string) error {
	if p == "" || !filepath.IsAbs(p) || filepath.Clean(p) != p {
		return fmt.Errorf("path %q: want an absolute, clean path", p)
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("path %q: control characters are not allowed", p)
		}
	}
	return nil
}

// parseSize reads disk_list sizes: "10g", "512m", "1024" (bytes) or
// z/VM's "3338:CYL"/"n:BLK" forms (3390 cylinders of 849,960 bytes, 512
// byte blocks).
func parseSize(s string) (int64, error) {
	if n, unit, ok := strings.Cut(s, ":"); ok {
		v, err := strconv.ParseInt(n, 10, 64)
		if err != nil || v <= 0 || v > 1<<40 {
			return 0, fmt.Errorf("disk size %q: bad count", s)
		}
		switch strings.ToUpper(unit) {
		case "CYL":
			return v * 849960, nil
		case "BLK":
			return v * 512, nil
		}
		return 0, fmt.Errorf("disk size %q: unit %q: want CYL or BLK", s, unit)
	}
	m := sizeRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("disk size %q: want a number with an optional unit (10g, 512m)", s)
	}
	v, _ := strconv.ParseInt(m[1], 10, 64)
	shift := map[string]uint{"": 0, "b": 0, "k": 10, "m": 20, "g": 30, "t": 40}[strings.ToLower(m[2])]
	if v <= 0 || v > (1<<50)>>shift {
		return 0, fmt.Errorf("disk size %q: out of range", s)
	}
	return v << shift, nil
}
