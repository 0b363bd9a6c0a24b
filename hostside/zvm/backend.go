package zvm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/smapi"
	"github.com/zguest/zguest/hostside/source"
	"github.com/zguest/zguest/hostside/zvmcp"
)

// Config wires a Backend.
type Config struct {
	SMAPI *smapi.Client
	CP    zvmcp.CP
	Disks zvmcp.Disks
	Store Store // nil: NewMemStore()
	// ImageRepo is the image repository (default /var/lib/zvmsdk/images);
	// images live in <repo>/netboot/<os_version>/<name>/0100.
	ImageRepo string
	// DiskPool is the default pool, "ECKD:<group>" or "FBA:<group>".
	DiskPool string
	// Profile is the default directory profile (INCLUDE), "OSDFLT".
	Profile string
	// RootVdev (0100) and NICVdev (1000) are the first disk and NIC.
	RootVdev, NICVdev string
	// MaxCPU and MaxMem are the defaults of MACHINE ESA and the USER
	// statement's maximum storage (32, "64G").
	MaxCPU int
	MaxMem string
	// ShareUnit times the CPU count is the relative SHARE (100).
	ShareUnit int
	// SCP is the scp binary for remote transportfiles (/usr/bin/scp);
	// SSHPort is passed with -P (22).
	SCP     string
	SSHPort int
	// HostName, if set, is GET /host's hypervisor_hostname instead of
	// the z/VM system name (CP QUERY USERID).
	HostName string
	// Root, if set, is where the connector guest's /proc is found;
	// otherwise the CP access provides /proc/sysinfo if it can
	// (zvmcp.Native: under its root; the simulator: its own), else
	// /proc/sysinfo is read.
	Root string
	Log  *slog.Logger
	// Timeouts per operation kind (zero fields: defaults).
	Timeouts Timeouts
	// Sources opens the host files requests name (file:// imports,
	// transportfiles) under the daemon's source_dirs, with os.Root, at
	// the moment they are read; nil opens any regular file.
	Sources *source.Policy

	// crash, if set, is asked after each journal step whether to stop
	// there as a crash would (tests only, see export_test.go).
	crash func(kind, step string) bool
}

// Backend implements api.Backend for z/VM.
type Backend struct {
	c      Config
	store  Store
	log    *slog.Logger
	selfID atomic.Value // string: the connector's userid (hostinfo.go)
}

var _ api.Backend = (*Backend)(nil)

// New checks cfg and returns a Backend.
func New(cfg Config) (*Backend, error) {
	if cfg.SMAPI == nil || cfg.CP == nil || cfg.Disks == nil {
		return nil, errors.New("zvm backend: SMAPI, CP and Disks are required")
	}
	if cfg.Store == nil {
		cfg.Store = NewMemStore()
	}
	if cfg.ImageRepo == "" {
		cfg.ImageRepo = "/var/lib/zvmsdk/images"
	}
	if cfg.DiskPool == "" {
		cfg.DiskPool = "ECKD:POOL1"
	}
	if _, _, err := parsePool(cfg.DiskPool); err != nil {
		return nil, fmt.Errorf("zvm backend: disk_pool: %w", err)
	}
	if cfg.Profile == "" {
		cfg.Profile = "OSDFLT"
	}
	if cfg.RootVdev == "" {
		cfg.RootVdev = "0100"
	}
	if cfg.NICVdev == "" {
		cfg.NICVdev = "1000"
	}
	if cfg.MaxCPU == 0 {
		cfg.MaxCPU = 32
	}
	if cfg.MaxMem == "" {
		cfg.MaxMem = "64G"
	}
	if cfg.ShareUnit == 0 {
		cfg.ShareUnit = 100
	}
	if cfg.SCP == "" {
		cfg.SCP = "/usr/bin/scp"
	}
	if cfg.SSHPort == 0 {
		cfg.SSHPort = 22
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Backend{c: cfg, store: cfg.Store, log: cfg.Log}, nil
}

// parsePool splits "ECKD:POOL1" into disk type and group.
func parsePool(s string) (devType, group string, err error) {
	kind, group, ok := strings.Cut(s, ":")
	if !ok || group == "" {
		return "", "", fmt.Errorf("disk pool %q: want ECKD:<group> or FBA:<group>", s)
	}
	switch strings.ToUpper(kind) {
	case "ECKD":
		return "3390", strings.ToUpper(group), nil
	case "FBA":
		return "9336", strings.ToUpper(group), nil
	}
	return "", "", fmt.Errorf("disk pool %q: type %q is neither ECKD nor FBA", s, kind)
}

// guest returns the stored guest or the original's 404.
func (b *Backend) guest(ctx context.Context, userid string) (Guest, error) {
	g, ok, err := b.store.Guest(ctx, userid)
	if err != nil {
		return Guest{}, internalErr(api.ModGuest, fmt.Errorf("guest %s: read the store: %w", userid, err))
	}
	if !ok {
		return Guest{}, guestNotFound(userid)
	}
	return g, nil
}

// ListGuests implements api.Backend: the guests this connector created.
func (b *Backend) ListGuests(ctx context.Context) ([]string, error) {
	gs, err := b.store.Guests(ctx)
	if err != nil {
		return nil, internalErr(api.ModGuest, fmt.Errorf("list guests: %w", err))
	}
	out := make([]string, 0, len(gs))
	for _, g := range gs {
		out = append(out, g.UserID)
	}
	return out, nil
}
