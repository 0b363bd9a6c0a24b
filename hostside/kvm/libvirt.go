package kvm

import "github.com/digitalocean/go-libvirt"

// Conn is the part of libvirt's remote protocol this backend uses,
// declared here by its consumer. *libvirt.Libvirt (go-libvirt) satisfies
// it; kvmtest.Fake is an in-memory libvirt for unit tests.
type Conn interface {
	ConnectGetLibVersion() (uint64, error)
	ConnectGetHostname() (string, error)
	NodeGetInfo() (rModel [32]int8, rMemory uint64, rCpus int32, rMhz int32, rNodes int32, rSockets int32, rCores int32, rThreads int32, err error)
	ConnectGetDomainCapabilities(emulator, arch, machine, virttype libvirt.OptString, flags libvirt.ConnectGetDomainCapabilitiesFlags) (string, error)
	ConnectListAllDomains(needResults int32, flags libvirt.ConnectListAllDomainsFlags) ([]libvirt.Domain, uint32, error)
	DomainLookupByName(name string) (libvirt.Domain, error)
	DomainGetXMLDesc(dom libvirt.Domain, flags libvirt.DomainXMLFlags) (string, error)
	DomainDefineXMLFlags(xml string, flags libvirt.DomainDefineFlags) (libvirt.Domain, error)
	DomainUndefineFlags(dom libvirt.Domain, flags libvirt.DomainUndefineFlagsValues) error
	DomainCreateWithFlags(dom libvirt.Domain, flags uint32) (libvirt.Domain, error)
	DomainShutdown(dom libvirt.Domain) error
	DomainDestroy(dom libvirt.Domain) error
	DomainReboot(dom libvirt.Domain, flags libvirt.DomainRebootFlagValues) error
	DomainReset(dom libvirt.Domain, flags uint32) error
	DomainSuspend(dom libvirt.Domain) error
	DomainResume(dom libvirt.Domain) error
	DomainGetState(dom libvirt.Domain, flags uint32) (int32, int32, error)
	DomainGetInfo(dom libvirt.Domain) (rState uint8, rMaxMem uint64, rMemory uint64, rNrVirtCPU uint16, rCPUTime uint64, err error)
	DomainAttachDeviceFlags(dom libvirt.Domain, xml string, flags uint32) error
	DomainDetachDeviceFlags(dom libvirt.Domain, xml string, flags uint32) error
	DomainUpdateDeviceFlags(dom libvirt.Domain, xml string, flags libvirt.DomainDeviceModifyFlags) error
	IsConnected() bool
	Disconnect() error
}

var _ Conn = (*libvirt.Libvirt)(nil)
