package zvm

import (
	"errors"
	"fmt"

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/smapi"
)

// smapiErr reports a failed SMAPI call as the original does: overallRC 8
// (SMAPI error), modID smt, rc/rs the SMAPI codes. Transport failures
// are reported as the SMT layer's internal error, overallRC 25.
// guess: rc 25 rs 0 for them (smcli puts an errno in rs).
func smapiErr(what string, err error) error {
	var e *smapi.Error
	if errors.As(err, &e) {
		return &api.Error{OverallRC: 8, ModID: api.ModSMT, RC: e.RC, RS: e.RS, Msg: fmt.Sprintf("%s: %s", what, e.Error()), Err: err}
	}
	return &api.Error{OverallRC: 25, ModID: api.ModSMT, RC: 25, RS: 0, Msg: fmt.Sprintf("%s: SMAPI unreachable or the connection failed; check the SMAPI server address and that it is running", what), Err: err}
}

func guestNotFound(userid string) error { return api.GuestNotExist(userid) }

func inputErr(format string, a ...any) error {
	return &api.Error{OverallRC: 100, ModID: api.ModGuest, RC: 100, RS: 1, Msg: fmt.Sprintf(format, a...)}
}

// guestOpErr is a guest operation failure (FL SDKGuestOperationError).
func guestOpErr(rs int, userid string, err error) error {
	return &api.Error{OverallRC: 300, ModID: api.ModGuest, RC: 300, RS: rs, Msg: fmt.Sprintf("Guest '%s' operation failed: %v", userid, err), Err: err}
}

func internalErr(mod int, err error) error {
	return &api.Error{OverallRC: 500, ModID: mod, RC: 500, RS: 0, Msg: err.Error(), Err: err}
}

func isCodes(err error, rc, rs int) bool { return errors.Is(err, smapi.Code(rc, rs)) }
