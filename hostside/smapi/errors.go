package smapi

import (
	"errors"
	"fmt"
)

// Return and reason codes the host branches on (SMAPI reference,
// zthin rcdescriptions.c).
const (
	RCOK            = 0
	RCAsync         = 592 // asynchronous operation started; operation id in the output
	RCSyntax        = 24
	RCAuth          = 120 // authentication error: userid or password not valid
	RCImageOp       = 200 // image operation error: 200/4 not found, 200/8 active, 200/12 not active
	RCImageDevice   = 204
	RCInternal      = 396
	RCImageDef      = 400 // 400/4 not found, 400/8 exists, 400/12 locked
	RCDeviceDef     = 404 // 404/4 device already defined, 404/8 not defined
	RCDiskDef       = 408 // 408/4 disk exists, 408/8 not defined, 408/24 not enough space
	RCNetwork       = 212 // 212/40 vswitch not found, 212/32 NIC not coupled (directory)
	RCProfile       = 436 // 436/4 profile included not found
	RCDirMgr        = 596 // DirMaint failure; rs is DirMaint's rc
	RSNotFound      = 4
	RSExists        = 8
	RSLocked        = 12
	RSNotActive     = 12
	RSActive        = 8
	RSNoSpace       = 24
	RSAsyncDone     = 100
	RSAsyncRunning  = 104
	RSAsyncFailed   = 108
	RCServer        = 900 // SMAPI server error; 900/12: the function does not exist (rcdescriptions.c)
	RSNoFunction    = 12
	RCRecordTooLong = 24 // records over 72 characters are a syntax error (rc 24)
)

// Error is a SMAPI call that completed with a non-zero return code.
type Error struct {
	Function string
	Target   string
	RC, RS   int
	Data     []byte // the output data, if any
}

func (e *Error) Error() string {
	return fmt.Sprintf("SMAPI %s for %s: rc %d rs %d (%s)", e.Function, e.Target, e.RC, e.RS, Describe(e.RC, e.RS))
}

// Is reports rc/rs equality with another *Error that names only codes.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Function == "" && t.RC == e.RC && t.RS == e.RS
}

// Code returns an *Error with only rc and rs, for errors.Is.
func Code(rc, rs int) error { return &Error{RC: rc, RS: rs} }

// Codes returns err's rc and rs when it is (or wraps) an *Error.
func Codes(err error) (rc, rs int, ok bool) {
	var e *Error
	if errors.As(err, &e) {
		return e.RC, e.RS, true
	}
	return 0, 0, false
}

// Describe is the short text of a return/reason code pair.
func Describe(rc, rs int) string {
	switch [2]int{rc, rs} {
	case [2]int{0, 0}:
		return "request successful"
	case [2]int{120, 0}:
		return "authentication error; userid or password not valid"
	case [2]int{200, 4}:
		return "image not found"
	case [2]int{200, 8}:
		return "image already active"
	case [2]int{200, 12}:
		return "image not active"
	case [2]int{204, 8}, [2]int{404, 8}:
		return "image device not defined"
	case [2]int{204, 20}:
		return "image device already connected"
	case [2]int{204, 48}:
		return "image device not connected"
	case [2]int{212, 32}:
		return "image device not coupled in the directory"
	case [2]int{212, 40}:
		return "virtual switch not found"
	case [2]int{404, 4}:
		return "image device already defined"
	case [2]int{400, 4}:
		return "image or profile definition not found"
	case [2]int{400, 8}:
		return "image or profile name already defined"
	case [2]int{400, 12}:
		return "image or profile definition is locked"
	case [2]int{408, 4}:
		return "image disk already defined"
	case [2]int{408, 8}:
		return "image disk not defined"
	case [2]int{408, 24}:
		return "not enough free disk space in the disk pool"
	case [2]int{436, 4}:
		return "profile included not found"
	case [2]int{200, 16}:
		return "image being deactivated"
	case [2]int{200, 28}:
		return "some images in list not activated"
	case [2]int{200, 32}:
		return "some images in list not deactivated"
	case [2]int{900, 12}:
		return "specified function does not exist"
	case [2]int{900, 20}:
		return "total length does not match the specified input data"
	}
	switch rc {
	case 24:
		return fmt.Sprintf("syntax error in function parameter %d", rs/100)
	case 396:
		if rs == 6011 {
			return "CP: not authorized to couple to the virtual switch (HCP6011E)"
		}
		return "internal system error"
	case 596:
		return fmt.Sprintf("directory manager (DirMaint) failure, DirMaint rc %d", rs)
	}
	return "see the SMAPI reference for this return and reason code"
}
