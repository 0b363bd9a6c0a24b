package dpm_test

import (
	"strings"
	"testing"

	"github.com/zguest/zguest/hostside/api"
)

// TestDeviceNumbersChosenByTheBackend: NICs get 0001, 0004, ... without a
// read-back per NIC, and a number taken by something the backend does not
// track (here a NIC made on the HMC directly) is left to the HMC.
func TestDeviceNumbersChosenByTheBackend(t *testing.T) {
	e := setup(t, inventory("2.20", true), nil)
	if _, err := e.b.CreateGuest(ctx, api.GuestSpec{UserID: "DEV", VCPUs: 1, Memory: 512}); err != nil {
		t.Fatal(err)
	}
	p, _ := e.sim.Partition("OpenStack-host-a-DEV")
	// Someone else took 0004 on the HMC.
	if _, err := e.c.Create(ctx, "/api/partitions/"+p.ObjectID+"/nics", map[string]any{
		"name": "foreign", "virtual-switch-uri": "/api/virtual-switches/vs1", "device-number": "0004"}); err != nil {
		t.Fatal(err)
	}
	e.sim.ResetCounts()
	out, err := e.b.CreateNetworkInterface(ctx, "DEV", api.InterfaceSpec{GuestNetworks: nets(3)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range out {
		got = append(got, n.NICVdev)
	}
	// 0001 is free; 0004 clashes, so the HMC chose for the second NIC
	// (the first free number after its own 0004..0006 is 0007); the third
	// is chosen by the backend again, after the numbers it now knows.
	if strings.Join(got, ",") != "0001,0007,000A" {
		t.Errorf("device numbers %v", got)
	}
	c := e.sim.Counts()
	if reads, creates := c["GET /api/partitions/{id}/nics/{id}"], c["POST /api/partitions/{id}/nics"]; reads != 1 || creates != 4 {
		t.Errorf("%d NIC read-backs (want 1: only where the HMC chose) and %d creates (want 4: one retry)", reads, creates)
	}
	p, _ = e.sim.Partition("OpenStack-host-a-DEV")
	if p.BootOSSpecificParameters != " 0001,1,020000000100; 0007,1,020000000101; 000A,1,020000000102;" {
		t.Errorf("boot string %q", p.BootOSSpecificParameters)
	}
}
