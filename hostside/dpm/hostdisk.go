package dpm

import (
	"context"
	"math"
	"net/url"

	"github.com/zguest/zguest/hostside/hmc"
)

// diskGB is GET /host's disk figures for DPM: the volumes of the CPC's
// storage groups (z14 and later, dpm-storage-management). total is the
// sum of their sizes, used the volumes of the groups attached to this
// host's partitions, in whole GiB (sizes are GiB on the HMC). ok is
// false when the CPC has no storage groups (z13 class: FCP LUNs are
// invisible to the HMC), and the figures are then 0.
func (b *Backend) diskGB(ctx context.Context, cpc *hmc.CPC) (total, used int, ok bool, err error) {
	var groups struct {
		List []struct {
			URI string `json:"object-uri"`
		} `json:"storage-groups"`
	}
	if err := b.c.Get(ctx, "/api/storage-groups?cpc-uri="+url.QueryEscape(cpc.URI), &groups); err != nil {
		if hmc.IsStatus(err, 404) || hmc.IsStatus(err, 400) {
			return 0, 0, false, nil // no storage-group support on this HMC or CPC
		}
		return 0, 0, false, err
	}
	size := map[string]float64{}
	var sum float64
	for _, g := range groups.List {
		var vols struct {
			List []struct {
				Size float64 `json:"size"`
			} `json:"storage-volumes"`
		}
		if err := b.c.Get(ctx, g.URI+"/storage-volumes", &vols); err != nil {
			return 0, 0, false, err
		}
		for _, v := range vols.List {
			size[g.URI] += v.Size
		}
		sum += size[g.URI]
	}
	b.mu.Lock()
	var parts []string
	for _, g := range b.guests {
		if g != nil {
			parts = append(parts, g.uri)
		}
	}
	b.mu.Unlock()
	attached := map[string]bool{}
	for _, p := range parts {
		sgs, _, err := b.storageGroups(ctx, p)
		if err != nil {
			return 0, 0, false, err
		}
		for _, sg := range sgs {
			attached[sg] = true
		}
	}
	var inUse float64
	for sg := range attached {
		inUse += size[sg]
	}
	return int(math.Floor(sum)), int(math.Ceil(inUse)), true, nil
}
