// Package kvmtest is an in-memory libvirt for unit tests of the KVM
// backend: it implements kvm.Conn with domains that keep their XML and
// move through libvirt's states, and it answers with the error numbers
// and messages libvirt 9.0 gives (checked against a real libvirtd:
// docs/facts/kvm-libvirt.md §4). Guests do nothing on
// their own: a shutdown request stops the domain only when GuestShutdown
// is set, as a guest that handles it would.
package kvmtest

import (
	"crypto/rand"
	"encoding/xml"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/digitalocean/go-libvirt"

	"github.com/zguest/zguest/hostside/kvm"
)

// DomainCapsTCG is libvirt's s390x domain capabilities under emulation
// (trimmed from libvirt 9.0 / qemu 7.2 on x86_64): host-model is not
// supported, max and qemu are usable, z14 is not.
const DomainCapsTCG = `<domainCapabilities>
  <path>/usr/bin/qemu-system-s390x</path>
  <domain>qemu</domain>
  <machine>s390-ccw-virtio-7.2</machine>
  <arch>s390x</arch>
  <vcpu max='248'/>
  <cpu>
    <mode name='host-passthrough' supported='no'/>
    <mode name='maximum' supported='yes'/>
    <mode name='host-model' supported='no'/>
    <mode name='custom' supported='yes'>
      <model usable='no' vendor='unknown'>z14</model>
      <model usable='yes' vendor='unknown'>z900</model>
      <model usable='yes' vendor='unknown'>max</model>
      <model usable='yes' vendor='unknown'>qemu</model>
    </mode>
  </cpu>
</domainCapabilities>`

// DomainCapsKVM is what an s390x KVM host answers: host-model works.
const DomainCapsKVM = `<domainCapabilities>
  <path>/usr/bin/qemu-system-s390x</path>
  <domain>kvm</domain>
  <arch>s390x</arch>
  <vcpu max='248'/>
  <cpu>
    <mode name='host-passthrough' supported='yes'/>
    <mode name='host-model' supported='yes'/>
    <mode name='custom' supported='yes'>
      <model usable='yes' vendor='IBM'>gen15a</model>
    </mode>
  </cpu>
</domainCapabilities>`

// Fake is an in-memory libvirtd. Its exported fields may be set before
// use; methods are safe for concurrent use.
type Fake struct {
	LibVersion uint64
	Hostname   string
	CPUs       int32
	MemoryKiB  uint64
	// DomainCaps maps a virttype ("kvm", "qemu") to its domain
	// capabilities; a missing one is refused as libvirt does.
	DomainCaps map[string]string
	// GuestShutdown makes DomainShutdown stop the domain (a guest that
	// reacts to the shutdown signal); otherwise the guest ignores it.
	GuestShutdown bool

	mu        sync.Mutex
	doms      map[string]*domain
	nextID    int32
	calls     []string
	fail      map[string]error
	connected bool
}

type domain struct {
	name       string
	uuid       libvirt.UUID
	id         int32
	xml        string
	memKiB     uint64
	vcpu       uint16
	state      libvirt.DomainState
	reason     int32
	persistent bool
	live       []string // devices attached, detached or updated live
}

// New returns a connected fake with TCG domain capabilities, a 2-CPU,
// 8 GiB host.
func New() *Fake {
	return &Fake{LibVersion: 9000000, Hostname: "kvmhost", CPUs: 2, MemoryKiB: 8 << 20,
		DomainCaps: map[string]string{"qemu": DomainCapsTCG},
		doms:       map[string]*domain{}, nextID: 1, fail: map[string]error{}, connected: true}
}

// Fail makes the next call of method return err.
func (f *Fake) Fail(method string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[method] = err
}

// Calls returns the methods called so far, in order.
func (f *Fake) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// Drop simulates a lost connection (libvirtd restarted).
func (f *Fake) Drop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.connected = false
}

// XML returns a domain's stored definition.
func (f *Fake) XML(name string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.doms[name]
	if !ok {
		return "", false
	}
	return d.xml, true
}

// State returns a domain's state.
func (f *Fake) State(name string) (libvirt.DomainState, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.doms[name]
	if !ok {
		return 0, false
	}
	return d.state, true
}

// SetState forces a domain's state (e.g. a guest that powered off).
func (f *Fake) SetState(name string, st libvirt.DomainState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if d, ok := f.doms[name]; ok {
		d.state = st
	}
}

// Live returns the device changes made live on a domain.
func (f *Fake) Live(name string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if d, ok := f.doms[name]; ok {
		return slices.Clone(d.live)
	}
	return nil
}

// call records a call and returns an injected failure. f.mu is held.
func (f *Fake) call(name string) error {
	f.calls = append(f.calls, name)
	if !f.connected {
		return fmt.Errorf("%s: connection reset by peer", name)
	}
	if err, ok := f.fail[name]; ok {
		delete(f.fail, name)
		return err
	}
	return nil
}

func lverr(code libvirt.ErrorNumber, format string, a ...any) error {
	return libvirt.Error{Code: uint32(code), Message: fmt.Sprintf(format, a...)}
}

func noDomain(name string) error {
	return lverr(libvirt.ErrNoDomain, "Domain not found: no domain with matching name '%s'", name)
}

// get finds a domain by the handle's name. f.mu is held.
func (f *Fake) get(h libvirt.Domain) (*domain, error) {
	d, ok := f.doms[h.Name]
	if !ok || d.uuid != h.UUID {
		return nil, noDomain(h.Name)
	}
	return d, nil
}

func (d *domain) handle() libvirt.Domain {
	id := d.id
	if d.state == libvirt.DomainShutoff {
		id = -1
	}
	return libvirt.Domain{Name: d.name, UUID: d.uuid, ID: id}
}

func running(d *domain) bool {
	return d.state != libvirt.DomainShutoff && d.state != libvirt.DomainNostate
}

func notRunning() error {
	return lverr(libvirt.ErrOperationInvalid, "Requested operation is not valid: domain is not running")
}

// ConnectGetLibVersion implements kvm.Conn.
func (f *Fake) ConnectGetLibVersion() (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.LibVersion, f.call("ConnectGetLibVersion")
}

// ConnectGetHostname implements kvm.Conn.
func (f *Fake) ConnectGetHostname() (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.Hostname, f.call("ConnectGetHostname")
}

// NodeGetInfo implements kvm.Conn.
func (f *Fake) NodeGetInfo() (rModel [32]int8, rMemory uint64, rCpus int32, rMhz int32, rNodes int32, rSockets int32, rCores int32, rThreads int32, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err = f.call("NodeGetInfo"); err != nil {
		return
	}
	for i, c := range "s390x" {
		rModel[i] = int8(c)
	}
	return rModel, f.MemoryKiB, f.CPUs, 0, 1, 1, f.CPUs, 1, nil
}

// ConnectGetDomainCapabilities implements kvm.Conn.
func (f *Fake) ConnectGetDomainCapabilities(emulator, arch, machine, virttype libvirt.OptString, flags libvirt.ConnectGetDomainCapabilitiesFlags) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("ConnectGetDomainCapabilities"); err != nil {
		return "", err
	}
	vt := ""
	if len(virttype) > 0 {
		vt = virttype[0]
	}
	if len(arch) == 0 || arch[0] != "s390x" {
		return "", lverr(libvirt.ErrInvalidArg, "invalid argument: unknown architecture")
	}
	s, ok := f.DomainCaps[vt]
	if !ok {
		return "", lverr(libvirt.ErrInvalidArg, "invalid argument: the accel '%s' is not supported by '/usr/bin/qemu-system-s390x' on this host", vt)
	}
	return s, nil
}

// ConnectListAllDomains implements kvm.Conn.
func (f *Fake) ConnectListAllDomains(needResults int32, flags libvirt.ConnectListAllDomainsFlags) ([]libvirt.Domain, uint32, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("ConnectListAllDomains"); err != nil {
		return nil, 0, err
	}
	var out []libvirt.Domain
	for _, d := range f.doms {
		if (running(d) && flags&libvirt.ConnectListDomainsActive != 0) || (!running(d) && flags&libvirt.ConnectListDomainsInactive != 0) {
			out = append(out, d.handle())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, uint32(len(out)), nil
}

// DomainLookupByName implements kvm.Conn.
func (f *Fake) DomainLookupByName(name string) (libvirt.Domain, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("DomainLookupByName"); err != nil {
		return libvirt.Domain{}, err
	}
	d, ok := f.doms[name]
	if !ok {
		return libvirt.Domain{}, noDomain(name)
	}
	return d.handle(), nil
}

// DomainGetXMLDesc implements kvm.Conn.
func (f *Fake) DomainGetXMLDesc(h libvirt.Domain, flags libvirt.DomainXMLFlags) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("DomainGetXMLDesc"); err != nil {
		return "", err
	}
	d, err := f.get(h)
	if err != nil {
		return "", err
	}
	return d.xml, nil
}

// defXML is what the fake reads of a definition.
type defXML struct {
	XMLName xml.Name `xml:"domain"`
	Type    string   `xml:"type,attr"`
	Name    string   `xml:"name"`
	UUID    string   `xml:"uuid"`
	Memory  struct {
		Unit  string `xml:"unit,attr"`
		Value uint64 `xml:",chardata"`
	} `xml:"memory"`
	VCPU uint16 `xml:"vcpu"`
}

func parseUUID(s string) (libvirt.UUID, bool) {
	var u libvirt.UUID
	h := strings.ReplaceAll(s, "-", "")
	if len(h) != 32 {
		return u, false
	}
	for i := range 16 {
		if _, err := fmt.Sscanf(h[2*i:2*i+2], "%02x", &u[i]); err != nil {
			return u, false
		}
	}
	return u, true
}

// DomainDefineXMLFlags implements kvm.Conn: a new name defines a
// domain, a known one with the same UUID replaces its definition.
func (f *Fake) DomainDefineXMLFlags(x string, flags libvirt.DomainDefineFlags) (libvirt.Domain, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("DomainDefineXMLFlags"); err != nil {
		return libvirt.Domain{}, err
	}
	var def defXML
	if err := xml.Unmarshal([]byte(x), &def); err != nil {
		return libvirt.Domain{}, lverr(libvirt.ErrXMLDetail, "XML error: %v", err)
	}
	if def.Name == "" {
		return libvirt.Domain{}, lverr(libvirt.ErrXMLError, "missing name information")
	}
	if def.Type != "kvm" && def.Type != "qemu" {
		return libvirt.Domain{}, lverr(libvirt.ErrXMLError, "XML error: unknown domain type '%s'", def.Type)
	}
	if def.Memory.Unit != "MiB" || def.Memory.Value == 0 || def.VCPU == 0 {
		return libvirt.Domain{}, lverr(libvirt.ErrXMLError, "XML error: memory or vcpu missing")
	}
	var u libvirt.UUID
	if def.UUID == "" {
		_, _ = rand.Read(u[:])
	} else {
		var ok bool
		if u, ok = parseUUID(def.UUID); !ok {
			return libvirt.Domain{}, lverr(libvirt.ErrXMLDetail, "XML error: malformed uuid element")
		}
	}
	for _, o := range f.doms {
		if o.uuid == u && o.name != def.Name {
			return libvirt.Domain{}, lverr(libvirt.ErrOperationFailed, "operation failed: domain '%s' already exists with uuid %s", o.name, def.UUID)
		}
	}
	d, ok := f.doms[def.Name]
	if ok && d.uuid != u {
		return libvirt.Domain{}, lverr(libvirt.ErrOperationFailed, "operation failed: domain '%s' is already defined with uuid %x", def.Name, d.uuid)
	}
	if !ok {
		d = &domain{name: def.Name, uuid: u, state: libvirt.DomainShutoff}
		f.doms[def.Name] = d
	}
	d.xml, d.memKiB, d.vcpu, d.persistent = x, def.Memory.Value*1024, def.VCPU, true
	return d.handle(), nil
}

// DomainUndefineFlags implements kvm.Conn: a running domain becomes
// transient and disappears when it stops.
func (f *Fake) DomainUndefineFlags(h libvirt.Domain, flags libvirt.DomainUndefineFlagsValues) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("DomainUndefineFlags"); err != nil {
		return err
	}
	d, err := f.get(h)
	if err != nil {
		return err
	}
	if !d.persistent {
		return lverr(libvirt.ErrOperationInvalid, "Requested operation is not valid: cannot undefine transient domain")
	}
	if running(d) {
		d.persistent = false
		return nil
	}
	delete(f.doms, d.name)
	return nil
}

// DomainCreateWithFlags implements kvm.Conn.
func (f *Fake) DomainCreateWithFlags(h libvirt.Domain, flags uint32) (libvirt.Domain, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("DomainCreateWithFlags"); err != nil {
		return libvirt.Domain{}, err
	}
	d, err := f.get(h)
	if err != nil {
		return libvirt.Domain{}, err
	}
	if running(d) {
		return libvirt.Domain{}, lverr(libvirt.ErrOperationInvalid, "Requested operation is not valid: domain is already running")
	}
	d.state, d.reason, d.id, d.live = libvirt.DomainRunning, 1, f.nextID, nil
	f.nextID++
	return d.handle(), nil
}

// stop moves d to shut off; a transient domain disappears. f.mu is held.
func (f *Fake) stop(d *domain, reason int32) {
	d.state, d.reason = libvirt.DomainShutoff, reason
	if !d.persistent {
		delete(f.doms, d.name)
	}
}

// DomainShutdown implements kvm.Conn.
func (f *Fake) DomainShutdown(h libvirt.Domain) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("DomainShutdown"); err != nil {
		return err
	}
	d, err := f.get(h)
	if err != nil {
		return err
	}
	if !running(d) || d.state == libvirt.DomainCrashed {
		return notRunning()
	}
	if f.GuestShutdown {
		f.stop(d, 1)
	}
	return nil
}

// DomainDestroy implements kvm.Conn.
func (f *Fake) DomainDestroy(h libvirt.Domain) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("DomainDestroy"); err != nil {
		return err
	}
	d, err := f.get(h)
	if err != nil {
		return err
	}
	if !running(d) {
		return notRunning()
	}
	f.stop(d, 2)
	return nil
}

// runningOp is the common part of reboot, reset, suspend and resume.
func (f *Fake) runningOp(name string, h libvirt.Domain, fn func(*domain) error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call(name); err != nil {
		return err
	}
	d, err := f.get(h)
	if err != nil {
		return err
	}
	if !running(d) {
		return notRunning()
	}
	return fn(d)
}

// DomainReboot implements kvm.Conn.
func (f *Fake) DomainReboot(h libvirt.Domain, flags libvirt.DomainRebootFlagValues) error {
	return f.runningOp("DomainReboot", h, func(*domain) error { return nil })
}

// DomainReset implements kvm.Conn.
func (f *Fake) DomainReset(h libvirt.Domain, flags uint32) error {
	return f.runningOp("DomainReset", h, func(*domain) error { return nil })
}

// DomainSuspend implements kvm.Conn.
func (f *Fake) DomainSuspend(h libvirt.Domain) error {
	return f.runningOp("DomainSuspend", h, func(d *domain) error {
		d.state = libvirt.DomainPaused
		return nil
	})
}

// DomainResume implements kvm.Conn.
func (f *Fake) DomainResume(h libvirt.Domain) error {
	return f.runningOp("DomainResume", h, func(d *domain) error {
		if d.state != libvirt.DomainPaused {
			return lverr(libvirt.ErrOperationInvalid, "Requested operation is not valid: domain is not paused")
		}
		d.state = libvirt.DomainRunning
		return nil
	})
}

// DomainGetState implements kvm.Conn.
func (f *Fake) DomainGetState(h libvirt.Domain, flags uint32) (int32, int32, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("DomainGetState"); err != nil {
		return 0, 0, err
	}
	d, err := f.get(h)
	if err != nil {
		return 0, 0, err
	}
	return int32(d.state), d.reason, nil
}

// DomainGetInfo implements kvm.Conn.
func (f *Fake) DomainGetInfo(h libvirt.Domain) (rState uint8, rMaxMem uint64, rMemory uint64, rNrVirtCPU uint16, rCPUTime uint64, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err = f.call("DomainGetInfo"); err != nil {
		return
	}
	d, err := f.get(h)
	if err != nil {
		return
	}
	var cpu uint64
	if running(d) {
		cpu = 1_500_000_000
	}
	return uint8(d.state), d.memKiB, d.memKiB, d.vcpu, cpu, nil
}

func (f *Fake) device(name, op string, h libvirt.Domain, x string) error {
	return f.runningOp(name, h, func(d *domain) error {
		var probe struct {
			XMLName xml.Name
		}
		if err := xml.Unmarshal([]byte(x), &probe); err != nil {
			return lverr(libvirt.ErrXMLDetail, "XML error: %v", err)
		}
		d.live = append(d.live, op+" "+x)
		return nil
	})
}

// DomainAttachDeviceFlags implements kvm.Conn.
func (f *Fake) DomainAttachDeviceFlags(h libvirt.Domain, x string, flags uint32) error {
	return f.device("DomainAttachDeviceFlags", "attach", h, x)
}

// DomainDetachDeviceFlags implements kvm.Conn.
func (f *Fake) DomainDetachDeviceFlags(h libvirt.Domain, x string, flags uint32) error {
	return f.device("DomainDetachDeviceFlags", "detach", h, x)
}

// DomainUpdateDeviceFlags implements kvm.Conn.
func (f *Fake) DomainUpdateDeviceFlags(h libvirt.Domain, x string, flags libvirt.DomainDeviceModifyFlags) error {
	return f.device("DomainUpdateDeviceFlags", "update", h, x)
}

// IsConnected implements kvm.Conn.
func (f *Fake) IsConnected() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.connected
}

// Disconnect implements kvm.Conn.
func (f *Fake) Disconnect() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.connected = false
	return nil
}

// Reconnect makes a dropped fake usable again (a new connection to the
// same libvirtd): pass it as Config.Dial.
func (f *Fake) Reconnect() (*Fake, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.connected = true
	return f, nil
}

var _ kvm.Conn = (*Fake)(nil)
