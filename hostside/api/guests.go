package api

import (
	"fmt"
	"regexp"
	"strings"
)

var (
	// guess: the original passes sizes to SMAPI unchecked; we refuse
	// what the documented forms (512M, 1g, 2000 cylinders/blocks) do not
	// cover before anything is created.
	diskSizeRE = regexp.MustCompile(`^[1-9][0-9]*[mMgG]?$`)
	vdevRE     = regexp.MustCompile(`^[0-9a-fA-F]{1,4}$`)
)

func (h *Handler) listGuests(c *call) (any, error) {
	l, err := h.b.ListGuests(c.ctx)
	if err != nil {
		return nil, err
	}
	if l == nil {
		l = []string{}
	}
	return l, nil
}

func (h *Handler) createGuest(c *call) (any, error) {
	m, err := c.body(schemaGuestCreate)
	if err != nil {
		return nil, err
	}
	g := getObj(m, "guest")
	spec := GuestSpec{
		UserID:        strings.ToUpper(getStr(g, "userid")),
		UserProfile:   getStr(g, "user_profile"),
		MaxMem:        getStr(g, "max_mem"),
		IPLFrom:       getStr(g, "ipl_from"),
		IPLParam:      getStr(g, "ipl_param"),
		IPLLoadparm:   getStr(g, "ipl_loadparam"),
		DedicateVdevs: getStrList(g, "dedicate_vdevs"),
		Account:       getStr(g, "account"),
		Comments:      getStrList(g, "comments"),
	}
	for k, dst := range map[string]*int{"vcpus": &spec.VCPUs, "memory": &spec.Memory, "max_cpu": &spec.MaxCPU} {
		if *dst, err = getIntErr(g, k); err != nil {
			return nil, err
		}
	}
	if spec.VCPUs < 1 || spec.Memory < 1 {
		return nil, inputError("vcpus and memory must be positive integers")
	}
	for i, d := range getList(g, "disk_list") {
		dm, _ := d.(map[string]any)
		disk := Disk{
			Size:       getStr(dm, "size"),
			IsBootDisk: getBool(dm, "is_boot_disk"),
			Format:     getStr(dm, "format"),
			DiskPool:   getStr(dm, "disk_pool"),
			Vdev:       getStr(dm, "vdev"),
		}
		if !diskSizeRE.MatchString(disk.Size) {
			return nil, inputError(fmt.Sprintf("Invalid \"disk_list\" input, disk %d size %q: give megabytes (512M), gigabytes (1g) or cylinders/blocks (2000)", i, disk.Size))
		}
		spec.DiskList = append(spec.DiskList, disk)
	}
	c.userid = spec.UserID
	return h.withGuest(c, func() (any, error) {
		disks, err := h.b.CreateGuest(c.ctx, spec)
		if err != nil {
			return nil, err
		}
		if disks == nil {
			disks = []Disk{}
		}
		return disks, nil
	})
}

// getIntErr is getInt with a plain error.
func getIntErr(m map[string]any, k string) (int, error) {
	n, e := getInt(m, k)
	if e != nil {
		return 0, e
	}
	return n, nil
}

func (h *Handler) deleteGuest(c *call) (any, error) {
	return h.withGuest(c, func() (any, error) {
		return nil, h.b.DeleteGuest(c.ctx, c.userid)
	})
}

func (h *Handler) guestInfo(c *call) (any, error) {
	return h.withGuest(c, func() (any, error) {
		return h.b.GuestInfo(c.ctx, c.userid)
	})
}

func (h *Handler) powerState(c *call) (any, error) {
	return h.withGuest(c, func() (any, error) {
		return h.b.PowerState(c.ctx, c.userid)
	})
}

func (h *Handler) configMinidisks(c *call) (any, error) {
	m, err := c.body(schemaConfigMinidisks)
	if err != nil {
		return nil, err
	}
	var disks []Disk
	for i, d := range getList(getObj(m, "disk_info"), "disk_list") {
		dm, _ := d.(map[string]any)
		disk := Disk{Vdev: getStr(dm, "vdev"), Format: getStr(dm, "format"), MntDir: getStr(dm, "mntdir"), Size: getStr(dm, "size")}
		if disk.Size != "" && !diskSizeRE.MatchString(disk.Size) {
			return nil, inputError(fmt.Sprintf("Invalid \"disk_list\" input, disk %d size %q: give megabytes (512M), gigabytes (1g) or cylinders/blocks (2000)", i, disk.Size))
		}
		disks = append(disks, disk)
	}
	return h.withGuest(c, func() (any, error) {
		return nil, h.b.ConfigMinidisks(c.ctx, c.userid, disks)
	})
}

func (h *Handler) createInterface(c *call) (any, error) {
	m, err := c.body(schemaCreateInterface)
	if err != nil {
		return nil, err
	}
	in := getObj(m, "interface")
	spec := InterfaceSpec{OSVersion: getStr(in, "os_version"), Active: getBool(in, "active")}
	for _, n := range getList(in, "guest_networks") {
		nm, _ := n.(map[string]any)
		gn := GuestNetwork{
			IPAddr:      getStr(nm, "ip_addr"),
			GatewayAddr: getStr(nm, "gateway_addr"),
			CIDR:        getStr(nm, "cidr"),
			MACAddr:     getStr(nm, "mac_addr"),
			NICID:       getStr(nm, "nic_id"),
			NICVdev:     getStr(nm, "nic_vdev"),
			Method:      getStr(nm, "method"),
			DNSAddr:     getStrList(nm, "dns_addr"),
			OSADevice:   getStr(nm, "osa_device"),
			Hostname:    getStr(nm, "hostname"),
		}
		if gn.MTU, err = getIntErr(nm, "mtu"); err != nil {
			return nil, err
		}
		spec.GuestNetworks = append(spec.GuestNetworks, gn)
	}
	return h.withGuest(c, func() (any, error) {
		nets, err := h.b.CreateNetworkInterface(c.ctx, c.userid, spec)
		if err != nil {
			return nil, err
		}
		if nets == nil {
			nets = []GuestNetwork{}
		}
		return nets, nil
	})
}

func (h *Handler) deleteInterface(c *call) (any, error) {
	m, err := c.body(schemaDeleteInterface)
	if err != nil {
		return nil, err
	}
	in := getObj(m, "interface")
	return h.withGuest(c, func() (any, error) {
		return nil, h.b.DeleteNetworkInterface(c.ctx, c.userid, getStr(in, "os_version"), getStr(in, "vdev"), getBool(in, "active"))
	})
}

func (h *Handler) createNIC(c *call) (any, error) {
	m, err := c.body(schemaCreateNIC)
	if err != nil {
		return nil, err
	}
	n := getObj(m, "nic")
	spec := NICSpec{Vdev: getStr(n, "vdev"), NICID: getStr(n, "nic_id"), MACAddr: getStr(n, "mac_addr"), Active: getBool(n, "active")}
	return h.withGuest(c, func() (any, error) {
		got, err := h.b.CreateNIC(c.ctx, c.userid, spec)
		if err != nil {
			return nil, err
		}
		return got.Vdev, nil // api.py guest_create_nic returns the vdev
	})
}

// pathVdev checks the {vdev} path segment.
func pathVdev(c *call) (string, error) {
	v := c.r.PathValue("vdev")
	if !vdevRE.MatchString(v) {
		return "", inputError(fmt.Sprintf("Invalid vdev %q: 1 to 4 hexadecimal digits expected", v))
	}
	return strings.ToUpper(v), nil
}

func (h *Handler) coupleNIC(c *call) (any, error) {
	vdev, err := pathVdev(c)
	if err != nil {
		return nil, err
	}
	m, err := c.body(schemaCoupleNIC)
	if err != nil {
		return nil, err
	}
	in := getObj(m, "info")
	cp := Couple{Couple: getBool(in, "couple"), VSwitch: getStr(in, "vswitch"), Active: getBool(in, "active"), VLANID: -1}
	if _, ok := in["vlan_id"]; ok {
		if cp.VLANID, err = getIntErr(in, "vlan_id"); err != nil {
			return nil, err
		}
	}
	if cp.Couple && cp.VSwitch == "" {
		// The original fails with a KeyError (500) here.
		return nil, validationError("Invalid input for field/attribute info. Value: " + pyStr(in) + ". 'vswitch' is a required property")
	}
	return h.withGuest(c, func() (any, error) {
		return nil, h.b.CoupleNIC(c.ctx, c.userid, vdev, cp)
	})
}

func (h *Handler) deleteNIC(c *call) (any, error) {
	vdev, err := pathVdev(c)
	if err != nil {
		return nil, err
	}
	// The original needs a JSON body ({"active": false}); an empty one
	// is taken as {} here.
	active := false
	if v, e := readOptionalJSON(c.r); e != nil {
		return nil, e
	} else if v != nil {
		if m, ok := v.(map[string]any); ok {
			if _, has := m["active"]; has {
				if e := tBoolean.validate(m["active"], []string{"active"}); e != nil {
					return nil, validationError(e.detail())
				}
				active = getBool(m, "active")
			}
		}
	}
	return h.withGuest(c, func() (any, error) {
		return nil, h.b.DeleteNIC(c.ctx, c.userid, vdev, active)
	})
}
