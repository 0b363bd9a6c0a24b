package zvm_test

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/api/apitest"
)

// TestNotExistAnswers checks every "does not exist" / "already exists"
// answer of the REST routes on the z/VM backend against the original's
// (zvmsdk returncode.py with the raising code in database.py, api.py,
// vmops.py, smtclient.py): nova's driver acts on overallRC, and the
// texts are what operators search for.
func TestNotExistAnswers(t *testing.T) {
	r := newRig(t, nil)
	srv := httptest.NewServer(api.NewHandler(r.b, api.Options{}))
	defer srv.Close()
	cl := &apitest.Client{Base: srv.URL}
	ctx := context.Background()
	img := filepath.Join(r.dir, "img.raw")
	os.WriteFile(img, make([]byte, 1<<20), 0o644)
	meta := map[string]any{"os_version": "ubuntu22.04"}
	if rep, err := cl.ImageImport(ctx, "img1", "file://"+img, meta, ""); err != nil || rep.OverallRC != 0 {
		t.Fatalf("import: %v %s", err, rep.Raw)
	}
	if rep, err := cl.GuestCreate(ctx, "G1", 1, 512, []map[string]any{{"size": "1g", "is_boot_disk": true}}); err != nil || rep.OverallRC != 0 {
		t.Fatalf("create: %v %s", err, rep.Raw)
	}
	for _, c := range []struct {
		name              string
		call              func() (*apitest.Reply, error)
		status, overallRC int
		modID, rc, rs     int
		errmsg            string
	}{
		// image_query_record: SDKObjectNotExistError(obj_desc="Image with name: ...", modID image).
		{"image_query unknown", func() (*apitest.Reply, error) { return cl.ImageQuery(ctx, "nope") },
			404, 404, api.ModImage, 404, 1, "Image with name: nope does not exist."},
		// image_get_root_disk_size calls image_query first.
		{"image_get_root_disk_size unknown", func() (*apitest.Reply, error) { return cl.ImageGetRootDiskSize(ctx, "nope") },
			404, 404, api.ModImage, 404, 1, "Image with name: nope does not exist."},
		// image_delete of a missing image only logs a warning.
		{"image_delete unknown", func() (*apitest.Reply, error) { return cl.ImageDelete(ctx, "nope") },
			200, 0, 0, 0, 0, ""},
		// image_import of a name in the database: SDKImageOperationError rs 13
		// (HTTP 409 and 404 below: sdkwsgi's handlers map these two).
		{"image_import existing", func() (*apitest.Reply, error) { return cl.ImageImport(ctx, "img1", "file://"+img, meta, "") },
			409, 300, api.ModImage, 300, 13, "Image import error: image name img1 already exist in image database"},
		// guest_deploy: _get_image_path_by_name turns the 404 into rs 20.
		{"guest_deploy unknown image", func() (*apitest.Reply, error) { return cl.GuestDeploy(ctx, "G1", "nope", "", "") },
			404, 300, api.ModImage, 300, 20, "The image record of nope does not exist"},
		// check_guest_exist: SDKObjectNotExistError("Guest 'X'", modID guest).
		{"guest_get_power_state unknown", func() (*apitest.Reply, error) { return cl.GuestGetPowerState(ctx, "nope") },
			404, 404, api.ModGuest, 404, 1, "Guest 'NOPE' does not exist."},
		{"guest_get_info unknown", func() (*apitest.Reply, error) { return cl.GuestGetInfo(ctx, "nope") },
			404, 404, api.ModGuest, 404, 1, "Guest 'NOPE' does not exist."},
		{"guest_start unknown", func() (*apitest.Reply, error) { return cl.GuestAction(ctx, "nope", "start", nil) },
			404, 404, api.ModGuest, 404, 1, "Guest 'NOPE' does not exist."},
		{"guest_pause unknown", func() (*apitest.Reply, error) { return cl.GuestAction(ctx, "nope", "pause", nil) },
			404, 404, api.ModGuest, 404, 1, "Guest 'NOPE' does not exist."},
		{"guest_get_console_output unknown", func() (*apitest.Reply, error) { return cl.GuestAction(ctx, "nope", "get_console_output", nil) },
			404, 404, api.ModGuest, 404, 1, "Guest 'NOPE' does not exist."},
		{"guest_deploy unknown guest", func() (*apitest.Reply, error) { return cl.GuestDeploy(ctx, "nope", "img1", "", "") },
			404, 404, api.ModGuest, 404, 1, "Guest 'NOPE' does not exist."},
		{"guest_create_network_interface unknown", func() (*apitest.Reply, error) {
			return cl.GuestCreateNetworkInterface(ctx, "nope", "ubuntu22.04", []map[string]any{{"ip_addr": "10.0.0.9", "cidr": "10.0.0.0/24"}})
		}, 404, 404, api.ModGuest, 404, 1, "Guest 'NOPE' does not exist."},
		// guest_delete of a userid neither in the database nor in the
		// directory returns quietly.
		{"guest_delete unknown", func() (*apitest.Reply, error) { return cl.GuestDelete(ctx, "nope") },
			200, 0, 0, 0, 0, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep, err := c.call()
			if err != nil {
				t.Fatal(err)
			}
			if rep.Status != c.status || rep.OverallRC != c.overallRC || rep.RC != c.rc || rep.RS != c.rs || rep.ErrMsg != c.errmsg ||
				(c.overallRC != 0 && (rep.ModID == nil || *rep.ModID != c.modID)) {
				t.Errorf("got HTTP %d %s\nwant HTTP %d overallRC %d modID %d rc %d rs %d errmsg %q", rep.Status, rep.Raw,
					c.status, c.overallRC, c.modID, c.rc, c.rs, c.errmsg)
			}
		})
	}
}
