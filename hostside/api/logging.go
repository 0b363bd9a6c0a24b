package api

import (
	"log/slog"
	"net/http"
	"time"
)

// recorder remembers what was answered, for the request log.
type recorder struct {
	http.ResponseWriter
	status    int
	overallRC int
	quiet     bool // not logged: a throttled attempt, counted instead
}

// Unwrap lets http.ResponseController reach the connection.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// logRequest writes one line per request: method, path, status,
// overallRC, duration. Headers, query strings and bodies are never
// logged: they carry X-Admin-Token, X-Auth-Token, transport file paths
// and user data.
func (h *Handler) logRequest(r *http.Request, rec *recorder, d time.Duration) {
	level := slog.LevelInfo
	if rec.status >= 500 {
		level = slog.LevelWarn
	}
	h.log.LogAttrs(r.Context(), level, "request",
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", rec.status),
		slog.Int("overallRC", rec.overallRC),
		slog.Duration("duration", d),
		slog.String("remote", r.RemoteAddr),
	)
}
