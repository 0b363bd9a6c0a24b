package packaging

import (
	"slices"
	"testing"

	"github.com/zguest/zguest/hostside/daemon"
)

// TestTestMachineryNotShipped: no package ships zguest-sim (the
// simulators and the fake backend), and the packaged configuration
// admits nova's paths and nothing else.
func TestTestMachineryNotShipped(t *testing.T) {
	for _, p := range Packages {
		if p.Program == "zguest-sim" {
			t.Errorf("package %s ships zguest-sim", p.Name)
		}
	}
	b, err := data.ReadFile("files/hostd.json")
	if err != nil {
		t.Fatal(err)
	}
	c, err := daemon.ParseConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	if c.SourceAnyPath || !slices.Equal(c.SourceDirs, []string{"/var/lib/nova/images", "/var/lib/nova/instances"}) {
		t.Errorf("packaged source_dirs %v any_path %v", c.SourceDirs, c.SourceAnyPath)
	}
}
