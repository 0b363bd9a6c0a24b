package main

import (
	"os/exec"
	"strings"
	"testing"
)

// testMachinery are the packages that only cmd/zguest-sim and tests may
// link: the simulators and the in-memory fake backend.
var testMachinery = []string{
	"github.com/zguest/zguest/hostside/zvmsim",
	"github.com/zguest/zguest/hostside/hmcsim",
	"github.com/zguest/zguest/hostside/api/apitest",
}

// TestNoTestMachineryLinked checks the shipped daemon's package graph and
// the symbols of the built binary for the simulators and the fake backend.
func TestNoTestMachineryLinked(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	for _, p := range testMachinery {
		for _, d := range deps {
			if d == p || strings.HasPrefix(d, p+"/") {
				t.Errorf("zguest-hostd imports %s (test machinery belongs in cmd/zguest-sim)", d)
			}
		}
	}
	bin := build(t)
	syms, err := exec.Command("go", "tool", "nm", bin).Output()
	if err != nil {
		t.Fatalf("go tool nm %s: %v", bin, err)
	}
	for _, p := range testMachinery {
		if strings.Contains(string(syms), " "+p+".") {
			t.Errorf("the built zguest-hostd has symbols of %s", p)
		}
	}
	if !strings.Contains(string(syms), "github.com/zguest/zguest/hostside/zvm.") {
		t.Errorf("symbol check is blind: the built zguest-hostd has no symbols of hostside/zvm")
	}
}
