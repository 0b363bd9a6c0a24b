package main

import (
	"os/exec"
	"strings"
	"testing"
)

// AgentTags are the build tags the Makefile builds the agent with: the
// pure-Go resolver and user lookup, so that libudev is the only C code.
const AgentTags = "netgo,osusergo"

// TestDependencies keeps the agent small and pure: it must not link the
// host side, the image builder, HTTP servers or test emulators, and its
// only cgo dependency is libudev through go-udev.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-tags", AgentTags, "-deps", "-f", "{{.ImportPath}} {{if .CgoFiles}}cgo{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	forbidden := []string{"github.com/zguest/zguest/hostside", "github.com/zguest/zguest/builder",
		"github.com/zguest/zguest/internal/zkernel", "net/http", "github.com/hanwen/go-fuse"}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, cgo, _ := strings.Cut(line, " ")
		for _, f := range forbidden {
			if pkg == f || strings.HasPrefix(pkg, f+"/") {
				t.Errorf("the agent links %s", pkg)
			}
		}
		if cgo == "cgo" && pkg != "github.com/jochenvg/go-udev" && pkg != "runtime/cgo" {
			t.Errorf("cgo package %s: the agent's only cgo dependency is go-udev", pkg)
		}
	}
}
