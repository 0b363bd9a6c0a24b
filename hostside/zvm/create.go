package zvm

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/smapi"
)

// CylinderBytes is the capacity of one 3390 cylinder as Linux sees it
// (15 tracks of 12 4-KiB blocks); sizes like "10g" become cylinders with
// it.
const CylinderBytes = 737280

// DirectoryRecords builds the directory entry of g as the connector's
// makevm does (docs/facts/zvm-connector.md §2.2), in order.
func (b *Backend) DirectoryRecords(g api.GuestSpec) ([]string, error) {
	if g.VCPUs < 1 || g.Memory < 1 {
		return nil, inputErr("guest %s: vcpus and memory must be positive", g.UserID)
	}
	mem := fmt.Sprintf("%dM", g.Memory)
	if g.Memory%1024 == 0 {
		mem = fmt.Sprintf("%dG", g.Memory/1024)
	}
	maxMem := strings.ToUpper(g.MaxMem)
	if maxMem == "" {
		maxMem = b.c.MaxMem
	}
	maxCPU := g.MaxCPU
	if maxCPU == 0 {
		maxCPU = b.c.MaxCPU
	}
	if g.VCPUs > maxCPU {
		return nil, inputErr("guest %s: %d vcpus above max_cpu %d", g.UserID, g.VCPUs, maxCPU)
	}
	profile := strings.ToUpper(g.UserProfile)
	if profile == "" {
		profile = b.c.Profile
	}
	recs := []string{
		fmt.Sprintf("USER %s LBYONLY %s %s G", g.UserID, mem, maxMem),
		"INCLUDE " + profile,
		fmt.Sprintf("MACHINE ESA %d", maxCPU),
	}
	if g.Account != "" {
		recs = append(recs, "ACCOUNT "+g.Account)
	}
	recs = append(recs, "COMMAND SET VCONFIG MODE LINUX")
	for i := range g.VCPUs {
		recs = append(recs, fmt.Sprintf("COMMAND DEFINE CPU %02X TYPE IFL", i))
	}
	// guess: the SHARE statement form of --commandSetShare.
	recs = append(recs, fmt.Sprintf("SHARE RELATIVE %d", b.c.ShareUnit*g.VCPUs))
	ipl := g.IPLFrom
	if ipl == "" && len(g.DiskList) > 0 && g.DiskList[0].IsBootDisk {
		ipl = b.c.RootVdev
	}
	if ipl != "" {
		r := "IPL " + ipl
		if g.IPLParam != "" {
			r += " PARM " + g.IPLParam
		}
		if g.IPLLoadparm != "" {
			r += " LOADPARM " + g.IPLLoadparm
		}
		recs = append(recs, r)
	}
	recs = append(recs, "COMMAND DEF STOR INITIAL STANDBY REMAINDER")
	for _, v := range g.DedicateVdevs {
		recs = append(recs, fmt.Sprintf("DEDICATE %s %s", v, v))
	}
	for _, c := range g.Comments {
		recs = append(recs, "* "+c)
	}
	for i, r := range recs {
		if len(r) > smapi.MaxRecord {
			return nil, inputErr("guest %s: directory record %d is %d characters, more than %d: %q", g.UserID, i+1, len(r), smapi.MaxRecord, r)
		}
	}
	return recs, nil
}

// DiskUnits converts a disk_list size ("10g", "512m", "3338:CYL",
// "2097152:BLK", or a bare number of devType's units, "3338", which is
// what nova's driver sends from image_get_root_disk_size for a flavor
// with root_gb 0; smtLayer generalUtils.cvtToCyl takes it as is) into
// allocation units of devType (3390 cylinders or 9336 512-byte blocks).
func DiskUnits(size, devType string) (int32, error) {
	s := strings.ToUpper(strings.TrimSpace(size))
	if s != "" && strings.Trim(s, "0123456789") == "" {
		v, err := strconv.ParseInt(s, 10, 32)
		if err != nil || v <= 0 {
			return 0, fmt.Errorf("disk size %q: bad number of units", size)
		}
		return int32(v), nil
	}
	if n, unit, ok := strings.Cut(s, ":"); ok {
		v, err := strconv.ParseInt(n, 10, 32)
		if err != nil || v <= 0 {
			return 0, fmt.Errorf("disk size %q: bad number", size)
		}
		switch {
		case unit == "CYL" && devType == "3390", unit == "BLK" && devType == "9336":
			return int32(v), nil
		}
		return 0, fmt.Errorf("disk size %q: unit %s does not fit a %s disk", size, unit, devType)
	}
	if len(s) < 2 {
		return 0, fmt.Errorf("disk size %q: want a number and g or m, like 10g", size)
	}
	v, err := strconv.ParseFloat(s[:len(s)-1], 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("disk size %q: bad number", size)
	}
	var bytes float64
	switch s[len(s)-1] {
	case 'G':
		bytes = v * (1 << 30)
	case 'M':
		bytes = v * (1 << 20)
	default:
		return 0, fmt.Errorf("disk size %q: unit must be g or m", size)
	}
	per := float64(CylinderBytes)
	if devType == "9336" {
		per = 512
	}
	u := math.Ceil(bytes / per)
	if u > math.MaxInt32 {
		return 0, fmt.Errorf("disk size %q: too large", size)
	}
	return int32(u), nil
}

func vdevAdd(v string, n int) (string, error) {
	x, err := strconv.ParseUint(v, 16, 16)
	if err != nil || int(x)+n > 0xFFFF {
		return "", fmt.Errorf("virtual device %q: not 1 to 4 hex digits", v)
	}
	return fmt.Sprintf("%04X", int(x)+n), nil
}

// CreateGuest implements api.Backend: Image_Create_DM with the records,
// then Image_Disk_Create_DM for each disk (0100, 0101, ...), then the
// record, each step journaled. A failing disk removes the directory
// entry again.
func (b *Backend) CreateGuest(ctx context.Context, g api.GuestSpec) ([]api.Disk, error) {
	recs, err := b.DirectoryRecords(g)
	if err != nil {
		return nil, err
	}
	type plan struct {
		d   api.Disk
		rec DiskRecord
	}
	var plans []plan
	for i, d := range g.DiskList {
		pool := d.DiskPool
		if pool == "" {
			pool = b.c.DiskPool
		}
		devType, group, err := parsePool(pool)
		if err != nil {
			return nil, inputErr("guest %s: disk %d: %v", g.UserID, i, err)
		}
		units, err := DiskUnits(d.Size, devType)
		if err != nil {
			return nil, inputErr("guest %s: disk %d: %v", g.UserID, i, err)
		}
		vdev := d.Vdev
		if vdev == "" {
			if vdev, err = vdevAdd(b.c.RootVdev, i); err != nil {
				return nil, inputErr("guest %s: %v", g.UserID, err)
			}
		}
		d.Vdev, d.DiskPool = strings.ToUpper(vdev), pool
		plans = append(plans, plan{d: d, rec: DiskRecord{Vdev: d.Vdev, Type: devType, Pool: group, Units: units}})
	}
	d := opData{Records: recs}
	for _, p := range plans {
		d.Disks = append(d.Disks, p.rec)
	}
	r, err := b.begin(ctx, "create", g.UserID, d)
	if err != nil {
		return nil, err
	}
	if err := b.c.SMAPI.ImageCreateDM(ctx, g.UserID, recs); err != nil {
		var se *smapi.Error
		switch {
		case isCodes(err, 596, 3658):
			b.log.Warn("Image_Create_DM 596/3658 ignored, as the original does", "userid", g.UserID)
		case errors.As(err, &se):
			// SMAPI refused: no entry was made.
			return nil, r.endAfter(ctx, smapiErr("create guest "+g.UserID, err))
		default:
			// The connection failed: the entry may have been made.
			return nil, b.abortCreate(ctx, r, false, smapiErr("create guest "+g.UserID, err))
		}
	}
	if err := r.step(ctx, stepEntry); err != nil {
		return nil, err
	}
	guest := Guest{UserID: g.UserID}
	var out []api.Disk
	for i, p := range plans {
		unit := smapi.UnitCylinders
		if p.rec.Type == "9336" {
			unit = smapi.UnitBlk512
		}
		err := b.c.SMAPI.ImageDiskCreateDM(ctx, g.UserID, smapi.DiskCreate{
			Vdev: p.rec.Vdev, DevType: p.rec.Type, AllocType: "AUTOG", Area: p.rec.Pool,
			Unit: unit, Size: p.rec.Units, Mode: "MR", Format: smapi.FormatUnspecified,
		})
		if err != nil {
			return nil, b.abortCreate(ctx, r, true, smapiErr(fmt.Sprintf("create guest %s: minidisk %s in pool %s", g.UserID, p.rec.Vdev, p.rec.Pool), err))
		}
		guest.Disks = append(guest.Disks, p.rec)
		out = append(out, p.d)
		r.d.Made = i + 1
		if err := r.step(ctx, stepDisk); err != nil {
			return nil, err
		}
	}
	if err := b.store.PutGuest(ctx, guest); err != nil {
		return nil, internalErr(api.ModGuest, fmt.Errorf("guest %s created in the directory but not recorded (the next start finishes it): %w", g.UserID, err))
	}
	if err := r.step(ctx, stepRecorded); err != nil {
		return nil, err
	}
	b.log.Info("guest created", "userid", g.UserID, "disks", len(out))
	return out, r.endAfter(ctx, nil)
}

// abortCreate rolls back a failed create (undoCreate) and ends it; if
// the rollback fails the operation stays pending for the next start.
func (b *Backend) abortCreate(ctx context.Context, r *run, entryMade bool, err error) error {
	if uerr := b.undoCreate(context.WithoutCancel(ctx), r.target, r.d, entryMade); uerr != nil {
		b.log.Error("rollback of a half-created guest failed; the next start retries it", "userid", r.target, "err", uerr)
		return err
	}
	return r.endAfter(ctx, err)
}

// DeleteGuest implements api.Backend (deleteEntry, then the record),
// journaled: a delete interrupted by a crash is finished at the next
// start.
func (b *Backend) DeleteGuest(ctx context.Context, userid string) error {
	r, err := b.begin(ctx, "delete", userid, opData{})
	if err != nil {
		return err
	}
	if err := b.deleteEntry(ctx, userid); err != nil {
		return r.endAfter(ctx, err)
	}
	if err := r.step(ctx, stepDeleted); err != nil {
		return err
	}
	if err := b.store.DeleteGuest(ctx, userid); err != nil {
		return internalErr(api.ModGuest, fmt.Errorf("guest %s deleted from the directory but not from the store (the next start finishes it): %w", userid, err))
	}
	return r.endAfter(ctx, nil)
}

// deleteEntry deletes userid's directory entry with the original's
// tolerances: 400/4 (already gone), 596/6831 (logged on: force it off
// and retry), 596/3543 and 596/2119.
func (b *Backend) deleteEntry(ctx context.Context, userid string) error {
	err := b.c.SMAPI.ImageDeleteDM(ctx, userid)
	if isCodes(err, 596, 6831) {
		if derr := b.c.SMAPI.ImageDeactivate(ctx, userid, "IMMED"); derr != nil && !isCodes(derr, 200, 12) {
			return smapiErr("delete guest "+userid+": force it off", derr)
		}
		err = b.c.SMAPI.ImageDeleteDM(ctx, userid)
	}
	switch {
	case err == nil, isCodes(err, 400, 4), isCodes(err, 596, 3543), isCodes(err, 596, 2119):
		return nil
	}
	return smapiErr("delete guest "+userid, err)
}
