// Package udevmon follows the events systemd-udevd broadcasts after it has
// processed a device (the "udev" netlink source, not the kernel's), for
// network interfaces. It is the agent's only cgo dependency (libudev
// through github.com/jochenvg/go-udev).
package udevmon

import (
	"context"
	"fmt"

	udev "github.com/jochenvg/go-udev"

	"github.com/zguest/zguest/agent/qeth"
)

// Watch starts a monitor on udev's processed "net" events. Start it before
// setting groups online so that no event is missed. The channel closes
// when ctx ends.
func Watch(ctx context.Context) (<-chan qeth.NetEvent, error) {
	u := udev.Udev{}
	m := u.NewMonitorFromNetlink("udev")
	if m == nil {
		return nil, fmt.Errorf("open udev monitor socket")
	}
	if err := m.FilterAddMatchSubsystem("net"); err != nil {
		return nil, fmt.Errorf("udev monitor filter: %w", err)
	}
	devs, err := m.DeviceChan(ctx)
	if err != nil {
		return nil, fmt.Errorf("start udev monitor: %w", err)
	}
	out := make(chan qeth.NetEvent, 64)
	go func() {
		defer close(out)
		for d := range devs {
			ev := qeth.NetEvent{Action: d.Action(), DevPath: d.PropertyValue("DEVPATH"), IfName: d.PropertyValue("INTERFACE")}
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}
