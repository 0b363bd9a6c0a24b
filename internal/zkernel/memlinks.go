package zkernel

import (
	"bytes"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// MemLinks is the in-memory NetBackend: a table of network devices with
// qeth's rules for MAC changes (docs/facts/qeth.md section 4). It doubles as the
// "netlink" of unprivileged agent tests: SetHardwareAddr and SetUp behave
// like RTM_SETLINK on a qeth device. Its errors wrap syscall.Errno values.
type MemLinks struct {
	mu        sync.Mutex
	links     map[string]*memLink // by current name
	nextIndex int
}

type memLink struct {
	MemLink
	inUse []net.HardwareAddr
	deny  syscall.Errno // EOPNOTSUPP for devices without MAC changes
	noNDO bool          // no ndo_set_mac_address at all (layer 3)
}

// MemLink is a snapshot of one device of a MemLinks.
type MemLink struct {
	BusID   string
	Name    string
	Index   int
	MAC     net.HardwareAddr
	Up      bool // IFF_UP
	Present bool // false while the qeth group is offline (detached)
	Carrier bool
}

var _ NetBackend = (*MemLinks)(nil)

// NewMemLinks returns an empty table; ifindex 1 is taken by lo.
func NewMemLinks() *MemLinks {
	return &MemLinks{links: map[string]*memLink{}, nextIndex: 2}
}

func linkErr(op, name string, e syscall.Errno) error {
	return fmt.Errorf("memlinks: %s %s: %w", op, name, e)
}

func (m *MemLinks) get(op, name string) (*memLink, error) {
	l := m.links[name]
	if l == nil {
		return nil, linkErr(op, name, syscall.ENODEV)
	}
	return l, nil
}

// Register implements NetBackend.
func (m *MemLinks) Register(busID, template string, mac net.HardwareAddr, carrier bool, inUse []net.HardwareAddr) (string, int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	prefix, ok := strings.CutSuffix(template, "%d")
	if !ok || strings.Contains(prefix, "%") {
		return "", 0, linkErr("register", template, syscall.EINVAL)
	}
	name := ""
	for n := 0; ; n++ {
		if c := prefix + strconv.Itoa(n); m.links[c] == nil {
			name = c
			break
		}
	}
	l := &memLink{MemLink: MemLink{
		BusID: busID, Name: name, Index: m.nextIndex,
		MAC: slices.Clone(mac), Present: true, Carrier: carrier,
	}}
	for _, a := range inUse {
		l.inUse = append(l.inUse, slices.Clone(a))
	}
	m.nextIndex++
	m.links[name] = l
	return name, l.Index, nil
}

// setMACPolicy makes MAC changes on name fail with deny (0: allowed);
// noNDO means the device has no MAC change operation at all, which the
// kernel reports before checking that the device is present.
func (m *MemLinks) setMACPolicy(name string, deny syscall.Errno, noNDO bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l := m.links[name]; l != nil {
		l.deny, l.noNDO = deny, noNDO
	}
}

// Rename implements NetBackend (dev_change_name): EBUSY while up, EEXIST
// if the name is taken, EINVAL for an invalid name.
func (m *MemLinks) Rename(oldName, newName string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, err := m.get("rename", oldName)
	if err != nil {
		return err
	}
	switch {
	case oldName == newName:
		return nil
	case !validIfName(newName):
		return linkErr("rename", oldName, syscall.EINVAL)
	case l.Up:
		return linkErr("rename", oldName, syscall.EBUSY)
	case m.links[newName] != nil:
		return linkErr("rename", oldName, syscall.EEXIST)
	}
	delete(m.links, oldName)
	l.Name = newName
	m.links[newName] = l
	return nil
}

// validIfName is dev_valid_name.
func validIfName(s string) bool {
	if s == "" || len(s) >= 16 || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] == '/' || s[i] == ':' || kIsSpace(s[i]) {
			return false
		}
	}
	return true
}

// Attach implements NetBackend.
func (m *MemLinks) Attach(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, err := m.get("attach", name)
	if err != nil {
		return err
	}
	l.Present = true
	return nil
}

// Detach implements NetBackend.
func (m *MemLinks) Detach(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, err := m.get("detach", name)
	if err != nil {
		return err
	}
	l.Present = false
	return nil
}

// Unregister implements NetBackend.
func (m *MemLinks) Unregister(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.get("unregister", name); err != nil {
		return err
	}
	delete(m.links, name)
	return nil
}

// HardwareAddr implements NetBackend.
func (m *MemLinks) HardwareAddr(name string) (net.HardwareAddr, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, err := m.get("get address of", name)
	if err != nil {
		return nil, err
	}
	return slices.Clone(l.MAC), nil
}

// IsUp implements NetBackend.
func (m *MemLinks) IsUp(name string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, err := m.get("get flags of", name)
	if err != nil {
		return false, err
	}
	return l.Up, nil
}

// SetHardwareAddr changes a device's MAC like RTM_SETLINK IFLA_ADDRESS on
// a qeth device: EOPNOTSUPP on layer 3; EINVAL for a wrong length; ENODEV
// when the device is unknown or detached (group offline); success if
// unchanged; EOPNOTSUPP on OSM/OSX; EADDRNOTAVAIL for multicast or zero;
// EADDRINUSE for a MAC held by another host on the LAN. The device may be
// up.
func (m *MemLinks) SetHardwareAddr(name string, mac net.HardwareAddr) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, err := m.get("set address of", name)
	if err != nil {
		return err
	}
	switch {
	case l.noNDO:
		return linkErr("set address of", name, syscall.EOPNOTSUPP)
	case len(mac) != 6:
		return linkErr("set address of", name, syscall.EINVAL)
	case !l.Present:
		return linkErr("set address of", name, syscall.ENODEV)
	case bytes.Equal(mac, l.MAC):
		return nil
	case l.deny != 0:
		return linkErr("set address of", name, l.deny)
	case !validUnicast(mac):
		return linkErr("set address of", name, syscall.EADDRNOTAVAIL)
	}
	for _, a := range l.inUse {
		if bytes.Equal(a, mac) {
			return linkErr("set address of", name, syscall.EADDRINUSE)
		}
	}
	l.MAC = slices.Clone(mac)
	return nil
}

// SetUp sets IFF_UP (dev_open): ENODEV while detached.
func (m *MemLinks) SetUp(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, err := m.get("set up", name)
	if err != nil {
		return err
	}
	if !l.Present {
		return linkErr("set up", name, syscall.ENODEV)
	}
	l.Up = true
	return nil
}

// SetDown clears IFF_UP.
func (m *MemLinks) SetDown(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, err := m.get("set down", name)
	if err != nil {
		return err
	}
	l.Up = false
	return nil
}

// Link returns a snapshot of the device called name.
func (m *MemLinks) Link(name string) (MemLink, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, err := m.get("get", name)
	if err != nil {
		return MemLink{}, err
	}
	return l.snapshot(), nil
}

// LinkByIndex returns a snapshot of the device with ifindex index.
func (m *MemLinks) LinkByIndex(index int) (MemLink, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, l := range m.links {
		if l.Index == index {
			return l.snapshot(), nil
		}
	}
	return MemLink{}, linkErr("get", "index "+strconv.Itoa(index), syscall.ENODEV)
}

// List returns snapshots of all devices, sorted by ifindex.
func (m *MemLinks) List() []MemLink {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]MemLink, 0, len(m.links))
	for _, l := range m.links {
		out = append(out, l.snapshot())
	}
	slices.SortFunc(out, func(a, b MemLink) int { return a.Index - b.Index })
	return out
}

func (l *memLink) snapshot() MemLink {
	s := l.MemLink
	s.MAC = slices.Clone(l.MAC)
	return s
}

// Links returns the in-memory backend, or nil when another backend is
// used.
func (k *Kernel) Links() *MemLinks { return k.mem }
