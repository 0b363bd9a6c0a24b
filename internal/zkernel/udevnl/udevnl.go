// Package udevnl broadcasts events the way systemd-udevd does: libudev
// "processed event" messages sent to multicast group 2 of a
// NETLINK_KOBJECT_UEVENT socket, which libudev monitors created with
// udev_monitor_new_from_netlink(udev, "udev") (e.g. go-udev's
// NewMonitorFromNetlink("udev")) receive. Messages stay in the network
// namespace the socket was created in.
//
// Wire format (systemd src/libsystemd/sd-device/device-monitor.c, see
// docs/facts/udev-emulation.md): a 40-byte header — "libudev\0",
// magic 0xfeedcafe (big-endian), header size, properties offset and length
// (host order), MurmurHash2 of the subsystem and of the devtype and a tag
// bloom filter (big-endian) — followed by NUL-separated KEY=VALUE
// properties. libudev drops messages without ACTION, DEVPATH, SUBSYSTEM
// or a non-zero SEQNUM; a dropped message stalls go-udev's edge-triggered
// DeviceChan, so Marshal refuses to build one.
package udevnl

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/zguest/zguest/internal/zkernel"
)

const (
	headerSize = 40
	magic      = 0xfeedcafe
	// udevGroup is MONITOR_GROUP_UDEV.
	udevGroup = 2
	// maxMessage is libudev's receive buffer; longer messages are
	// truncated and dropped.
	maxMessage = 8192
)

// ErrInvalidEvent is returned for events libudev would drop.
var ErrInvalidEvent = errors.New("udevnl: event libudev would drop")

// validActions are those device_verify accepts.
var validActions = []string{"add", "remove", "change", "move", "online", "offline", "bind", "unbind"}

// Marshal builds the libudev message for ev. Its properties are
// ev.Props; ACTION, DEVPATH and SUBSYSTEM default to the Uevent's fields
// and SEQNUM to ev.Seqnum when absent.
func Marshal(ev zkernel.Uevent) ([]byte, error) {
	props := map[string]string{}
	for k, v := range ev.Props {
		props[k] = v
	}
	setDefault := func(key, v string) {
		if _, ok := props[key]; !ok && v != "" {
			props[key] = v
		}
	}
	setDefault("ACTION", ev.Action)
	setDefault("DEVPATH", ev.DevPath)
	setDefault("SUBSYSTEM", ev.Subsystem)
	if ev.Seqnum != 0 {
		setDefault("SEQNUM", strconv.FormatUint(ev.Seqnum, 10))
	}
	if err := validate(props); err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var body []byte
	for _, k := range keys {
		body = append(body, k...)
		body = append(body, '=')
		body = append(body, props[k]...)
		body = append(body, 0)
	}
	msg := make([]byte, headerSize, headerSize+len(body))
	copy(msg, "libudev\x00")
	binary.BigEndian.PutUint32(msg[8:], magic)
	binary.NativeEndian.PutUint32(msg[12:], headerSize)
	binary.NativeEndian.PutUint32(msg[16:], headerSize)
	binary.NativeEndian.PutUint32(msg[20:], uint32(len(body)))
	binary.BigEndian.PutUint32(msg[24:], StringHash(props["SUBSYSTEM"]))
	if dt := props["DEVTYPE"]; dt != "" {
		binary.BigEndian.PutUint32(msg[28:], StringHash(dt))
	}
	// No tags: the bloom filter (offsets 32 and 36) stays zero.
	msg = append(msg, body...)
	if len(msg) > maxMessage {
		return nil, fmt.Errorf("%w: message of %d bytes exceeds %d", ErrInvalidEvent, len(msg), maxMessage)
	}
	return msg, nil
}

// validate applies libudev's receive checks (device_new_from_nulstr and
// device_verify) so that no message is sent that a monitor would drop.
func validate(props map[string]string) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidEvent, fmt.Sprintf(format, args...))
	}
	if !slices.Contains(validActions, props["ACTION"]) {
		return bad("ACTION %q", props["ACTION"])
	}
	if !strings.HasPrefix(props["DEVPATH"], "/") {
		return bad("DEVPATH %q", props["DEVPATH"])
	}
	if props["SUBSYSTEM"] == "" {
		return bad("no SUBSYSTEM")
	}
	for _, key := range []string{"SEQNUM", "USEC_INITIALIZED", "IFINDEX"} {
		v, ok := props[key]
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || (key != "USEC_INITIALIZED" && n == 0) {
			return bad("%s %q", key, v)
		}
	}
	if _, ok := props["SEQNUM"]; !ok {
		return bad("no SEQNUM")
	}
	for k, v := range props {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0) {
			return bad("property %q=%q", k, v)
		}
	}
	return nil
}

// Broadcaster sends libudev messages to group 2 in the network namespace
// it was created in. It implements zkernel.EventSink.
type Broadcaster struct {
	mu sync.Mutex
	fd int
}

var _ zkernel.EventSink = (*Broadcaster)(nil)

// NewBroadcaster opens the NETLINK_KOBJECT_UEVENT socket in the network
// namespace of the calling thread: lock the goroutine to a thread in the
// target namespace before calling it. Sending needs CAP_NET_ADMIN, and
// libudev only accepts messages from uid 0.
func NewBroadcaster() (*Broadcaster, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_KOBJECT_UEVENT)
	if err != nil {
		return nil, fmt.Errorf("udevnl: socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("udevnl: bind: %w", err)
	}
	return &Broadcaster{fd: fd}, nil
}

// Send broadcasts ev. Having no listener is not an error (udevd ignores
// ECONNREFUSED too).
func (b *Broadcaster) Send(ev zkernel.Uevent) error {
	msg, err := Marshal(ev)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fd < 0 {
		return fmt.Errorf("udevnl: send: %w", unix.EBADF)
	}
	err = unix.Sendto(b.fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: udevGroup})
	if err != nil && !errors.Is(err, unix.ECONNREFUSED) {
		return fmt.Errorf("udevnl: send %s %s: %w", ev.Action, ev.DevPath, err)
	}
	return nil
}

// Close closes the socket.
func (b *Broadcaster) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fd < 0 {
		return nil
	}
	err := unix.Close(b.fd)
	b.fd = -1
	return err
}
