package dpm

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/imagerepo"
	"github.com/zguest/zguest/hostside/store"
)

// Boot volumes. The HMC cannot make a LUN: with DPM storage management
// (z14 and later) a storage group's volumes exist once the SAN
// administrator has fulfilled them (fulfillment-state "complete"). So
// the backend works from a pool of fulfilled storage groups reserved for
// this host (Config.BootPool), each with one boot volume. guest_create
// takes the smallest free group whose boot volume holds the root disk
// nova asks for and records the assignment in the state store (bbolt,
// fsynced) before it creates the partition; guest_deploy writes the
// image onto that volume through this host's own FCP access
// (volume.go) and then attaches the group to the guest's partition and
// boots from the volume; guest_delete, after the partition is gone,
// wipes what the deploy wrote (zeroed: discarded where the device can,
// written zeros otherwise) and returns the group to the pool.
//
// A store record's Meta: "storage_group", "boot_volume" (URIs),
// "written" (bytes the deploy wrote, to wipe). Progress "creating" with
// no partition after a restart, and "deleting", are finished by
// loadPool.

type poolVolume struct {
	Volume
	groupID string
}

// cylinder is a 3390 cylinder: a disk size without a unit counts them,
// as in the original's disk_list.
const cylinder = 849960

var objectIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

var sizeRE = regexp.MustCompile(`^([0-9]{1,9})([gGmM]?)$`)

// parseDiskSize reads disk_list's "size": "10g", "512m", or 3390
// cylinders.
func parseDiskSize(s string) (int64, error) {
	m := sizeRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("disk size %q: want a number with g or m, or 3390 cylinders", s)
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	switch strings.ToLower(m[2]) {
	case "g":
		return n * gib, nil
	case "m":
		return n << 20, nil
	}
	return n * cylinder, nil
}

// loadPool checks the configured boot pool against the HMC and finishes
// what a crash left half done.
func (b *Backend) loadPool(ctx context.Context) error {
	if len(b.cfg.BootPool) == 0 {
		return nil
	}
	if b.cfg.Store == nil {
		return errors.New("dpm: a boot pool needs the state store")
	}
	if d := b.cfg.DeviceDir; d != "" && !filepath.IsAbs(d) {
		return fmt.Errorf("dpm: device_dir %q: want an absolute path like /dev/disk/by-id", d)
	}
	if p := b.cfg.SCP.Port; p < 0 || p > 65535 {
		return fmt.Errorf("dpm: remotehost_sshd_port %d: want 1-65535", p)
	}
	seen := map[string]bool{}
	for _, id := range b.cfg.BootPool {
		if !objectIDRE.MatchString(id) || seen[id] {
			return fmt.Errorf("dpm: boot_pool entry %q: want distinct storage group object ids", id)
		}
		seen[id] = true
		v, err := b.poolGroup(ctx, id)
		if err != nil {
			return fmt.Errorf("dpm: boot_pool storage group %s: %w", id, err)
		}
		b.pool = append(b.pool, v)
	}
	slices.SortStableFunc(b.pool, func(x, y poolVolume) int { return int((x.Size - y.Size) / (1 << 20)) })
	if b.cfg.Volumes != nil {
		b.volumes = b.cfg.Volumes
	} else {
		if b.cfg.OwnPartition == "" {
			return errors.New("dpm: a boot pool needs own_partition, the partition this daemon runs in (its FCP access writes the images)")
		}
		parts, err := b.c.ListPartitions(ctx, b.cpcURI, b.cfg.OwnPartition)
		if err != nil {
			return fmt.Errorf("dpm: own partition %s: %w", b.cfg.OwnPartition, err)
		}
		own := ""
		for _, p := range parts {
			if p.Name == b.cfg.OwnPartition {
				own = p.URI
			}
		}
		if own == "" {
			return fmt.Errorf("dpm: own partition %q is not a partition of CPC %s", b.cfg.OwnPartition, b.cfg.CPC)
		}
		dir, to := b.cfg.DeviceDir, b.cfg.DeviceTimeout
		if dir == "" {
			dir = "/dev/disk/by-id"
		}
		if to == 0 {
			to = 60 * time.Second
		}
		b.volumes = &hmcVolumeWriter{b: b, ownURI: own, devDir: dir, timeout: to}
	}
	recs, err := b.cfg.Store.Guests()
	if err != nil {
		return fmt.Errorf("dpm: read the state store: %w", err)
	}
	for _, r := range recs {
		if r.Meta["storage_group"] == "" {
			continue
		}
		_, known := b.guests[r.UserID]
		switch {
		case r.Progress == store.Deleting, r.Progress == store.Creating && !known:
			b.log.Warn("finishing the release of a boot volume an interrupted call left", "userid", r.UserID, "storage_group", r.Meta["storage_group"])
			if err := b.releaseVolume(ctx, r); err != nil {
				return fmt.Errorf("dpm: release the boot volume of %s: %w", r.UserID, err)
			}
		}
	}
	return nil
}

// poolGroup reads and checks one pool storage group.
func (b *Backend) poolGroup(ctx context.Context, id string) (poolVolume, error) {
	uri := "/api/storage-groups/" + id
	var g struct {
		CPC   string   `json:"cpc-uri"`
		Type  string   `json:"type"`
		State string   `json:"fulfillment-state"`
		Vols  []string `json:"storage-volume-uris"`
	}
	if err := b.c.Get(ctx, uri, &g); err != nil {
		return poolVolume{}, err
	}
	if g.CPC != b.cpcURI {
		return poolVolume{}, fmt.Errorf("belongs to %s, not to CPC %s", g.CPC, b.cfg.CPC)
	}
	if g.Type != "fcp" {
		return poolVolume{}, fmt.Errorf("type %q: want fcp", g.Type)
	}
	if g.State != "complete" {
		return poolVolume{}, fmt.Errorf("fulfillment-state %q: the SAN administrator has not fulfilled it yet", g.State)
	}
	var found []poolVolume
	for _, vu := range g.Vols {
		var v struct {
			Size  float64 `json:"size"`
			Usage string  `json:"usage"`
			UUID  string  `json:"uuid"`
			State string  `json:"fulfillment-state"`
		}
		if err := b.c.Get(ctx, vu, &v); err != nil {
			return poolVolume{}, err
		}
		if v.Usage != "boot" {
			continue
		}
		if !isHex(strings.ToLower(v.UUID), 32) || v.State != "complete" {
			return poolVolume{}, fmt.Errorf("boot volume %s: uuid %q, fulfillment-state %q: want 32 hex digits and complete", vu, v.UUID, v.State)
		}
		found = append(found, poolVolume{Volume: Volume{GroupURI: uri, URI: vu, UUID: v.UUID, Size: int64(v.Size * float64(gib))}, groupID: id})
	}
	if len(found) != 1 {
		return poolVolume{}, fmt.Errorf("has %d volumes of usage boot: want exactly one", len(found))
	}
	return found[0], nil
}

// takeVolume assigns userid the smallest free pool volume of at least
// size bytes and records it (progress "creating"). Called with b.mu held.
func (b *Backend) takeVolume(userid string, size int64) (poolVolume, error) {
	recs, err := b.cfg.Store.Guests()
	if err != nil {
		return poolVolume{}, internal(api.ModGuest, err)
	}
	used := map[string]bool{}
	for _, r := range recs {
		used[r.Meta["storage_group"]] = true
	}
	largest := int64(0)
	for _, v := range b.pool {
		largest = max(largest, v.Size)
		if used[v.GroupURI] || v.Size < size {
			continue
		}
		rec := store.Guest{UserID: userid, Progress: store.Creating, Meta: map[string]string{"storage_group": v.GroupURI, "boot_volume": v.URI}}
		if err := b.cfg.Store.PutGuest(rec); err != nil {
			return poolVolume{}, internal(api.ModGuest, err)
		}
		return v, nil
	}
	// The original's disk pool has no room: resources exhausted in the
	// conflict class this backend answers for processors and memory.
	return poolVolume{}, exhausted(3, "Guest '%s' asks for a %d GiB boot volume; no free volume of the boot pool of %s holds it (%d volumes, the largest %d GiB)",
		userid, (size+gib-1)/gib, b.cfg.Host, len(b.pool), largest/gib)
}

// volumeOf is userid's boot volume assignment.
func (b *Backend) volumeOf(userid string) (store.Guest, poolVolume, error) {
	if b.cfg.Store == nil {
		return store.Guest{}, poolVolume{}, store.ErrNotFound
	}
	r, err := b.cfg.Store.Guest(userid)
	if err != nil {
		return r, poolVolume{}, err
	}
	for _, v := range b.pool {
		if v.GroupURI == r.Meta["storage_group"] {
			return r, v, nil
		}
	}
	return r, poolVolume{}, fmt.Errorf("guest %s: storage group %s is no longer in the boot pool", userid, r.Meta["storage_group"])
}

// releaseVolume wipes what the deploy wrote and returns the volume.
func (b *Backend) releaseVolume(ctx context.Context, r store.Guest) error {
	r.Progress = store.Deleting
	if err := b.cfg.Store.PutGuest(r); err != nil {
		return err
	}
	written, _ := strconv.ParseInt(r.Meta["written"], 10, 64)
	drive, _ := strconv.ParseInt(r.Meta["config_drive_at"], 10, 64)
	if written > 0 {
		var v poolVolume
		for _, p := range b.pool {
			if p.GroupURI == r.Meta["storage_group"] {
				v = p
			}
		}
		if v.URI != "" {
			f, err := b.volumes.Open(ctx, v.Volume)
			if err != nil {
				return err
			}
			err = f.Zero(0, min(written, v.Size))
			if err == nil && drive > 0 && drive < v.Size {
				err = f.Zero(drive, v.Size-drive)
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("wipe %s: %w", v.URI, err)
			}
			b.log.Info("boot volume wiped", "userid", r.UserID, "volume", v.URI, "bytes", written)
		}
	}
	return b.cfg.Store.DeleteGuest(r.UserID)
}

// deployImage writes the repository image onto userid's boot volume and
// returns the boot reference for it.
func (b *Backend) deployImage(ctx context.Context, userid string, im store.Image, spec api.DeploySpec) (string, error) {
	r, v, err := b.volumeOf(userid)
	if errors.Is(err, store.ErrNotFound) {
		return "", inputErr(api.ModGuest, "guest %s has no boot volume of the pool: it was created without one (configure boot_pool and create it again)", userid)
	}
	if err != nil {
		return "", internal(api.ModGuest, err)
	}
	d, err := imagerepo.Open(im.Path)
	if err != nil {
		return "", internal(api.ModGuest, fmt.Errorf("image %s: %w", im.Name, err))
	}
	defer d.Close()
	if d.Size > v.Size {
		return "", inputErr(api.ModGuest, "image %s is %d bytes, the boot volume %s of %s only %d", im.Name, d.Size, v.URI, userid, v.Size)
	}
	var drive []byte
	if spec.TransportFiles != "" {
		if drive, err = b.fetchConfigDrive(ctx, userid, spec); err != nil {
			return "", err
		}
	}
	r.Progress, r.Image = store.Deploying, im.Name
	r.Meta["written"] = strconv.FormatInt(d.Size, 10) // wipe covers a half-written image
	if err := b.cfg.Store.PutGuest(r); err != nil {
		return "", internal(api.ModGuest, err)
	}
	f, err := b.volumes.Open(ctx, v.Volume)
	if err != nil {
		return "", hmcErr(api.ModGuest, "open the boot volume of "+userid, err)
	}
	err = writeImage(ctx, f, d, d.Size)
	if err == nil && drive != nil {
		err = b.writeConfigDrive(userid, &r, f, d, v, drive)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", internal(api.ModGuest, fmt.Errorf("write image %s onto %s: %w", im.Name, v.URI, err))
	}
	r.Progress = store.Deployed
	if err := b.cfg.Store.PutGuest(r); err != nil {
		return "", internal(api.ModGuest, err)
	}
	b.log.Info("image written onto the boot volume", "userid", userid, "image", im.Name, "format", d.Format, "volume", v.URI, "bytes", d.Size)
	return "storage-volume:" + v.URI, nil
}

// writeConfigDrive puts the config drive at the volume's end and adds it
// to the partition table (cfgdrive.go); it records where, for the wipe.
func (b *Backend) writeConfigDrive(userid string, r *store.Guest, f VolumeFile, d *imagerepo.Disk, v poolVolume, drive []byte) error {
	off, mbr, why := configDrivePlan(d, d.Size, v.Size, drive)
	if why != nil {
		b.log.Warn("no config drive on the boot volume: cloud-init will find none", "userid", userid, "reason", why)
		return nil
	}
	r.Meta["config_drive_at"] = strconv.FormatInt(off, 10)
	if err := b.cfg.Store.PutGuest(*r); err != nil {
		return err
	}
	if _, err := f.WriteAt(drive, off); err != nil {
		return fmt.Errorf("write the config drive at %d: %w", off, err)
	}
	if _, err := f.WriteAt(mbr, 0); err != nil {
		return fmt.Errorf("write the partition table: %w", err)
	}
	b.log.Info("config drive written as partition 2 of the boot volume", "userid", userid, "offset", off, "bytes", len(drive))
	return nil
}
