package zkerneltest

import (
	"fmt"

	"github.com/zguest/zguest/internal/zkernel"
	"github.com/zguest/zguest/internal/zvm/spool"
)

// ZVMSysinfo returns /proc/sysinfo of a z/VM guest named userID, with
// the "VM00" lines stsi 3.2.2 adds under z/VM.
// guess: field layout after arch/s390/kernel/sysinfo.c; values invented.
func ZVMSysinfo(userID string) string {
	return `Manufacturer:         IBM
Type:                 3931
Model:                A01              LA1
Sequence Code:        00000000000ABCDE
Plant:                02

CPUs Total:           16
CPUs Configured:      16

LPAR Number:          2
LPAR Characteristics: Shared
LPAR Name:            ZVMLP02
LPAR CPUs Total:      4

VM00 Name:            ` + userID + `
VM00 Control Program: z/VM    7.3.0
VM00 Adjustment:      62
VM00 CPUs Total:      2
VM00 CPUs Configured: 2
VM00 CPUs Standby:    0
VM00 CPUs Reserved:   0
`
}

// KVMSysinfo is /proc/sysinfo of a KVM guest on s390x.
// guess: as ZVMSysinfo, with KVM's control program name.
const KVMSysinfo = `Manufacturer:         IBM
Type:                 3931
Model:                A01              LA1

LPAR Number:          2
LPAR Name:            KVMHOST

VM00 Name:            guest01
VM00 Control Program: KVM/Linux
VM00 Adjustment:      1000
VM00 CPUs Total:      2
VM00 CPUs Configured: 2
VM00 CPUs Standby:    0
VM00 CPUs Reserved:   0
`

// ZVMConfig returns a z/VM guest's machine: userID on a new spool, its
// reader 0.0.000c (offline, as at boot) plus devs, and a z/VM sysinfo.
func ZVMConfig(userID string, devs ...zkernel.Device) zkernel.Config {
	return zkernel.Config{
		Devices:     append([]zkernel.Device{{BusID: "0.0.000c", Kind: zkernel.KindReader, ForcedLayer: -1}}, devs...),
		Sysinfo:     ZVMSysinfo(userID),
		Spool:       spool.New(spool.Options{}),
		GuestUserID: userID,
	}
}

// ZVMPunch is a z/VM guest's virtual punch 0.0.000d (offline, as at
// boot), for ZVMConfig's devs; devfs serves /dev/vmpun-0.0.000d while it
// is online.
func ZVMPunch() zkernel.Device {
	return zkernel.Device{BusID: "0.0.000d", Kind: zkernel.KindPunch, ForcedLayer: -1}
}

// SendToReader does what the cloud connector does to hand a file to a
// guest: punch it into the host's own reader (vmur punch -r), CHANGE it
// to class X and TRANSFER it to the guest's reader. It returns the spool
// id.
func (e *Env) SendToReader(data []byte, name, typ string) (int, error) {
	if e.Spool == nil {
		return 0, fmt.Errorf("zkerneltest: not a z/VM guest (Config.Spool unset)")
	}
	host := e.Spool.HostID()
	id, err := e.Spool.Punch(host, data, name, typ, 'A')
	if err != nil {
		return 0, fmt.Errorf("zkerneltest: punch %s.%s: %w", name, typ, err)
	}
	x := byte('X')
	if _, err := e.Spool.Change(host, spool.QueueRDR, id, spool.Change{Class: &x}); err != nil {
		return 0, fmt.Errorf("zkerneltest: change %04d class X: %w", id, err)
	}
	if _, err := e.Spool.Transfer(host, spool.QueueRDR, id, e.UserID); err != nil {
		return 0, fmt.Errorf("zkerneltest: transfer %04d to %s: %w", id, e.UserID, err)
	}
	return id, nil
}
