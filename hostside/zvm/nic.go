package zvm

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/zguest/zguest/agent/ccw"
	"github.com/zguest/zguest/agent/nic"
	"github.com/zguest/zguest/agent/niclist"
	"github.com/zguest/zguest/hostside/api"
)

// nextNICVdev is the original's choice: the configured first vdev, then
// the highest used + 3.
func (b *Backend) nextNICVdev(g Guest) (string, error) {
	if len(g.NICs) == 0 {
		return vdevAdd(b.c.NICVdev, 0)
	}
	hi := -1
	for _, n := range g.NICs {
		v, err := strconv.ParseUint(n.Vdev, 16, 16)
		if err == nil && int(v) > hi {
			hi = int(v)
		}
	}
	return vdevAdd(fmt.Sprintf("%04X", hi), 3)
}

// macID is the last 6 hex digits of a MAC ("02:00:00:12:34:56" -> 123456).
func macID(mac string) (string, error) {
	hw, err := net.ParseMAC(mac)
	if err != nil || len(hw) != 6 {
		return "", fmt.Errorf("MAC address %q is not six colon-separated hex bytes", mac)
	}
	return strings.ToUpper(fmt.Sprintf("%02x%02x%02x", hw[3], hw[4], hw[5])), nil
}

// createNIC adds a NICDEF (Virtual_Network_Adapter_Create_Extended_DM;
// the client retries 400/12) and records it.
func (b *Backend) createNIC(ctx context.Context, g *Guest, vdev, mac, nicID string) (NIC, error) {
	var err error
	if vdev == "" {
		if vdev, err = b.nextNICVdev(*g); err != nil {
			return NIC{}, inputErr("guest %s: %v", g.UserID, err)
		}
	} else if vdev, err = vdevAdd(vdev, 0); err != nil {
		return NIC{}, inputErr("guest %s: %v", g.UserID, err)
	}
	kv := []string{"image_device_number=" + vdev, "adapter_type=QDIO"}
	if mac != "" {
		id, err := macID(mac)
		if err != nil {
			return NIC{}, inputErr("guest %s NIC %s: %v", g.UserID, vdev, err)
		}
		kv = append(kv, "mac_id="+id)
	}
	if err := b.c.SMAPI.VNACreateExtendedDM(ctx, g.UserID, kv...); err != nil {
		return NIC{}, smapiErr(fmt.Sprintf("create NIC %s for %s", vdev, g.UserID), err)
	}
	n := NIC{Vdev: vdev, MAC: strings.ToLower(mac), NICID: nicID}
	g.NICs = append(g.NICs, n)
	if err := b.store.PutGuest(ctx, *g); err != nil {
		return n, internalErr(api.ModNetwork, fmt.Errorf("NIC %s of %s created but not recorded: %w", vdev, g.UserID, err))
	}
	return n, nil
}

// CreateNIC implements api.Backend.
func (b *Backend) CreateNIC(ctx context.Context, userid string, s api.NICSpec) (api.NICSpec, error) {
	g, err := b.guest(ctx, userid)
	if err != nil {
		return api.NICSpec{}, err
	}
	n, err := b.createNIC(ctx, &g, s.Vdev, s.MACAddr, s.NICID)
	if err != nil {
		return api.NICSpec{}, err
	}
	s.Vdev = n.Vdev
	return s, nil
}

// DeleteNIC implements api.Backend (Virtual_Network_Adapter_Delete_DM).
func (b *Backend) DeleteNIC(ctx context.Context, userid, vdev string, _ bool) error {
	g, err := b.guest(ctx, userid)
	if err != nil {
		return err
	}
	v, err := vdevAdd(vdev, 0)
	if err != nil {
		return inputErr("guest %s: %v", userid, err)
	}
	if err := b.c.SMAPI.VNADeleteDM(ctx, userid, v); err != nil && !isCodes(err, 404, 8) {
		return smapiErr(fmt.Sprintf("delete NIC %s of %s", v, userid), err)
	}
	for i, n := range g.NICs {
		if strings.EqualFold(n.Vdev, v) {
			g.NICs = append(g.NICs[:i], g.NICs[i+1:]...)
			break
		}
	}
	if err := b.store.PutGuest(ctx, g); err != nil {
		return internalErr(api.ModNetwork, err)
	}
	return nil
}

// CreateNetworkInterface implements api.Backend: one NIC per network
// (nic_vdev or the next free), then the NIC list punched to the guest so
// that the agent brings them up with their MACs on its next run.
func (b *Backend) CreateNetworkInterface(ctx context.Context, userid string, s api.InterfaceSpec) ([]api.GuestNetwork, error) {
	g, err := b.guest(ctx, userid)
	if err != nil {
		return nil, err
	}
	if s.OSVersion != "" && g.OSVersion == "" {
		g.OSVersion = s.OSVersion
	}
	out := make([]api.GuestNetwork, 0, len(s.GuestNetworks))
	for _, net := range s.GuestNetworks {
		n, err := b.createNIC(ctx, &g, net.NICVdev, net.MACAddr, net.NICID)
		if err != nil {
			return nil, err
		}
		net.NICVdev = n.Vdev
		out = append(out, net)
	}
	if err := b.punchNICList(ctx, nil, g); err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteNetworkInterface implements api.Backend.
func (b *Backend) DeleteNetworkInterface(ctx context.Context, userid string, _ string, vdev string, active bool) error {
	return b.DeleteNIC(ctx, userid, vdev, active)
}

// NICList returns the agent's NIC list for g's NICs.
func NICList(g Guest) ([]byte, error) {
	var nics []nic.NIC
	for _, n := range g.NICs {
		id, err := ccw.Parse(n.Vdev)
		if err != nil {
			return nil, fmt.Errorf("NIC %s of %s: %w", n.Vdev, g.UserID, err)
		}
		e := nic.NIC{Read: id, Port: -1, Layer2: nic.LayerDefault}
		if n.MAC != "" {
			if e.MAC, err = net.ParseMAC(n.MAC); err != nil {
				return nil, fmt.Errorf("NIC %s of %s: %w", n.Vdev, g.UserID, err)
			}
		}
		nics = append(nics, e)
	}
	return niclist.Marshal(nics)
}

// punchNICList punches g's NIC list, journaled in r (nil: its own
// operation).
func (b *Backend) punchNICList(ctx context.Context, r *run, g Guest) error {
	data, err := NICList(g)
	if err != nil {
		return internalErr(api.ModNetwork, err)
	}
	if _, err := b.punchFile(ctx, r, g.UserID, bytes.NewReader(data), "nics", "json"); err != nil {
		return guestOpErr(3, g.UserID, fmt.Errorf("punch the NIC list: %w", err))
	}
	return nil
}
