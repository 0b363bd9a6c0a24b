package dpm_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/zguest/zguest/hostside/api"
)

// TestStorageGroupAttachDetach: deploy attaches the boot volume's storage
// group (once, a second deploy is fine), and delete detaches it only when
// no other partition has it attached.
func TestStorageGroupAttachDetach(t *testing.T) {
	e := setup(t, inventory("2.20", true), nil)
	const attach = "POST /api/partitions/{id}/operations/attach-storage-group"
	const detach = "POST /api/partitions/{id}/operations/detach-storage-group"
	sgs := func(userid string) string {
		t.Helper()
		p, ok := e.sim.Partition("OpenStack-host-a-" + userid)
		if !ok {
			return "gone"
		}
		return fmt.Sprint(p.StorageGroups)
	}
	e.spawn(t, "G1", 1)
	if got := sgs("G1"); got != "[sg1]" {
		t.Fatalf("G1 storage groups after spawn: %s", got)
	}
	if n := e.sim.Counts()[attach]; n != 1 {
		t.Errorf("%d attach calls, want 1", n)
	}
	// Deploy again: the group is attached already (409/1 resolved).
	if err := e.b.Deploy(ctx, "G1", api.DeploySpec{Image: "storage-volume:" + volURI}); err != nil {
		t.Fatalf("second deploy: %v", err)
	}
	if got := sgs("G1"); got != "[sg1]" {
		t.Errorf("G1 storage groups after a second deploy: %s", got)
	}
	// A second guest booting from the same group shares it.
	e.spawn(t, "G2", 1)
	if got := sgs("G2"); got != "[sg1]" {
		t.Fatalf("G2 storage groups: %s", got)
	}
	e.sim.ResetCounts()
	if err := e.b.DeleteGuest(ctx, "G1"); err != nil {
		t.Fatalf("delete G1: %v", err)
	}
	if n := e.sim.Counts()[detach]; n != 0 {
		t.Errorf("a group G2 still uses was detached (%d calls)", n)
	}
	if got := sgs("G2"); got != "[sg1]" {
		t.Errorf("G2 storage groups after deleting G1: %s", got)
	}
	if err := e.b.DeleteGuest(ctx, "G2"); err != nil {
		t.Fatalf("delete G2: %v", err)
	}
	if n := e.sim.Counts()[detach]; n != 1 {
		t.Errorf("%d detach calls for the last user of the group, want 1", n)
	}
	if ps := e.sim.Partitions(); len(ps) != 0 {
		t.Errorf("partitions left: %v", ps)
	}
}

// TestStorageGroupAttachFailureSetsNothing: a refused attach (unknown
// storage group) is reported with the HMC's codes and the boot
// properties are not written.
func TestStorageGroupAttachFailureSetsNothing(t *testing.T) {
	e := setup(t, inventory("2.20", true), nil)
	if _, err := e.b.CreateGuest(ctx, api.GuestSpec{UserID: "G1", VCPUs: 1, Memory: 512}); err != nil {
		t.Fatal(err)
	}
	err := e.b.Deploy(ctx, "G1", api.DeploySpec{Image: "storage-volume:/api/storage-groups/nosuch/storage-volumes/vol1"})
	if ae := apiErr(t, err); ae.RC != 404 || ae.RS != 2 {
		t.Errorf("attach of an unknown group: %v", err)
	}
	p, _ := e.sim.Partition("OpenStack-host-a-G1")
	if p.Properties["boot-device"] == "storage-volume" || len(p.StorageGroups) != 0 {
		t.Errorf("after a refused attach: boot-device %v, groups %v", p.Properties["boot-device"], p.StorageGroups)
	}
}

// TestStorageGroupUpdateFailureDetaches: when the boot properties'
// update fails after this deploy attached the group, the group is
// detached again.
func TestStorageGroupUpdateFailureDetaches(t *testing.T) {
	e := setup(t, inventory("2.20", true), nil)
	if _, err := e.b.CreateGuest(ctx, api.GuestSpec{UserID: "G1", VCPUs: 1, Memory: 512}); err != nil {
		t.Fatal(err)
	}
	// vol9 does not exist in sg1: the attach succeeds, the update is refused.
	err := e.b.Deploy(ctx, "G1", api.DeploySpec{Image: "storage-volume:/api/storage-groups/sg1/storage-volumes/vol9"})
	if err == nil || !strings.Contains(err.Error(), "set the boot properties") {
		t.Fatalf("deploy of a missing volume: %v", err)
	}
	if n := e.sim.Counts()["POST /api/partitions/{id}/operations/attach-storage-group"]; n != 1 {
		t.Errorf("%d attach calls, want 1", n)
	}
	p, _ := e.sim.Partition("OpenStack-host-a-G1")
	if len(p.StorageGroups) != 0 {
		t.Errorf("groups left attached after a failed deploy: %v (%v)", p.StorageGroups, err)
	}
}
