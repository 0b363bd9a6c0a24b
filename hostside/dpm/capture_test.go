package dpm_test

import (
	"strings"
	"testing"

	"github.com/zguest/zguest/hostside/api"
)

func TestCaptureAndExportNotSupported(t *testing.T) {
	e := setup(t, inventory("2.40", true), nil)
	if _, err := e.b.CreateGuest(ctx, api.GuestSpec{UserID: "SNAP1", VCPUs: 1, Memory: 512}); err != nil {
		t.Fatal(err)
	}
	ae := apiErr(t, e.b.Capture(ctx, "SNAP1", api.CaptureSpec{Image: "x", CaptureType: "rootonly", CompressLevel: 6}))
	if ae.OverallRC != 501 || ae.RC != 501 || ae.RS != 1 || ae.ModID != api.ModGuest ||
		!strings.HasPrefix(ae.Msg, "The requested function: guest_capture has not been implemented in current release: DPM partitions") {
		t.Errorf("capture: %+v", ae)
	}
	if ae := apiErr(t, e.b.Capture(ctx, "NOSUCH", api.CaptureSpec{Image: "x"})); ae.OverallRC != 404 {
		t.Errorf("capture of an unknown guest: %+v", ae)
	}
	_, err := e.b.ExportImage(ctx, "x", api.ExportSpec{DestURL: "file:///tmp/x"})
	if ae := apiErr(t, err); ae.OverallRC != 501 || ae.ModID != api.ModImage || !strings.Contains(ae.Msg, "image_export") {
		t.Errorf("export: %+v", ae)
	}
}
