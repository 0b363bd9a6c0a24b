package spool

import "errors"

// Sentinel errors. Functions wrap them with %w and context; test with errors.Is.
var (
	ErrInvalidUserID = errors.New("spool: invalid userid")
	ErrNoSuchUser    = errors.New("spool: user not in CP directory")
	ErrUserExists    = errors.New("spool: user already in CP directory")
	ErrNoSuchFile    = errors.New("spool: spool file does not exist")
	ErrQueueFull     = errors.New("spool: spool file limit exceeded") // CP HCP439
	ErrSpoolFull     = errors.New("spool: spool space full")          // punch device EIO
	ErrNoReaderFile  = errors.New("spool: no eligible reader file")   // reader open ENODATA
	ErrHeld          = errors.New("spool: reader file is held")       // reader open EPERM
	ErrBusy          = errors.New("spool: device already open")       // EBUSY
	ErrNoOpenFile    = errors.New("spool: no open spool file on device")
	ErrInvalidClass  = errors.New("spool: invalid spool class")
	ErrInvalidName   = errors.New("spool: invalid spool file name")
	ErrEmpty         = errors.New("spool: no records")
	ErrInvalidRecord = errors.New("spool: invalid record")
)
