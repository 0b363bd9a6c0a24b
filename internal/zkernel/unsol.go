package zkernel

import (
	"fmt"
	"strings"
	"syscall"
)

// readerArrived is the spool hook: a file arrived in user's reader.
func (k *Kernel) readerArrived(user string, spoolID int) {
	if !strings.EqualFold(user, k.cfg.GuestUserID) {
		return
	}
	for _, d := range k.readers() {
		if err := k.UnsolicitedDE(d); err != nil {
			k.logger.Debug("reader file arrived; no unsol_de", "spoolid", spoolID, "busid", d, "err", err)
		}
	}
}

// readers lists the bus ids of the machine's virtual readers.
func (k *Kernel) readers() []string {
	k.lock()
	defer k.unlock()
	var out []string
	for _, d := range k.devs {
		if d.spec.Kind == KindReader {
			out = append(out, d.id.String())
		}
	}
	return out
}

// UnsolicitedDE presents an unsolicited device end on the reader busID,
// as CP does when a file arrives in a virtual reader: the common I/O layer
// raises a "change" uevent with EVENT=unsol_de on the CCW device. Only an
// online device bound to vmur gets one (ENODEV otherwise: an offline
// subchannel is not enabled for interrupts).
// guess: the event carries the ccw properties of any ccw_uevent plus
// EVENT=unsol_de, nothing else.
func (k *Kernel) UnsolicitedDE(busID string) error {
	id, err := parseFixtureBusID(busID)
	if err != nil {
		return err
	}
	k.lock()
	defer k.unlock()
	d := k.byID[id]
	if d == nil || d.spec.Kind != KindReader || !d.registered || d.driver != "vmur" || !d.online {
		return fmt.Errorf("unsolicited device end on %s: %w", busID, syscall.ENODEV)
	}
	p := ccwProps(d)
	p["EVENT"] = "unsol_de"
	k.emit("change", d.devPath(), "ccw", p, nil)
	return nil
}
