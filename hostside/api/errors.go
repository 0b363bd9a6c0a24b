package api

import (
	"errors"
	"fmt"
)

// Module ids of the envelope's modID (zvmsdk/returncode.py).
const (
	ModSMT       = 1
	ModGuest     = 10
	ModNetwork   = 20
	ModVolume    = 30
	ModImage     = 40
	ModMonitor   = 50
	ModFile      = 60
	ModSDKServer = 100
	ModWSGI      = 120
	ModGeneric   = 400
)

// Error is an error the REST layer reports with the original's envelope
// fields. HTTP status follows OverallRC: 0 -> 200; 400, 404, 409, 501,
// 503 as they are; 100 (input) -> 400; anything else -> 500.
type Error struct {
	OverallRC int
	ModID     int
	RC        int
	RS        int
	Msg       string
	Err       error // the cause, if any (kept for errors.Is/As and logs)
}

func (e *Error) Error() string {
	s := fmt.Sprintf("overallRC %d modID %d rc %d rs %d: %s", e.OverallRC, e.ModID, e.RC, e.RS, e.Msg)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// HTTPStatus maps OverallRC to the HTTP status, as the original does.
func (e *Error) HTTPStatus() int {
	switch e.OverallRC {
	case 0:
		return 200
	case 400, 404, 409, 501, 503:
		return e.OverallRC
	case 100:
		return 400
	}
	return 500
}

// AsError returns err's *Error, or an overallRC 500 generic error.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{OverallRC: 500, ModID: ModGeneric, RC: 500, RS: 0, Msg: err.Error(), Err: err}
}

// The "does not exist", "already exists" and "conflict" answers, as the
// original builds them (zvmsdk/returncode.py, exception.py). Backends use
// these so that every route answers them alike; nova's driver acts on
// overallRC (404: import the image, raise InstanceNotFound).

// NotExist is errors['notExist'] rs 1: "<obj> does not exist." with the
// module that looked (SDKObjectNotExistError).
func NotExist(mod int, obj string) *Error {
	return &Error{OverallRC: 404, ModID: mod, RC: 404, RS: 1, Msg: obj + " does not exist."}
}

// GuestNotExist is the answer for a userid the connector does not manage
// (vmops.check_guests_exist_in_db): 404, modID guest, rs 1.
func GuestNotExist(userid string) *Error {
	return NotExist(ModGuest, fmt.Sprintf("Guest '%s'", userid))
}

// ImageNotExist is image_query_record's answer for a name with no record
// (GET /images?imagename=, GET /images/{name}/root_disk_size, PUT
// /images/{name} export): 404, modID image, rs 1.
func ImageNotExist(name string) *Error {
	return NotExist(ModImage, "Image with name: "+name)
}

// AlreadyExist is errors['alreadyExist'] rs 1 (SDKObjectAlreadyExistError).
func AlreadyExist(mod int, obj string) *Error {
	return &Error{OverallRC: 409, ModID: mod, RC: 409, RS: 1, Msg: obj + " already exists."}
}

// Conflict is errors['conflict'] with its rs and that rs's text.
func Conflict(mod, rs int, msg string) *Error {
	return &Error{OverallRC: 409, ModID: mod, RC: 409, RS: rs, Msg: msg}
}

// GuestNotActive is errors['conflict'] rs 1.
func GuestNotActive(userid string) *Error {
	return Conflict(ModGuest, 1, fmt.Sprintf("Guest '%s' is not in active status.", userid))
}

// ImageRecordMissing is what guest_deploy answers for an image that is
// not imported (smtclient _get_image_path_by_name turns the 404 into
// SDKImageOperationError rs 20): 300, modID image, rs 20.
func ImageRecordMissing(name string) *Error {
	return &Error{OverallRC: 300, ModID: ModImage, RC: 300, RS: 20, Msg: fmt.Sprintf("The image record of %s does not exist", name)}
}

// ImageNameExists is image_import's answer for a name already imported:
// SDKImageOperationError rs 13.
func ImageNameExists(name string) *Error {
	return &Error{OverallRC: 300, ModID: ModImage, RC: 300, RS: 13, Msg: fmt.Sprintf("Image import error: image name %s already exist in image database", name)}
}

// NotSupported is errors['serviceNotSupport'] rs 1 for fn (the API
// function's name, e.g. "guest_pause") with the module that refuses it.
func NotSupported(mod int, fn string) *Error {
	return notImplemented(mod, fn)
}
