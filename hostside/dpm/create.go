package dpm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/hmc"
	"github.com/zguest/zguest/hostside/store"
)

// CreateGuest creates the partition (stopped) with the request's
// processors and memory, and, with storage mappings, one HBA per mapping.
// Disks are not created: DPM guests boot from an FCP volume (Deploy).
func (b *Backend) CreateGuest(ctx context.Context, s api.GuestSpec) ([]api.Disk, error) {
	ctx, cancel := api.OpContext(ctx, "create", b.cfg.Timeouts.Create)
	defer cancel()
	if s.VCPUs < 1 || s.Memory < 1 {
		return nil, inputErr(api.ModGuest, "vcpus %d, memory %d MiB: want at least 1 each", s.VCPUs, s.Memory)
	}
	// Reserve the resources before asking the HMC, so that parallel
	// creates cannot overrun the subset.
	b.mu.Lock()
	if _, ok := b.guests[s.UserID]; ok {
		b.mu.Unlock()
		return nil, &api.Error{OverallRC: 409, ModID: api.ModGuest, RC: 409, RS: 8, Msg: fmt.Sprintf("Guest '%s' already exists", s.UserID)}
	}
	if s.VCPUs > b.cfg.MaxProcessors {
		b.mu.Unlock()
		return nil, exhausted(1, "Guest '%s' asks for %d processors; the CPC subset %s has at most %d", s.UserID, s.VCPUs, b.cfg.Host, b.cfg.MaxProcessors)
	}
	mem := 0
	for _, g := range b.guests {
		if g != nil {
			mem += g.mem
		}
	}
	if mem+s.Memory > b.cfg.MaxMemoryMB {
		b.mu.Unlock()
		return nil, exhausted(2, "Guest '%s' asks for %d MiB; the CPC subset %s has %d MiB of %d MiB left", s.UserID, s.Memory, b.cfg.Host, b.cfg.MaxMemoryMB-mem, b.cfg.MaxMemoryMB)
	}
	var vol *poolVolume
	if len(b.pool) > 0 {
		size := int64(0)
		for _, d := range s.DiskList {
			if d.IsBootDisk {
				n, err := parseDiskSize(d.Size)
				if err != nil {
					b.mu.Unlock()
					return nil, inputErr(api.ModGuest, "guest %s: boot disk: %v", s.UserID, err)
				}
				size = n
			}
		}
		v, err := b.takeVolume(s.UserID, size)
		if err != nil {
			b.mu.Unlock()
			return nil, err
		}
		vol = &v
	}
	pending := &guest{procs: s.VCPUs, mem: s.Memory, nics: map[string]string{}}
	b.guests[s.UserID] = pending
	b.mu.Unlock()

	g, err := b.create(ctx, s)
	if vol != nil {
		if err != nil {
			if derr := b.cfg.Store.DeleteGuest(s.UserID); derr != nil {
				b.log.Error("could not return the boot volume of a failed create", "userid", s.UserID, "error", derr)
			}
		} else if perr := b.cfg.Store.PutGuest(store.Guest{UserID: s.UserID, Progress: store.Created,
			Meta: map[string]string{"storage_group": vol.GroupURI, "boot_volume": vol.URI}}); perr != nil {
			b.log.Error("could not record the boot volume of a create", "userid", s.UserID, "error", perr)
		}
	}
	b.mu.Lock()
	if err != nil {
		delete(b.guests, s.UserID)
	} else {
		b.guests[s.UserID] = g
	}
	b.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if vol != nil {
		b.log.Info("boot volume assigned", "userid", s.UserID, "storage_group", vol.GroupURI, "volume", vol.URI, "gib", vol.Size/gib)
	}
	b.log.Info("created partition", "userid", s.UserID, "partition", b.PartitionName(s.UserID), "vcpus", s.VCPUs, "memory_mb", s.Memory)
	return nil, nil
}

func (b *Backend) create(ctx context.Context, s api.GuestSpec) (*guest, error) {
	uri, err := b.c.Create(ctx, b.cpcURI+"/partitions", map[string]any{
		"name":           b.PartitionName(s.UserID),
		"description":    b.description(),
		"ifl-processors": s.VCPUs,
		"initial-memory": s.Memory,
		"maximum-memory": s.Memory,
	})
	if err != nil {
		return nil, hmcErr(api.ModGuest, "create partition for "+s.UserID, err)
	}
	g := &guest{uri: uri, procs: s.VCPUs, mem: s.Memory, nics: map[string]string{}}
	for i, m := range b.cfg.Storage {
		h, err := b.c.Create(ctx, uri+"/hbas", map[string]any{
			"name":             fmt.Sprintf("OpenStack_Port_%s_%d", m.Adapter, m.Port),
			"description":      b.description(),
			"adapter-port-uri": fmt.Sprintf("%s/storage-ports/%d", hmc.AdapterURI(m.Adapter), m.Port),
		})
		if err != nil {
			b.undoCreate(s.UserID, uri)
			return nil, hmcErr(api.ModGuest, "create HBA for "+s.UserID, err)
		}
		if i == 0 {
			g.hba = h
		}
	}
	return g, nil
}

// undoCreate deletes a partition made by a create that failed later;
// it uses its own context so that a canceled request still cleans up.
func (b *Backend) undoCreate(userid, uri string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := b.c.Delete(ctx, uri); err != nil && !hmc.IsStatus(err, 404) {
		b.log.Error("could not delete the partition of a failed create; delete it by hand", "userid", userid, "uri", uri, "error", err)
	}
}

// DeleteGuest stops the partition (a stopped one is fine) and deletes it
// with its NICs and HBAs. A guest that does not exist is not an error.
func (b *Backend) DeleteGuest(ctx context.Context, userid string) error {
	if err := b.deletePartition(ctx, userid); err != nil {
		return err
	}
	if r, _, err := b.volumeOf(userid); err == nil || r.Meta["storage_group"] != "" {
		if err := b.releaseVolume(ctx, r); err != nil {
			return internal(api.ModGuest, fmt.Errorf("return the boot volume of %s to the pool: %w", userid, err))
		}
		b.log.Info("boot volume returned to the pool", "userid", userid, "storage_group", r.Meta["storage_group"])
	}
	return nil
}

func (b *Backend) deletePartition(ctx context.Context, userid string) error {
	g, err := b.lookup(ctx, userid)
	var ae *api.Error
	if errors.As(err, &ae) && ae.OverallRC == 404 {
		return nil
	}
	if err != nil {
		return err
	}
	if err := b.stop(ctx, userid, g, b.cfg.StatusTimeout); err != nil {
		if errors.As(err, &ae) && ae.OverallRC == 404 {
			b.forget(userid)
			return nil
		}
		return err
	}
	if err := b.detachOwnStorageGroups(ctx, userid, g.uri); err != nil {
		if hmc.IsStatus(err, 404) {
			b.forget(userid)
			return nil
		}
		return hmcErr(api.ModGuest, "detach the storage groups of "+userid, err)
	}
	if err := b.c.Delete(ctx, g.uri); err != nil && !hmc.IsStatus(err, 404) {
		return hmcErr(api.ModGuest, "delete partition of "+userid, err)
	}
	b.forget(userid)
	b.log.Info("deleted partition", "userid", userid)
	return nil
}

// GuestInfo reports the partition's state, memory and processors.
func (b *Backend) GuestInfo(ctx context.Context, userid string) (api.GuestInfo, error) {
	_, p, err := b.partition(ctx, userid)
	if err != nil {
		return api.GuestInfo{}, err
	}
	return api.GuestInfo{
		PowerState: powerState(p.Status),
		MaxMemKB:   int64(p.MaximumMemory) * 1024,
		MemKB:      int64(p.InitialMemory) * 1024,
		NumCPU:     p.IFLProcessors,
	}, nil
}

// PowerState is "on" or "off" (see the package doc).
func (b *Backend) PowerState(ctx context.Context, userid string) (string, error) {
	_, p, err := b.partition(ctx, userid)
	if err != nil {
		return "", err
	}
	return powerState(p.Status), nil
}

func powerState(status string) string {
	switch strings.ToLower(status) {
	case "active", "degraded", "reservation-error", "starting", "stopping":
		return "on"
	}
	return "off"
}

// Deploy sets the boot properties for the FCP volume d.Image names:
// "storage-volume:<URI>" or "fcp:<target WWPN>:<LUN>" (package doc).
func (b *Backend) Deploy(ctx context.Context, userid string, d api.DeploySpec) error {
	ctx, cancel := api.OpContext(ctx, "deploy", b.cfg.Timeouts.Deploy)
	defer cancel()
	image := d.Image
	if b.cfg.Store != nil && !strings.HasPrefix(image, "storage-volume:") && !strings.HasPrefix(image, "fcp:") {
		im, err := b.cfg.Store.Image(image)
		if errors.Is(err, store.ErrNotFound) {
			return api.ImageNotExist(image)
		}
		if err != nil {
			return internal(api.ModImage, err)
		}
		if _, err := b.lookup(ctx, userid); err != nil {
			return err
		}
		if image, err = b.deployImage(ctx, userid, im, d); err != nil {
			return err
		}
	}
	props, err := b.bootProps(image)
	if err != nil {
		return err
	}
	g, err := b.lookup(ctx, userid)
	if err != nil {
		return err
	}
	if props["boot-device"] == "storage-adapter" {
		if g.hba == "" {
			return inputErr(api.ModGuest, "image %q boots through an HBA, but no storage adapter mapping is configured (z13-class machines); use storage-volume:<URI> on later ones", d.Image)
		}
		props["boot-storage-device"] = g.hba
	}
	if d.TransportFiles != "" && image == d.Image {
		b.log.Warn("transport files are ignored: a DPM partition has no virtual reader (only a deploy of an imported image writes the config drive onto the volume)", "userid", userid)
	}
	// z14 and later: the boot volume's storage group must be attached.
	attached := ""
	if vol, ok := props["boot-storage-volume"].(string); ok {
		sg := storageGroupOf(vol)
		did, err := b.attachStorageGroup(ctx, userid, g.uri, sg)
		if err != nil {
			return err
		}
		if did {
			attached = sg
		}
	}
	if err := b.c.Update(ctx, g.uri, props); err != nil {
		if attached != "" {
			// Undo this call's attach, with its own context so that a
			// canceled request still cleans up.
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 60*time.Second)
			if derr := b.detachStorageGroup(cctx, g.uri, attached); derr != nil {
				b.log.Error("could not detach the storage group of a failed deploy", "userid", userid, "storage_group", attached, "error", derr)
			}
			cancel()
		}
		return hmcErr(api.ModGuest, "set the boot properties of "+userid, err)
	}
	b.log.Info("boot properties set", "userid", userid, "boot_device", props["boot-device"])
	return nil
}

// bootProps parses a boot volume reference into boot properties.
func (b *Backend) bootProps(image string) (map[string]any, error) {
	if uri, ok := strings.CutPrefix(image, "storage-volume:"); ok && storageGroupOf(uri) != "" {
		return map[string]any{"boot-device": "storage-volume", "boot-storage-volume": uri}, nil
	}
	if rest, ok := strings.CutPrefix(image, "fcp:"); ok {
		wwpn, lun, ok := strings.Cut(rest, ":")
		wwpn = strings.TrimPrefix(strings.ToLower(wwpn), "0x")
		lun = strings.TrimPrefix(strings.ToLower(lun), "0x")
		if ok && isHex(wwpn, 16) && lun != "" && len(lun) <= 16 && isHex(lun, len(lun)) {
			// guess: the HMC wants the LUN as 16 hex digits (nova-dpm passed
			// Cinder's decimal target_lun verbatim, a known risk).
			return map[string]any{
				"boot-device":               "storage-adapter",
				"boot-world-wide-port-name": wwpn,
				"boot-logical-unit-number":  strings.Repeat("0", 16-len(lun)) + lun,
			}, nil
		}
	}
	return nil, inputErr(api.ModGuest, "image %q: DPM guests boot from an FCP volume; want storage-volume:/api/storage-groups/<id>/storage-volumes/<id> or fcp:<16 hex WWPN>:<hex LUN>", image)
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
