package zvmcp

import (
	"context"
	"os"
	"path/filepath"
)

// Sysinfo returns the connector guest's /proc/sysinfo (under Root): the
// machine, LPAR and z/VM level the host daemon reports.
func (n *Native) Sysinfo(context.Context) ([]byte, error) {
	return os.ReadFile(filepath.Join(n.root(), "proc", "sysinfo"))
}

// Sysinfo returns the simulated connector guest's /proc/sysinfo.
func (r Remote) Sysinfo(ctx context.Context) ([]byte, error) {
	rep, err := r.call(ctx, WireRequest{Op: "sysinfo"})
	return rep.Data, err
}
