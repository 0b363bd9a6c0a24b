package kvm

import (
	"context"
	"crypto/rand"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/source"
)

// NetworkConfig says how NICs reach the network: Type "user" (qemu's
// built-in NAT; tests, needs nothing on the host), "network" (a libvirt
// network named Source), "bridge" (a host bridge named Source) or
// "direct" (macvtap on host device Source, Mode bridge/vepa/private/
// passthrough, default bridge).
type NetworkConfig struct {
	Type   string
	Source string
	Mode   string
}

// Runner runs a host command (qemu-img) given as an argv, returning its
// combined output; the error names the command and carries the output.
type Runner func(ctx context.Context, argv ...string) ([]byte, error)

// Config configures the backend.
type Config struct {
	// Dial connects to libvirtd (see Dial); called again when the
	// connection is lost.
	Dial func() (Conn, error)
	// StorageDir holds images/ and guests/ (see the package doc).
	StorageDir string
	// Sources opens the host files requests name (file:// imports,
	// transportfiles) under the daemon's source_dirs, with os.Root, at
	// the moment they are read; nil opens any regular file.
	Sources *source.Policy
	// ConsoleLogDir, if set, holds the console logs
	// (<domain>.console.log, <domain>.sclplm.log) instead of the guest's
	// directory. qemu writes them, so it must be writable by qemu's user.
	ConsoleLogDir string
	// DomainPrefix starts every domain name (default "zguest-").
	DomainPrefix string
	// DomainType is "kvm", "qemu" (TCG emulation) or "" to use kvm when
	// libvirt offers it for s390x and qemu otherwise.
	DomainType string
	// CPUModel is the CPU model used when libvirt does not support
	// host-model (always the case under emulation); "" picks "max".
	CPUModel string
	Network  NetworkConfig
	// DriveBus is how the config drive is attached: "scsi" (a cdrom on
	// virtio-scsi, as nova does on s390x; the default) or "virtio" (a
	// read-only virtio disk).
	DriveBus string
	// DiskMode is "overlay" (a qcow2 overlay on the imported image; the
	// default) or "copy" (a full qcow2 copy, independent of the image).
	DiskMode string
	// MaxVCPUs and MaxMemoryMB bound one guest; 0 means the host's CPU
	// count (libvirt's maximum under emulation) and memory.
	MaxVCPUs    int
	MaxMemoryMB int
	// StopTimeout bounds a graceful stop before the domain is destroyed
	// (default 60s); a request's timeout overrides it.
	StopTimeout time.Duration
	// Timeouts per operation kind (zero fields: defaults).
	Timeouts Timeouts
	// OnCrash is what libvirt does when the guest crashes (the s390
	// firmware's disabled wait counts): "destroy" (default) or
	// "preserve" (keep the stopped qemu process for a dump).
	OnCrash string
	// Poll is how often a graceful stop checks the state (default
	// 500ms); a request's poll_interval overrides it.
	Poll time.Duration
	// ConsoleMaxBytes bounds console output (default 1 MiB, the tail).
	ConsoleMaxBytes int
	// QemuImg is the qemu-img binary (default "qemu-img" from $PATH).
	QemuImg string
	// Run runs qemu-img; nil runs it with os/exec.
	Run Runner
	// Now is the clock (default time.Now).
	Now func() time.Time
	Log *slog.Logger

	// SCP is the scp binary image_export uses for remote_host
	// (default /usr/bin/scp); SSHPort its -P (default 22).
	SCP     string
	SSHPort int
}

// Backend is the KVM backend.
type Backend struct {
	cfg      Config
	log      *slog.Logger
	domType  string // kvm or qemu
	emulator string
	cpu      *CPU
	maxVCPUs int
	maxMemMB int
	libVer   uint64

	connMu sync.Mutex
	conn   Conn

	// imgMu guards images against deletion while a deploy uses them.
	imgMu sync.RWMutex
}

// Dial returns a Config.Dial for a local libvirtd socket ("" is
// /run/libvirt/libvirt-sock) and a connection URI ("" is qemu:///system).
func Dial(socket, uri string, timeout time.Duration) func() (Conn, error) {
	return func() (Conn, error) {
		opts := []dialers.LocalOption{dialers.WithLocalTimeout(timeout)}
		if socket != "" {
			opts = append(opts, dialers.WithSocket(socket))
		}
		l := libvirt.NewWithDialer(dialers.NewLocal(opts...))
		u := libvirt.ConnectURI(uri)
		if uri == "" {
			u = libvirt.QEMUSystem
		}
		if err := l.ConnectToURI(u); err != nil {
			return nil, fmt.Errorf("connect to libvirtd (socket %q, uri %q): %w", socket, u, err)
		}
		return l, nil
	}
}

// New connects to libvirt, checks that it can run s390x guests, picks
// the domain type and CPU model (see the package doc), and adopts the
// existing guests: domains named with the prefix and carrying zguest
// metadata. Guest directories without a domain (left by a create or
// delete that was interrupted) are removed.
func New(ctx context.Context, cfg Config) (*Backend, error) {
	if cfg.Dial == nil {
		return nil, errors.New("kvm: no libvirt connection (Config.Dial)")
	}
	if err := checkPath(cfg.StorageDir); err != nil {
		return nil, fmt.Errorf("kvm: storage_dir: %w", err)
	}
	if cfg.ConsoleLogDir != "" {
		if err := checkPath(cfg.ConsoleLogDir); err != nil {
			return nil, fmt.Errorf("kvm: console_log_dir: %w", err)
		}
	}
	if cfg.DomainPrefix == "" {
		cfg.DomainPrefix = "zguest-"
	}
	if !prefixRE.MatchString(cfg.DomainPrefix) {
		return nil, fmt.Errorf("kvm: domain prefix %q: want up to 40 of A-Z a-z 0-9 _ . -", cfg.DomainPrefix)
	}
	switch cfg.DomainType {
	case "", "kvm", "qemu":
	default:
		return nil, fmt.Errorf("kvm: domain type %q: want kvm, qemu or empty (automatic)", cfg.DomainType)
	}
	if cfg.CPUModel != "" && !sourceRE.MatchString(cfg.CPUModel) {
		return nil, fmt.Errorf("kvm: cpu model %q: bad name", cfg.CPUModel)
	}
	switch cfg.Network.Type {
	case "user":
		if cfg.Network.Source != "" {
			return nil, errors.New("kvm: network type user takes no source")
		}
	case "network", "bridge", "direct":
		if !sourceRE.MatchString(cfg.Network.Source) {
			return nil, fmt.Errorf("kvm: network type %s: source %q: name the libvirt network, bridge or host device", cfg.Network.Type, cfg.Network.Source)
		}
	default:
		return nil, fmt.Errorf("kvm: network type %q: want user, network, bridge or direct", cfg.Network.Type)
	}
	switch cfg.Network.Mode {
	case "":
		if cfg.Network.Type == "direct" {
			cfg.Network.Mode = "bridge"
		}
	case "bridge", "vepa", "private", "passthrough":
		if cfg.Network.Type != "direct" {
			return nil, fmt.Errorf("kvm: network mode %q is for type direct only", cfg.Network.Mode)
		}
	default:
		return nil, fmt.Errorf("kvm: network mode %q: want bridge, vepa, private or passthrough", cfg.Network.Mode)
	}
	if cfg.DriveBus == "" {
		cfg.DriveBus = "scsi"
	}
	if cfg.DriveBus != "scsi" && cfg.DriveBus != "virtio" {
		return nil, fmt.Errorf("kvm: config drive bus %q: want scsi or virtio", cfg.DriveBus)
	}
	if cfg.DiskMode == "" {
		cfg.DiskMode = "overlay"
	}
	if cfg.DiskMode != "overlay" && cfg.DiskMode != "copy" {
		return nil, fmt.Errorf("kvm: disk mode %q: want overlay or copy", cfg.DiskMode)
	}
	if cfg.MaxVCPUs < 0 || cfg.MaxMemoryMB < 0 {
		return nil, fmt.Errorf("kvm: max vcpus %d, max memory %d MiB: want 0 (the host's) or more", cfg.MaxVCPUs, cfg.MaxMemoryMB)
	}
	if cfg.StopTimeout <= 0 {
		cfg.StopTimeout = 60 * time.Second
	}
	cfg.Timeouts = cfg.Timeouts.OrDefaults()
	switch cfg.OnCrash {
	case "":
		cfg.OnCrash = "destroy"
	case "destroy", "preserve":
	default:
		return nil, fmt.Errorf("kvm: on_crash %q: want destroy or preserve", cfg.OnCrash)
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 500 * time.Millisecond
	}
	if cfg.ConsoleMaxBytes <= 0 {
		cfg.ConsoleMaxBytes = 1 << 20
	}
	if cfg.QemuImg == "" {
		cfg.QemuImg = "qemu-img"
	}
	if cfg.Run == nil {
		cfg.Run = execRunner
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	b := &Backend{cfg: cfg, log: cfg.Log}
	for _, d := range []string{b.imagesDir(), b.guestsDir(), cfg.ConsoleLogDir} {
		if d == "" {
			continue
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("kvm: %w", err)
		}
	}
	c, err := b.lv()
	if err != nil {
		return nil, fmt.Errorf("kvm: %w", err)
	}
	if b.libVer, err = c.ConnectGetLibVersion(); err != nil {
		return nil, fmt.Errorf("kvm: libvirt version: %w", err)
	}
	if err := b.probe(c); err != nil {
		return nil, fmt.Errorf("kvm: %w", err)
	}
	_, mem, cpus, _, _, _, _, _, err := c.NodeGetInfo()
	if err != nil {
		return nil, fmt.Errorf("kvm: node info: %w", err)
	}
	if b.maxVCPUs = cfg.MaxVCPUs; b.maxVCPUs == 0 {
		b.maxVCPUs = int(cpus)
	}
	if b.maxMemMB = cfg.MaxMemoryMB; b.maxMemMB == 0 {
		b.maxMemMB = int(mem / 1024)
	}
	if err := b.adopt(ctx, c); err != nil {
		return nil, fmt.Errorf("kvm: %w", err)
	}
	cpuDesc := "libvirt default"
	if b.cpu != nil {
		cpuDesc = b.cpu.Mode
		if b.cpu.Model != nil {
			cpuDesc = b.cpu.Model.Name
		}
	}
	b.log.Info("kvm backend ready", "libvirt", b.libVer, "domain_type", b.domType, "emulator", b.emulator,
		"cpu", cpuDesc, "max_vcpus", b.maxVCPUs, "max_memory_mb", b.maxMemMB, "storage_dir", cfg.StorageDir)
	return b, nil
}

// Close drops the libvirt connection.
func (b *Backend) Close() error {
	b.connMu.Lock()
	defer b.connMu.Unlock()
	if b.conn == nil {
		return nil
	}
	err := b.conn.Disconnect()
	b.conn = nil
	return err
}

// lv returns the libvirt connection, dialling again if it was lost
// (libvirtd restarted).
func (b *Backend) lv() (Conn, error) {
	b.connMu.Lock()
	defer b.connMu.Unlock()
	if b.conn != nil && b.conn.IsConnected() {
		return b.conn, nil
	}
	if b.conn != nil {
		b.log.Warn("libvirt connection lost; reconnecting")
		_ = b.conn.Disconnect()
		b.conn = nil
	}
	c, err := b.cfg.Dial()
	if err != nil {
		return nil, err
	}
	b.conn = c
	return c, nil
}

// conn is lv for request paths: failures become a 503 envelope.
func (b *Backend) connect(mod int) (Conn, error) {
	c, err := b.lv()
	if err != nil {
		return nil, &api.Error{OverallRC: 503, ModID: mod, RC: 503, RS: 0,
			Msg: fmt.Sprintf("libvirt: %v; check that libvirtd is running", err), Err: err}
	}
	return c, nil
}

// DomainName is userid's domain name.
func (b *Backend) DomainName(userid string) string { return b.cfg.DomainPrefix + userid }

func (b *Backend) imagesDir() string             { return filepath.Join(b.cfg.StorageDir, "images") }
func (b *Backend) guestsDir() string             { return filepath.Join(b.cfg.StorageDir, "guests") }
func (b *Backend) guestDir(userid string) string { return filepath.Join(b.guestsDir(), userid) }

// consoleLogs are the sclp console's log (everything the guest writes
// to /dev/console) and the sclplm console's file.
func (b *Backend) consoleLogs(g *GuestMeta) (sclp, sclplm string) {
	if b.cfg.ConsoleLogDir != "" {
		n := b.DomainName(g.UserID)
		return filepath.Join(b.cfg.ConsoleLogDir, n+".console.log"), filepath.Join(b.cfg.ConsoleLogDir, n+".sclplm.log")
	}
	return filepath.Join(g.Dir, "console.log"), filepath.Join(g.Dir, "sclplm.log")
}

// domainCaps is the part of libvirt's domain capabilities we read.
type domainCaps struct {
	Path   string `xml:"path"`
	Domain string `xml:"domain"`
	VCPU   struct {
		Max int `xml:"max,attr"`
	} `xml:"vcpu"`
	CPU struct {
		Modes []struct {
			Name      string `xml:"name,attr"`
			Supported string `xml:"supported,attr"`
			Models    []struct {
				Usable string `xml:"usable,attr"`
				Name   string `xml:",chardata"`
			} `xml:"model"`
		} `xml:"mode"`
	} `xml:"cpu"`
}

// parseDomainCaps reads domain capabilities XML.
func parseDomainCaps(s string) (*domainCaps, error) {
	var c domainCaps
	if err := xml.Unmarshal([]byte(s), &c); err != nil {
		return nil, fmt.Errorf("domain capabilities: %w", err)
	}
	if c.Path != "" {
		if err := checkPath(c.Path); err != nil {
			return nil, fmt.Errorf("domain capabilities: emulator: %w", err)
		}
	}
	return &c, nil
}

// chooseCPU picks the guest CPU: host-model when supported (KVM), else
// the configured model if usable, else max if usable, else libvirt's
// default (nil).
func chooseCPU(c *domainCaps, configured string) (*CPU, error) {
	usable := []string{}
	for _, m := range c.CPU.Modes {
		if m.Name == "host-model" && m.Supported == "yes" {
			return &CPU{Mode: "host-model"}, nil
		}
		if m.Name == "custom" && m.Supported == "yes" {
			for _, mo := range m.Models {
				if mo.Usable == "yes" {
					usable = append(usable, strings.TrimSpace(mo.Name))
				}
			}
		}
	}
	custom := func(name string) *CPU {
		return &CPU{Mode: "custom", Match: "exact", Check: "none", Model: &CPUModel{Fallback: "forbid", Name: name}}
	}
	if configured != "" {
		if !slices.Contains(usable, configured) {
			return nil, fmt.Errorf("cpu model %q is not usable on this host; usable: %s", configured, strings.Join(usable, ", "))
		}
		return custom(configured), nil
	}
	if slices.Contains(usable, "max") {
		return custom("max"), nil
	}
	return nil, nil
}

// probe asks libvirt for s390x domain capabilities (kvm first unless
// configured) and fixes the domain type, emulator and CPU.
func (b *Backend) probe(c Conn) error {
	types := []string{"kvm", "qemu"}
	if b.cfg.DomainType != "" {
		types = []string{b.cfg.DomainType}
	}
	var errs []error
	for _, t := range types {
		s, err := c.ConnectGetDomainCapabilities(nil, libvirt.OptString{"s390x"}, libvirt.OptString{"s390-ccw-virtio"}, libvirt.OptString{t}, 0)
		if err != nil {
			errs = append(errs, fmt.Errorf("domain type %s: %w", t, err))
			continue
		}
		caps, err := parseDomainCaps(s)
		if err != nil {
			return err
		}
		if b.cpu, err = chooseCPU(caps, b.cfg.CPUModel); err != nil {
			return err
		}
		b.domType, b.emulator = t, caps.Path
		return nil
	}
	return fmt.Errorf("libvirt cannot run s390x guests (machine s390-ccw-virtio); install qemu-system-s390x: %w", errors.Join(errs...))
}

// adopt logs the guests found in libvirt and removes guest directories
// no domain refers to.
func (b *Backend) adopt(ctx context.Context, c Conn) error {
	ids, err := b.listGuests(c)
	if err != nil {
		return err
	}
	dirs := map[string]bool{}
	for _, id := range ids {
		_, g, err := b.lookupWith(c, id)
		if err != nil {
			b.log.Warn("domain with this host's prefix but unreadable zguest metadata; leaving it alone", "domain", b.DomainName(id), "error", err)
			dirs[id] = true // keep its files
			continue
		}
		dirs[id] = true
		b.log.Info("adopted guest", "userid", id, "domain", b.DomainName(id), "image", g.Image, "nics", len(g.NICs))
	}
	ents, err := os.ReadDir(b.guestsDir())
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !e.IsDir() || dirs[e.Name()] {
			continue
		}
		b.log.Warn("removing a guest directory without a domain (an interrupted create or delete)", "dir", filepath.Join(b.guestsDir(), e.Name()))
		if err := os.RemoveAll(filepath.Join(b.guestsDir(), e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// listGuests lists the userids of this host's domains.
func (b *Backend) listGuests(c Conn) ([]string, error) {
	doms, _, err := c.ConnectListAllDomains(1, libvirt.ConnectListDomainsActive|libvirt.ConnectListDomainsInactive)
	if err != nil {
		return nil, err
	}
	ids := []string{}
	for _, d := range doms {
		id, ok := strings.CutPrefix(d.Name, b.cfg.DomainPrefix)
		if ok && userIDRE.MatchString(id) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// lookup finds userid's domain and zguest metadata.
func (b *Backend) lookup(userid string) (Conn, libvirt.Domain, *GuestMeta, error) {
	c, err := b.connect(api.ModGuest)
	if err != nil {
		return nil, libvirt.Domain{}, nil, err
	}
	d, g, err := b.lookupWith(c, userid)
	return c, d, g, err
}

func (b *Backend) lookupWith(c Conn, userid string) (libvirt.Domain, *GuestMeta, error) {
	d, err := c.DomainLookupByName(b.DomainName(userid))
	if libvirt.IsNotFound(err) {
		return d, nil, guestNotFound(userid)
	}
	if err != nil {
		return d, nil, lvErr(api.ModGuest, "look up "+userid, err)
	}
	s, err := c.DomainGetXMLDesc(d, libvirt.DomainXMLInactive)
	if libvirt.IsNotFound(err) {
		return d, nil, guestNotFound(userid)
	}
	if err != nil {
		return d, nil, lvErr(api.ModGuest, "read the definition of "+userid, err)
	}
	g, ok, err := ParseGuestMeta(s)
	if err != nil {
		return d, nil, internalErr(api.ModGuest, "domain "+d.Name, err)
	}
	if !ok || g.UserID != userid {
		return d, nil, conflict(api.ModGuest, 3, "domain %s exists but was not made by zguest-hostd (no zguest metadata for %s); rename or remove it", d.Name, userid)
	}
	return d, g, nil
}

// define (re)defines userid's domain from its metadata. uuid is the
// domain's UUID (libvirt refuses a redefinition with another).
func (b *Backend) define(c Conn, uuid string, g *GuestMeta) (libvirt.Domain, error) {
	x, err := b.domainFor(uuid, g).Marshal()
	if err != nil {
		return libvirt.Domain{}, internalErr(api.ModGuest, "define "+g.UserID, err)
	}
	d, err := c.DomainDefineXMLFlags(string(x), libvirt.DomainDefineValidate)
	if err != nil {
		return d, lvErr(api.ModGuest, "define the domain of "+g.UserID, err)
	}
	return d, nil
}

// domainFor renders a guest's domain.
func (b *Backend) domainFor(uuid string, g *GuestMeta) *Domain {
	meta := *g
	d := &Domain{
		Type:       b.domType,
		Name:       b.DomainName(g.UserID),
		UUID:       uuid,
		Metadata:   &Metadata{Guest: &meta},
		Memory:     Memory{Unit: "MiB", Value: 0},
		OS:         OS{Type: OSType{Arch: "s390x", Machine: "s390-ccw-virtio", Value: "hvm"}},
		CPU:        b.cpu,
		OnPoweroff: "destroy",
		OnReboot:   "restart",
		OnCrash:    b.cfg.OnCrash,
		Devices:    Devices{Emulator: b.emulator, MemBalloon: &MemBalloon{Model: "none"}},
	}
	ccw := func(devno string) *Address {
		return &Address{Type: "ccw", CSSID: "0xfe", SSID: "0x0", DevNo: "0x" + devno}
	}
	if g.Root != "" {
		d.Devices.Disks = append(d.Devices.Disks, Disk{Type: "file", Device: "disk",
			Driver: DiskDriver{Name: "qemu", Type: "qcow2"}, Source: DiskSource{File: g.Root},
			Target: DiskTarget{Dev: "vda", Bus: "virtio"}, Address: ccw(fmt.Sprintf("%04x", devnoRoot)),
			Boot: &DeviceBoot{Order: 1}})
	}
	for i, dk := range g.Disks {
		d.Devices.Disks = append(d.Devices.Disks, Disk{Type: "file", Device: "disk",
			Driver: DiskDriver{Name: "qemu", Type: "qcow2"}, Source: DiskSource{File: dk.File},
			Target: DiskTarget{Dev: "vd" + string(rune('b'+i)), Bus: "virtio"}, Address: ccw(dk.DevNo)})
	}
	if g.Drive != "" {
		if b.cfg.DriveBus == "scsi" {
			d.Devices.Controllers = append(d.Devices.Controllers, Controller{Type: "scsi", Index: 0, Model: "virtio-scsi",
				Address: ccw(fmt.Sprintf("%04x", devnoDriveCtl))})
			d.Devices.Disks = append(d.Devices.Disks, Disk{Type: "file", Device: "cdrom",
				Driver: DiskDriver{Name: "qemu", Type: "raw"}, Source: DiskSource{File: g.Drive},
				Target: DiskTarget{Dev: "sda", Bus: "scsi"}, ReadOnly: &struct{}{},
				Address: &Address{Type: "drive", Controller: "0", Bus: "0", Target: "0", Unit: "0"}})
		} else {
			d.Devices.Disks = append(d.Devices.Disks, Disk{Type: "file", Device: "disk",
				Driver: DiskDriver{Name: "qemu", Type: "raw"}, Source: DiskSource{File: g.Drive},
				Target: DiskTarget{Dev: "vdz", Bus: "virtio"}, ReadOnly: &struct{}{},
				Address: ccw(fmt.Sprintf("%04x", devnoDrive))})
		}
	}
	for _, n := range g.NICs {
		d.Devices.Interfaces = append(d.Devices.Interfaces, b.interfaceFor(n))
	}
	sclp, sclplm := b.consoleLogs(g)
	d.Devices.Consoles = []Console{
		{Type: "pty", Log: &ConsoleLog{File: sclp, Append: "on"}, Target: ConsoleTarget{Type: "sclp"}},
		{Type: "file", Source: &ConsoleSource{Path: sclplm, Append: "on"}, Target: ConsoleTarget{Type: "sclplm"}},
	}
	d.Memory.Value = g.memoryMB()
	d.VCPU = g.vcpus()
	return d
}

// interfaceFor renders one NIC: virtio-ccw at its device number.
func (b *Backend) interfaceFor(n MetaNIC) Interface {
	nc := b.cfg.Network
	src := n.Source
	if src == "" {
		src = nc.Source
	}
	i := Interface{Type: nc.Type, MAC: InterfaceMAC{Address: n.MAC}, Model: InterfaceModel{Type: "virtio"},
		Address: &Address{Type: "ccw", CSSID: "0xfe", SSID: "0x0", DevNo: "0x" + n.DevNo}}
	switch nc.Type {
	case "network":
		i.Source = &InterfaceSource{Network: src}
	case "bridge":
		i.Source = &InterfaceSource{Bridge: src}
	case "direct":
		i.Source = &InterfaceSource{Dev: src, Mode: nc.Mode}
	}
	if !n.Coupled {
		i.Link = &InterfaceLink{State: "down"}
	}
	return i
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var u [16]byte
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// uuidString formats libvirt's UUID.
func uuidString(u libvirt.UUID) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// execRunner runs argv with os/exec.
func execRunner(ctx context.Context, argv ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(string(out)))
	}
	return out, nil
}

// HostInfo reports the host as nova's z/VM driver expects it.
func (b *Backend) HostInfo(ctx context.Context) (api.HostInfo, error) {
	c, err := b.connect(api.ModGuest)
	if err != nil {
		return api.HostInfo{}, err
	}
	model, mem, cpus, _, _, _, _, _, err := c.NodeGetInfo()
	if err != nil {
		return api.HostInfo{}, lvErr(api.ModGuest, "node info", err)
	}
	host, err := c.ConnectGetHostname()
	if err != nil {
		return api.HostInfo{}, lvErr(api.ModGuest, "host name", err)
	}
	ids, err := b.listGuests(c)
	if err != nil {
		return api.HostInfo{}, lvErr(api.ModGuest, "list domains", err)
	}
	var vcpus, memUsed int
	for _, id := range ids {
		if _, g, err := b.lookupWith(c, id); err == nil {
			vcpus += g.vcpus()
			memUsed += g.memoryMB()
		}
	}
	var st syscall.Statfs_t
	var total, avail int
	if err := syscall.Statfs(b.cfg.StorageDir, &st); err == nil {
		total = int(st.Blocks * uint64(st.Bsize) >> 30)
		avail = int(st.Bavail * uint64(st.Bsize) >> 30)
	}
	var cm []byte
	for _, ch := range model {
		if ch == 0 {
			break
		}
		cm = append(cm, byte(ch))
	}
	return api.HostInfo{
		HypervisorHostname: host,
		HypervisorType:     strings.ToUpper(b.domType),
		HypervisorVersion:  int(b.libVer),
		VCPUs:              int(cpus),
		VCPUsUsed:          float64(vcpus),
		MemoryMB:           int(mem / 1024),
		MemoryMBUsed:       float64(memUsed),
		DiskTotal:          total,
		DiskUsed:           total - avail,
		DiskAvailable:      avail,
		CPUInfo:            api.CPUInfo{CECModel: string(cm), Architecture: "s390x"},
		ZVMHost:            host,
		IPLTime:            iplTime(time.Local),
	}, nil
}

// ListGuests lists this host's guests by userid.
func (b *Backend) ListGuests(ctx context.Context) ([]string, error) {
	c, err := b.connect(api.ModGuest)
	if err != nil {
		return nil, err
	}
	ids, err := b.listGuests(c)
	if err != nil {
		return nil, lvErr(api.ModGuest, "list domains", err)
	}
	return ids, nil
}

var _ api.Backend = (*Backend)(nil)
