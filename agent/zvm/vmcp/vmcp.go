// Package vmcp issues z/VM CP commands through the Linux vmcp device
// (/dev/vmcp), natively: open, VMCP_SETBUF, write the command,
// VMCP_GETCODE, VMCP_GETSIZE, read the response, close, as libvmcp does
// (see docs/facts/zvm-reader.md §1). A truncated response is
// retried once with a buffer of the full size. It needs no s390-tools.
package vmcp

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// The ioctls of asm/vmcp.h (_IOR/_IOW(0x10, n, int)).
const (
	GetCode = 0x80041001
	SetBuf  = 0x40041002
	GetSize = 0x80041003
)

// Buffer sizes: the default is vmcp(8)'s 16 KiB; the kernel accepts up to
// 1 MiB.
const (
	DefaultBuf = 16 << 10
	MaxBuf     = 1 << 20
	MaxCommand = 240
)

// Response is CP's answer to one command.
type Response struct {
	// Text is the response in ASCII, every line ending in "\n".
	Text string
	// RC is the CP return code (the HCP message number on errors).
	RC int
}

// Runner runs CP commands. Device is the real one; tests use fakes.
type Runner interface {
	Run(cmd string) (Response, error)
}

// Device runs commands through a vmcp device node.
type Device struct {
	// Path is the node, normally /dev/vmcp (root-prefixed in tests).
	Path string
	// Buf is the initial response buffer size; 0 means DefaultBuf.
	Buf int
}

// New returns a Device for root's dev/vmcp.
func New(root string) Device { return Device{Path: filepath.Join(root, "dev", "vmcp")} }

// ErrNoDevice means the node does not exist: not a z/VM guest, or the
// vmcp driver is not loaded.
var ErrNoDevice = errors.New("no vmcp device (not a z/VM guest, or the vmcp driver is not loaded)")

// Run issues cmd as given (CP matches keywords in any case; NAME operands
// keep theirs) and returns CP's response. A non-zero RC is not an error
// here: the caller decides what it means.
func (d Device) Run(cmd string) (Response, error) {
	if len(cmd) > MaxCommand {
		return Response{}, fmt.Errorf("CP command %q: longer than %d bytes", cmd, MaxCommand)
	}
	buf := d.Buf
	if buf <= 0 {
		buf = DefaultBuf
	}
	for {
		r, size, err := d.run(cmd, buf)
		if err != nil {
			return Response{}, err
		}
		if size <= buf || buf >= MaxBuf {
			if size > buf {
				return r, fmt.Errorf("CP command %q: response of %d bytes does not fit the %d-byte maximum", cmd, size, MaxBuf)
			}
			return r, nil
		}
		buf = min(size, MaxBuf)
	}
}

func (d Device) run(cmd string, buf int) (Response, int, error) {
	f, err := os.OpenFile(d.Path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return Response{}, 0, fmt.Errorf("CP command %q: %s: %w", cmd, d.Path, ErrNoDevice)
	}
	if err != nil {
		return Response{}, 0, fmt.Errorf("CP command %q: open %s: %w", cmd, d.Path, err)
	}
	defer f.Close()
	fd := int(f.Fd())
	if err := ioctlRetry(func() error { return unix.IoctlSetPointerInt(fd, SetBuf, buf) }); err != nil {
		return Response{}, 0, fmt.Errorf("CP command %q: VMCP_SETBUF %d on %s: %w", cmd, buf, d.Path, err)
	}
	if _, err := f.Write([]byte(cmd)); err != nil {
		return Response{}, 0, fmt.Errorf("CP command %q: write to %s: %w", cmd, d.Path, err)
	}
	var code, size uint32
	if err := ioctlRetry(func() (err error) { code, err = unix.IoctlGetUint32(fd, GetCode); return }); err != nil {
		return Response{}, 0, fmt.Errorf("CP command %q: VMCP_GETCODE on %s: %w", cmd, d.Path, err)
	}
	if err := ioctlRetry(func() (err error) { size, err = unix.IoctlGetUint32(fd, GetSize); return }); err != nil {
		return Response{}, 0, fmt.Errorf("CP command %q: VMCP_GETSIZE on %s: %w", cmd, d.Path, err)
	}
	want := min(int(int32(size)), buf)
	if want < 0 {
		want = 0
	}
	out := make([]byte, want)
	n, err := io.ReadFull(f, out)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return Response{}, 0, fmt.Errorf("CP command %q: read response from %s: %w", cmd, d.Path, err)
	}
	return Response{Text: string(out[:n]), RC: int(int32(code))}, int(int32(size)), nil
}

func ioctlRetry(f func() error) error {
	for {
		err := f()
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
