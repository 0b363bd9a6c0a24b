package dpm

import (
	"errors"
	"fmt"

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/hmc"
)

// hmcErr maps an HMC failure to the envelope (see the package doc):
// rc/rs are the HMC's HTTP status and reason.
func hmcErr(mod int, what string, err error) error {
	var ae *api.Error
	if errors.As(err, &ae) {
		return err
	}
	var e *hmc.Error
	if !errors.As(err, &e) {
		return &api.Error{OverallRC: 500, ModID: mod, RC: 500, RS: 0, Msg: fmt.Sprintf("%s: %v", what, err), Err: err}
	}
	overall := 300
	switch {
	case e.HTTPStatus == 0:
		return &api.Error{OverallRC: 503, ModID: mod, RC: 503, RS: 0, Msg: fmt.Sprintf("%s: %v; check the HMC address, its CA certificate and that the HMC is running", what, e), Err: err}
	case e.HTTPStatus == 404:
		overall = 404
	case e.HTTPStatus == 409, e.HTTPStatus == 400 && e.Reason == 8:
		overall = 409
	}
	return &api.Error{OverallRC: overall, ModID: mod, RC: e.HTTPStatus, RS: e.Reason, Msg: fmt.Sprintf("%s: %v", what, e), Err: err}
}

func guestNotFound(userid string) error { return api.GuestNotExist(userid) }

func inputErr(mod int, format string, a ...any) error {
	return &api.Error{OverallRC: 100, ModID: mod, RC: 100, RS: 1, Msg: fmt.Sprintf(format, a...)}
}

func exhausted(rs int, format string, a ...any) error {
	return &api.Error{OverallRC: 409, ModID: api.ModGuest, RC: 409, RS: rs, Msg: fmt.Sprintf(format, a...)}
}

func unsupported(what string) error {
	return &api.Error{OverallRC: 501, ModID: api.ModGeneric, RC: 501, RS: 0, Msg: what + " is not supported by the DPM backend"}
}
