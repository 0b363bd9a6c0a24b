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
