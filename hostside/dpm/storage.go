package dpm

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/hmc"
)

// Storage groups (z14 and later, dpm-storage-management): a partition
// can boot from a storage volume only if the volume's storage group is
// attached to it. Deploy attaches the group of the boot volume; delete
// detaches the partition's groups that no other partition has attached
// (a group other partitions also use is left as it is: the partition's
// deletion drops its own attachment).

// storageGroupOf returns the storage group URI of a storage volume URI
// ("/api/storage-groups/<id>/storage-volumes/<id>"), or "".
func storageGroupOf(volumeURI string) string {
	rest, ok := strings.CutPrefix(volumeURI, "/api/storage-groups/")
	if !ok {
		return ""
	}
	id, vol, ok := strings.Cut(rest, "/storage-volumes/")
	if !ok || id == "" || vol == "" || strings.Contains(id, "/") {
		return ""
	}
	return "/api/storage-groups/" + id
}

// storageGroups reads the partition's storage-group-uris; present is
// false when the partition has no such property (a CPC without the
// dpm-storage-management feature, z13 class).
func (b *Backend) storageGroups(ctx context.Context, partURI string) (sgs []string, present bool, err error) {
	var v struct {
		SGs *[]string `json:"storage-group-uris"`
	}
	if err := b.c.Get(ctx, partURI, &v); err != nil {
		return nil, false, err
	}
	if v.SGs == nil {
		return nil, false, nil
	}
	return *v.SGs, true, nil
}

// attachStorageGroup attaches sg to the partition unless it already is.
// It reports whether this call attached it. The attach is tried first
// (the usual case is a group not yet attached); the HMC's 409 reason 1
// ("already attached" or a partition in transition) is resolved by
// reading the partition's storage-group-uris. On a CPC without storage
// groups (no storage-group-uris property) nothing is attached and the
// boot properties' update reports the HMC's refusal.
func (b *Backend) attachStorageGroup(ctx context.Context, userid, partURI, sg string) (bool, error) {
	_, err := b.c.Post(ctx, partURI+"/operations/attach-storage-group", map[string]any{"storage-group-uri": sg})
	if err == nil {
		b.log.Info("storage group attached", "userid", userid, "storage_group", sg)
		return true, nil
	}
	if errors.Is(err, hmc.Code(409, 1)) {
		sgs, present, gerr := b.storageGroups(ctx, partURI)
		if gerr == nil && (!present || slices.Contains(sgs, sg)) {
			return false, nil
		}
	}
	return false, hmcErr(api.ModGuest, fmt.Sprintf("attach storage group %s to %s", sg, userid), err)
}

// detachStorageGroup detaches sg from the partition; a group that is
// no longer attached (409 reason 1) or gone (404) is fine.
func (b *Backend) detachStorageGroup(ctx context.Context, partURI, sg string) error {
	_, err := b.c.Post(ctx, partURI+"/operations/detach-storage-group", map[string]any{"storage-group-uri": sg})
	if err == nil || hmc.IsStatus(err, 404) {
		return nil
	}
	if errors.Is(err, hmc.Code(409, 1)) {
		if sgs, _, gerr := b.storageGroups(ctx, partURI); gerr == nil && !slices.Contains(sgs, sg) {
			return nil
		}
	}
	return err
}

// detachOwnStorageGroups detaches, before the partition is deleted, the
// storage groups attached to it and to no other partition of the CPC.
// A partition without storage-group-uris (z13 class) costs one read.
func (b *Backend) detachOwnStorageGroups(ctx context.Context, userid, partURI string) error {
	sgs, _, err := b.storageGroups(ctx, partURI)
	if err != nil {
		return err
	}
	if len(sgs) == 0 {
		return nil
	}
	var list struct {
		Partitions []struct {
			URI string   `json:"object-uri"`
			SGs []string `json:"storage-group-uris"`
		} `json:"partitions"`
	}
	q := url.Values{"additional-properties": {"storage-group-uris"}}
	if err := b.c.Get(ctx, b.cpcURI+"/partitions?"+q.Encode(), &list); err != nil {
		return err
	}
	shared := map[string]bool{}
	for _, p := range list.Partitions {
		if p.URI == partURI {
			continue
		}
		for _, sg := range p.SGs {
			shared[sg] = true
		}
	}
	for _, sg := range sgs {
		if shared[sg] {
			b.log.Info("storage group left attached: other partitions use it", "userid", userid, "storage_group", sg)
			continue
		}
		if err := b.detachStorageGroup(ctx, partURI, sg); err != nil {
			return err
		}
		b.log.Info("storage group detached", "userid", userid, "storage_group", sg)
	}
	return nil
}
