package dpm_test

import "testing"

func TestHostDiskFromStorageGroups(t *testing.T) {
	e := setup(t, inventory("2.20", true), nil)
	hi, err := e.b.HostInfo(ctx)
	if err != nil || hi.DiskTotal != 10 || hi.DiskUsed != 0 || hi.DiskAvailable != 10 {
		t.Fatalf("before spawn: %+v %v", hi, err)
	}
	e.spawn(t, "DISK1", 1) // deploy attaches the boot volume's group
	hi, err = e.b.HostInfo(ctx)
	if err != nil || hi.DiskTotal != 10 || hi.DiskUsed != 10 || hi.DiskAvailable != 0 {
		t.Errorf("after spawn: %+v %v", hi, err)
	}
	// A z13-class CPC has no storage groups: the figures are 0, no error.
	z13 := setup(t, inventory("2.20", false), nil)
	if hi, err := z13.b.HostInfo(ctx); err != nil || hi.DiskTotal != 0 || hi.VCPUs != 4 {
		t.Errorf("z13: %+v %v", hi, err)
	}
}
