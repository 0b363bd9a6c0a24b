package zvm

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/zguest/zguest/hostside/api"
)

// vswitchRe is a vswitch name: 1 to 8 of A-Z, 0-9, @, #, $.
var vswitchRe = regexp.MustCompile(`^[A-Z0-9@#$]{1,8}$`)

// notExist is the original's SDKObjectNotExistError (overallRC 404).
func notExist(mod int, format string, a ...any) error {
	return &api.Error{OverallRC: 404, ModID: mod, RC: 404, RS: 1, Msg: fmt.Sprintf(format, a...)}
}

// netConflict is the original's SDKConflictError for the network module
// (overallRC 409) with its reason code.
func netConflict(rs int, err error, format string, a ...any) error {
	return &api.Error{OverallRC: 409, ModID: api.ModNetwork, RC: 409, RS: rs, Msg: fmt.Sprintf(format, a...), Err: err}
}

// CoupleNIC implements api.Backend as the original's
// couple_nic_to_vswitch / uncouple_nic_from_vswitch (FL smtclient.py)
// do, over SMAPI:
//
//   - couple: Virtual_Network_Vswitch_Set_Extended grant_userid (with
//     user_vlan_id when vlan_id > 0), Virtual_Network_Adapter_Connect_Vswitch_DM,
//     and, when active, Virtual_Network_Adapter_Connect_Vswitch; if that
//     fails the directory coupling is undone with
//     Virtual_Network_Adapter_Disconnect_DM;
//   - uncouple: Virtual_Network_Adapter_Disconnect_DM (212/32, already
//     uncoupled, is fine) and, when active,
//     Virtual_Network_Adapter_Disconnect (204/48 is fine).
//
// The NIC's vswitch is recorded. A NIC already coupled to the vswitch
// is left alone, as the original does. The grant is not revoked on
// uncouple (the original revokes it when the guest is deleted).
func (b *Backend) CoupleNIC(ctx context.Context, userid, vdev string, c api.Couple) error {
	g, err := b.guest(ctx, userid)
	if err != nil {
		return err
	}
	v, err := vdevAdd(vdev, 0)
	if err != nil {
		return inputErr("guest %s: %v", userid, err)
	}
	idx := -1
	for i, n := range g.NICs {
		if x, err := vdevAdd(n.Vdev, 0); err == nil && x == v {
			idx = i
		}
	}
	if idx < 0 {
		return &api.Error{OverallRC: 404, ModID: api.ModNetwork, RC: 404, RS: 8, Msg: fmt.Sprintf("NIC %s of %s does not exist", vdev, userid)}
	}
	if c.Active {
		st, err := b.powerState(ctx, userid)
		if err != nil {
			return err
		}
		if st != "on" {
			return netConflict(1, nil, "guest %s is powered off: an active (re)coupling needs it running", userid)
		}
	}
	if c.Couple {
		vsw := strings.ToUpper(strings.TrimSpace(c.VSwitch))
		if !vswitchRe.MatchString(vsw) {
			return &api.Error{OverallRC: 100, ModID: api.ModNetwork, RC: 100, RS: 1, Msg: fmt.Sprintf("vswitch name %q: 1 to 8 of A-Z, 0-9, @, #, $", c.VSwitch)}
		}
		if g.NICs[idx].VSwitch == vsw {
			b.log.Info("NIC already coupled to the vswitch; nothing done", "userid", userid, "vdev", v, "vswitch", vsw)
			return nil
		}
		if err := b.couple(ctx, userid, v, vsw, c); err != nil {
			return err
		}
		g.NICs[idx].VSwitch = vsw
	} else {
		if err := b.uncouple(ctx, userid, v, c.Active); err != nil {
			return err
		}
		g.NICs[idx].VSwitch = ""
	}
	if err := b.store.PutGuest(ctx, g); err != nil {
		return internalErr(api.ModNetwork, fmt.Errorf("NIC %s of %s (un)coupled but not recorded: %w", v, userid, err))
	}
	return nil
}

// setTarget is the SMAPI target of Virtual_Network_Vswitch_Set_Extended:
// the connector's own userid, as the original's get_smt_userid.
// guess: the guest's userid when CP QUERY USERID fails (older FL
// versions passed it as -T).
func (b *Backend) setTarget(ctx context.Context, userid string) string {
	if id := b.ownUserid(ctx); id != "" {
		return id
	}
	return userid
}

func (b *Backend) couple(ctx context.Context, userid, vdev, vsw string, c api.Couple) error {
	kv := []string{"switch_name=" + vsw, "grant_userid=" + userid}
	if c.VLANID > 0 {
		kv = append(kv, "user_vlan_id="+strconv.Itoa(c.VLANID))
	}
	kv = append(kv, "persist=YES")
	if err := b.c.SMAPI.VswitchSetExtended(ctx, b.setTarget(ctx, userid), kv...); err != nil {
		switch {
		case isCodes(err, 212, 40):
			return notExist(api.ModNetwork, "Vswitch %s does not exist", vsw)
		case isCodes(err, 396, 2846), isCodes(err, 396, 2838), isCodes(err, 396, 2853), isCodes(err, 396, 2856),
			isCodes(err, 396, 2858), isCodes(err, 396, 3022), isCodes(err, 396, 3033):
			return netConflict(5, err, "grant %s on vswitch %s refused: %v", userid, vsw, err)
		}
		return smapiErr(fmt.Sprintf("grant %s on vswitch %s", userid, vsw), err)
	}
	if err := b.c.SMAPI.VNAConnectVswitchDM(ctx, userid, vdev, vsw); err != nil {
		return coupleDMErr(err, userid, vdev, vsw)
	}
	if !c.Active {
		return nil
	}
	err := b.c.SMAPI.VNAConnectVswitch(ctx, userid, vdev, vsw)
	if err == nil || isCodes(err, 204, 20) {
		return nil
	}
	// Roll the directory back, as the original does; 212/32 (not
	// coupled) means there is nothing to roll back.
	if rerr := b.c.SMAPI.VNADisconnectDM(context.WithoutCancel(ctx), userid, vdev); rerr != nil && !isCodes(rerr, 212, 32) {
		return &api.Error{OverallRC: 300, ModID: api.ModNetwork, RC: 300, RS: 3,
			Msg: fmt.Sprintf("couple NIC %s of %s to vswitch %s failed (%v), and undoing the directory coupling failed too (%v): the directory says coupled", vdev, userid, vsw, err, rerr), Err: err}
	}
	switch {
	case isCodes(err, 212, 40):
		return notExist(api.ModNetwork, "Vswitch %s does not exist", vsw)
	case isCodes(err, 204, 8):
		return notExist(api.ModNetwork, "Guest device %s does not exist on the running %s", vdev, userid)
	case isCodes(err, 212, 28), isCodes(err, 212, 8), isCodes(err, 396, 2788), isCodes(err, 396, 2848),
		isCodes(err, 396, 3034), isCodes(err, 396, 6011):
		return netConflict(10, err, "couple NIC %s of %s to vswitch %s refused: %v", vdev, userid, vsw, err)
	}
	return smapiErr(fmt.Sprintf("couple NIC %s of running %s to vswitch %s", vdev, userid, vsw), err)
}

func coupleDMErr(err error, userid, vdev, vsw string) error {
	switch {
	case isCodes(err, 400, 4):
		return notExist(api.ModNetwork, "Guest %s does not exist in the directory", userid)
	case isCodes(err, 404, 8):
		return notExist(api.ModNetwork, "Guest device %s of %s is not defined in the directory", vdev, userid)
	case isCodes(err, 412, 28):
		return netConflict(10, err, "couple NIC %s of %s to vswitch %s refused: %v", vdev, userid, vsw, err)
	case isCodes(err, 400, 12), isCodes(err, 404, 12):
		return netConflict(11, err, "directory entry of %s is locked; retry: %v", userid, err)
	}
	return smapiErr(fmt.Sprintf("couple NIC %s of %s to vswitch %s in the directory", vdev, userid, vsw), err)
}

func (b *Backend) uncouple(ctx context.Context, userid, vdev string, active bool) error {
	if err := b.c.SMAPI.VNADisconnectDM(ctx, userid, vdev); err != nil && !isCodes(err, 212, 32) {
		switch {
		case isCodes(err, 404, 8):
			return notExist(api.ModNetwork, "Guest device %s of %s is not defined in the directory", vdev, userid)
		case isCodes(err, 400, 4):
			return notExist(api.ModNetwork, "Guest %s does not exist in the directory", userid)
		case isCodes(err, 400, 12):
			return netConflict(13, err, "directory entry of %s is locked; retry: %v", userid, err)
		}
		return smapiErr(fmt.Sprintf("uncouple NIC %s of %s in the directory", vdev, userid), err)
	}
	if !active {
		return nil
	}
	if err := b.c.SMAPI.VNADisconnect(ctx, userid, vdev); err != nil && !isCodes(err, 204, 48) {
		switch {
		case isCodes(err, 204, 8):
			return notExist(api.ModNetwork, "Guest device %s does not exist on the running %s", vdev, userid)
		case isCodes(err, 204, 28):
			return netConflict(12, err, "uncouple NIC %s of running %s refused: %v", vdev, userid, err)
		}
		return smapiErr(fmt.Sprintf("uncouple NIC %s of running %s", vdev, userid), err)
	}
	return nil
}
