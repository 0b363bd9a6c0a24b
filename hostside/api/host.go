package api

import (
	"errors"
	"fmt"
	"net/http"
)

// Version is GET /'s output.
type Version struct {
	APIVersion string `json:"api_version"`
	MinVersion string `json:"min_version"`
	MaxVersion string `json:"max_version"`
	Version    string `json:"version"`
}

func (h *Handler) version(c *call) (any, error) {
	return Version{APIVersion: APIVersion, MinVersion: APIVersion, MaxVersion: APIVersion, Version: h.opt.Version}, nil
}

func (h *Handler) hostInfo(c *call) (any, error) {
	return h.b.HostInfo(c.ctx)
}

// token is POST /token (handlers/tokens.py create). With auth off it
// answers X-Auth-Token: server-auth-closed; in token mode it exchanges a
// correct X-Admin-Token for a signed token and answers 401 otherwise.
// The body is the success envelope either way. // guess: the original
// returns webob's empty default response body here.
func (h *Handler) token(w http.ResponseWriter, r *http.Request) {
	if h.opt.Auth == nil {
		w.Header().Set("X-Auth-Token", AuthClosedToken)
		writeOK(w, nil)
		return
	}
	if e := h.limitBody(w, r, "POST /token"); e != nil {
		writeError(w, e, nil)
		return
	}
	client := clientOf(r)
	if blocked, left := h.tokens.blocked(client); blocked {
		if rec, ok := w.(*recorder); ok {
			rec.quiet = true
		}
		h.obs().Rejected("admin_token_throttled")
		w.Header().Set("Retry-After", fmt.Sprint(int(left.Seconds())+1))
		writeError(w, wsgiError(http.StatusTooManyRequests, fmt.Sprintf(
			"too many failed admin token attempts from %s; retry in %d s", client, int(left.Seconds())+1)), nil)
		return
	}
	admin := r.Header.Get("X-Admin-Token")
	tok, err := "", errors.New("no X-Admin-Token header")
	if admin != "" {
		tok, err = h.opt.Auth.issue(admin)
	}
	if err != nil {
		if log, n := h.tokens.fail(client); log {
			// the error never quotes a token; later failures in the
			// window are counted, not logged
			h.log.Warn("token refused", "client", client, "error", err, "failures_in_window", n)
		}
		writeError(w, wsgiError(http.StatusUnauthorized, msgUnauthorized), nil)
		return
	}
	w.Header().Set("X-Auth-Token", tok)
	writeOK(w, nil)
}

// checkToken is tokens.validate: in token mode every route but POST
// /token needs a valid, unexpired X-Auth-Token.
func (h *Handler) checkToken(r *http.Request) *Error {
	if h.opt.Auth == nil {
		return nil
	}
	tok := r.Header.Get("X-Auth-Token")
	if tok == "" {
		return wsgiError(http.StatusUnauthorized, msgUnauthorized)
	}
	if err := h.opt.Auth.verify(tok); err != nil {
		h.log.Info("token rejected", "reason", err)
		return wsgiError(http.StatusUnauthorized, msgUnauthorized)
	}
	return nil
}
