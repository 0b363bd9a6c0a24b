package vmdev

import (
	"errors"
	"syscall"

	"github.com/zguest/zguest/internal/zvm/spool"
)

// errno maps a spool error to the errno the vmur driver returns.
func errno(err error) syscall.Errno {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, spool.ErrNoReaderFile):
		return syscall.ENODATA
	case errors.Is(err, spool.ErrHeld):
		return syscall.EPERM
	case errors.Is(err, spool.ErrBusy):
		return syscall.EBUSY
	case errors.Is(err, spool.ErrSpoolFull):
		return syscall.EIO
	case errors.Is(err, spool.ErrNoSuchUser), errors.Is(err, spool.ErrInvalidUserID):
		return syscall.ENXIO
	}
	return syscall.EIO
}
