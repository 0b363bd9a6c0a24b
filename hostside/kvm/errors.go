package kvm

import (
	"errors"
	"fmt"

	"github.com/digitalocean/go-libvirt"

	"github.com/zguest/zguest/hostside/api"
)

// lvErr maps a libvirt failure to the envelope (see the package doc):
// libvirt's error number goes into rs and its message into msg.
func lvErr(mod int, what string, err error) error {
	var ae *api.Error
	if errors.As(err, &ae) {
		return err
	}
	var le libvirt.Error
	if !errors.As(err, &le) {
		return &api.Error{OverallRC: 503, ModID: mod, RC: 503, RS: 0,
			Msg: fmt.Sprintf("%s: %v; check that libvirtd is running and its socket is reachable", what, err), Err: err}
	}
	code := libvirt.ErrorNumber(le.Code)
	overall := 300
	switch code {
	case libvirt.ErrNoDomain:
		overall = 404
	case libvirt.ErrOperationInvalid, libvirt.ErrDomExist:
		overall = 409
	case libvirt.ErrNoConnect, libvirt.ErrRPC, libvirt.ErrAuthFailed:
		overall = 503
	}
	return &api.Error{OverallRC: overall, ModID: mod, RC: overall, RS: int(le.Code),
		Msg: fmt.Sprintf("%s: libvirt error %d (%s): %s", what, le.Code, code, le.Message), Err: err}
}

func guestNotFound(userid string) error { return api.GuestNotExist(userid) }

func guestExists(userid string) error {
	return &api.Error{OverallRC: 409, ModID: api.ModGuest, RC: 409, RS: 2, Msg: fmt.Sprintf("Guest '%s' already exists", userid)}
}

func inputErr(mod int, format string, a ...any) error {
	return &api.Error{OverallRC: 100, ModID: mod, RC: 100, RS: 1, Msg: fmt.Sprintf(format, a...)}
}

func conflict(mod, rs int, format string, a ...any) error {
	return &api.Error{OverallRC: 409, ModID: mod, RC: 409, RS: rs, Msg: fmt.Sprintf(format, a...)}
}

func exhausted(rs int, format string, a ...any) error {
	return &api.Error{OverallRC: 409, ModID: api.ModGuest, RC: 409, RS: rs, Msg: fmt.Sprintf(format, a...)}
}

func internalErr(mod int, what string, err error) error {
	return &api.Error{OverallRC: 500, ModID: mod, RC: 500, RS: 0, Msg: fmt.Sprintf("%s: %v", what, err), Err: err}
}

func imageExists(name string) error { return api.ImageNameExists(name) }

func unsupported(what string) error {
	return &api.Error{OverallRC: 501, ModID: api.ModGeneric, RC: 501, RS: 0, Msg: what + " is not supported by the KVM backend"}
}
