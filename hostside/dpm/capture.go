package dpm

import (
	"context"

	"github.com/zguest/zguest/hostside/api"
)

var (
	_ api.Capturer = (*Backend)(nil)
	_ api.Exporter = (*Backend)(nil)
)

// notSupported is the original's serviceNotSupport envelope (overallRC
// 501, rc 501, rs 1, "The requested function: <fn> has not been
// implemented in current release") with the reason for DPM added.
func notSupported(mod int, fn, why string) error {
	return &api.Error{OverallRC: 501, ModID: mod, RC: 501, RS: 1,
		Msg: "The requested function: " + fn + " has not been implemented in current release: " + why}
}

// Capture implements api.Capturer with a refusal: a partition's disks
// are FCP or FICON volumes of its storage groups, which this daemon never
// reads (nova-dpm has no snapshot either). A guest that does not exist
// is still the original's 404.
func (b *Backend) Capture(ctx context.Context, userid string, c api.CaptureSpec) error {
	if _, err := b.lookup(ctx, userid); err != nil {
		return err
	}
	return notSupported(api.ModGuest, "guest_capture",
		"DPM partitions boot from storage-group volumes the host daemon does not read, so they cannot be captured into an image (nova-dpm offers no snapshot either); snapshot the volume on the storage system instead")
}

// ExportImage implements api.Exporter with a refusal: the DPM backend
// keeps no images.
func (b *Backend) ExportImage(ctx context.Context, name string, e api.ExportSpec) (map[string]any, error) {
	return nil, notSupported(api.ModImage, "image_export",
		"the DPM backend keeps no image repository (partitions boot from FCP volumes)")
}
