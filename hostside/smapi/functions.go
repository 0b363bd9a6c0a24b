package smapi

import (
	"context"
	"fmt"
)

// MaxRecord is the longest directory record Image_Create_DM takes; smcli
// refuses longer lines before sending (zthin smcliImage.c).
const MaxRecord = 72

// Function names.
const (
	FnImageCreateDM       = "Image_Create_DM"
	FnImageDeleteDM       = "Image_Delete_DM"
	FnImageQueryDM        = "Image_Query_DM"
	FnImageActivate       = "Image_Activate"
	FnImageDeactivate     = "Image_Deactivate"
	FnImageDiskCreateDM   = "Image_Disk_Create_DM"
	FnImageConsoleGet     = "Image_Console_Get"
	FnVNACreateExtendedDM = "Virtual_Network_Adapter_Create_Extended_DM"
	FnVNADeleteDM         = "Virtual_Network_Adapter_Delete_DM"
)

// ImageCreateDM defines target from directory records (prototype, logon
// password and account are left empty, as the connector does). Records
// longer than MaxRecord are refused before anything is sent.
func (c *Client) ImageCreateDM(ctx context.Context, target string, records []string) error {
	for i, r := range records {
		if len(r) == 0 || len(r) > MaxRecord {
			return fmt.Errorf("SMAPI %s for %s: directory record %d is %d characters (1 to %d allowed): %q", FnImageCreateDM, target, i+1, len(r), MaxRecord, r)
		}
	}
	var p Params
	p.String("").String("").String("").Array(records)
	_, err := c.Call(ctx, FnImageCreateDM, target, p.Bytes())
	return err
}

// ImageDeleteDM deletes target's directory entry (no data security erase).
func (c *Client) ImageDeleteDM(ctx context.Context, target string) error {
	var p Params
	p.Byte(0) // data_security_erase: 0 = installation default
	_, err := c.Call(ctx, FnImageDeleteDM, target, p.Bytes())
	return err
}

// ImageQueryDM returns target's directory statements, read from the
// card images the server answers (see ParseDirectory).
func (c *Client) ImageQueryDM(ctx context.Context, target string) ([]string, error) {
	resp, err := c.Call(ctx, FnImageQueryDM, target, nil)
	if err != nil {
		return nil, err
	}
	cards, err := NewParamReader(resp.Data).Array()
	if err == nil {
		cards, err = ParseDirectory(cards)
	}
	if err != nil {
		return nil, fmt.Errorf("SMAPI %s for %s: output: %w", FnImageQueryDM, target, err)
	}
	return cards, nil
}

// ImageActivate logs target on (see Activate for the counts).
func (c *Client) ImageActivate(ctx context.Context, target string) error {
	_, err := c.Activate(ctx, target)
	return err
}

// ImageDeactivate logs target off; forceTime is "IMMED", "WITHIN n" or
// "BY hh:mm" ("" = the system default). See Deactivate for the counts.
func (c *Client) ImageDeactivate(ctx context.Context, target, forceTime string) error {
	_, err := c.Deactivate(ctx, target, forceTime)
	return err
}

// Allocation unit sizes of Image_Disk_Create_DM.
const (
	UnitCylinders byte = 1
	UnitBlk512    byte = 2
)

// Disk formatting values of Image_Disk_Create_DM.
const (
	FormatUnspecified byte = 0
	FormatNone        byte = 1
)

// DiskCreate are Image_Disk_Create_DM's parameters.
type DiskCreate struct {
	Vdev      string // 1..4 hex digits, "0100"
	DevType   string // "3390" (ECKD) or "9336" (FBA)
	AllocType string // "AUTOG" (from a group), "AUTOR", "DEVNO", ...
	Area      string // group, region or volser
	Unit      byte   // UnitCylinders or UnitBlk512
	Size      int32  // in Units
	Mode      string // "MR"
	Format    byte
	Label     string
}

// ImageDiskCreateDM adds a minidisk to target's directory entry.
func (c *Client) ImageDiskCreateDM(ctx context.Context, target string, d DiskCreate) error {
	var p Params
	p.String(d.Vdev).String(d.DevType).String(d.AllocType).String(d.Area).Byte(d.Unit).Int(d.Size).String(d.Mode).Byte(d.Format).String(d.Label).String("").String("").String("")
	_, err := c.Call(ctx, FnImageDiskCreateDM, target, p.Bytes())
	return err
}

// DecodeDiskCreate parses Image_Disk_Create_DM's parameters.
func DecodeDiskCreate(b []byte) (DiskCreate, error) {
	r := NewParamReader(b)
	var d DiskCreate
	var err error
	str := func(dst *string) {
		if err == nil {
			*dst, err = r.String()
		}
	}
	byt := func(dst *byte) {
		if err == nil {
			*dst, err = r.Byte()
		}
	}
	var skip string
	str(&d.Vdev)
	str(&d.DevType)
	str(&d.AllocType)
	str(&d.Area)
	byt(&d.Unit)
	if err == nil {
		d.Size, err = r.Int()
	}
	str(&d.Mode)
	byt(&d.Format)
	str(&d.Label)
	str(&skip)
	str(&skip)
	str(&skip)
	return d, err
}

// VNACreateExtendedDM defines a virtual NIC in target's directory entry
// with the keyword parameters ("image_device_number=1000",
// "adapter_type=QDIO", "mac_id=123456", ...).
func (c *Client) VNACreateExtendedDM(ctx context.Context, target string, kv ...string) error {
	var p Params
	p.Keywords(kv...)
	_, err := c.Call(ctx, FnVNACreateExtendedDM, target, p.Bytes())
	return err
}

// VNADeleteDM removes the NICDEF at vdev from target's directory entry.
func (c *Client) VNADeleteDM(ctx context.Context, target, vdev string) error {
	var p Params
	p.String(vdev)
	_, err := c.Call(ctx, FnVNADeleteDM, target, p.Bytes())
	return err
}

// ImageConsoleGet closes target's console log to the caller's reader.
// The reply carries no data (zthin's Image_Console_Get layout): the file
// is found by listing the reader, a class T file from target whose
// device type is CON.
func (c *Client) ImageConsoleGet(ctx context.Context, target string) error {
	_, err := c.Call(ctx, FnImageConsoleGet, target, nil)
	return err
}

// Vswitch and NIC coupling functions.
const (
	FnVNAConnectVswitchDM = "Virtual_Network_Adapter_Connect_Vswitch_DM"
	FnVNAConnectVswitch   = "Virtual_Network_Adapter_Connect_Vswitch"
	FnVNADisconnectDM     = "Virtual_Network_Adapter_Disconnect_DM"
	FnVNADisconnect       = "Virtual_Network_Adapter_Disconnect"
	FnVswitchSetExtended  = "Virtual_Network_Vswitch_Set_Extended"
)

// VNAConnectVswitchDM couples the NIC at vdev to vswitch in target's
// directory entry (the NICDEF gains LAN SYSTEM <vswitch>). Parameters
// as zthin's vmapiVirtualNetworkAdapterConnectVswitchDm.c: image device
// number, switch name, both length-prefixed.
func (c *Client) VNAConnectVswitchDM(ctx context.Context, target, vdev, vswitch string) error {
	var p Params
	p.String(vdev).String(vswitch)
	_, err := c.Call(ctx, FnVNAConnectVswitchDM, target, p.Bytes())
	return err
}

// VNAConnectVswitch couples the NIC at vdev to vswitch on the running
// target (CP COUPLE). Same layout as VNAConnectVswitchDM (zthin
// vmapiVirtualNetworkAdapterConnectVswitch.c: device number 1-4, switch
// name 1-8).
func (c *Client) VNAConnectVswitch(ctx context.Context, target, vdev, vswitch string) error {
	var p Params
	p.String(vdev).String(vswitch)
	_, err := c.Call(ctx, FnVNAConnectVswitch, target, p.Bytes())
	return err
}

// VNADisconnectDM removes the LAN coupling of the NIC at vdev from
// target's directory entry (zthin vmapiVirtualNetworkAdapterDisconnectDm.c:
// the image device number only).
func (c *Client) VNADisconnectDM(ctx context.Context, target, vdev string) error {
	var p Params
	p.String(vdev)
	_, err := c.Call(ctx, FnVNADisconnectDM, target, p.Bytes())
	return err
}

// VNADisconnect uncouples the NIC at vdev on the running target; same
// layout as VNADisconnectDM (zthin vmapiVirtualNetworkAdapterDisconnect.c).
func (c *Client) VNADisconnect(ctx context.Context, target, vdev string) error {
	var p Params
	p.String(vdev)
	_, err := c.Call(ctx, FnVNADisconnect, target, p.Bytes())
	return err
}

// VswitchSetExtended changes a vswitch ("switch_name=VSW1",
// "grant_userid=LINUX01", "user_vlan_id=10", "persist=YES", ...). Unlike
// the *_Extended_DM functions, zthin's vmapiVirtualNetworkVswitchSetExtended.c
// sends the NUL-terminated keywords without a total length in front.
func (c *Client) VswitchSetExtended(ctx context.Context, target string, kv ...string) error {
	var p Params
	p.Terminated(kv...)
	_, err := c.Call(ctx, FnVswitchSetExtended, target, p.Bytes())
	return err
}
