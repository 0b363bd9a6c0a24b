// Package report tells the world what the agent does: log lines a person
// can read (on stderr, or natively to the journal with structured fields
// when stderr is connected to it) and STATUS= updates for systemd.
package report

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"

	"github.com/coreos/go-systemd/v22/journal"
)

// JournalHandler is a slog.Handler that sends each record to journald with
// its attributes as fields: attribute "busid" becomes ZGUEST_BUSID. The
// MESSAGE is the message followed by the attributes as key=value, so that
// `journalctl` shows a complete line.
type JournalHandler struct {
	level slog.Leveler
	attrs []slog.Attr
	send  func(msg string, p journal.Priority, vars map[string]string) error
}

// NewJournalHandler returns a handler that logs at level and above.
func NewJournalHandler(level slog.Leveler) *JournalHandler {
	return &JournalHandler{level: level, send: journal.Send}
}

// Enabled implements slog.Handler.
func (h *JournalHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

// Handle implements slog.Handler.
func (h *JournalHandler) Handle(_ context.Context, r slog.Record) error {
	vars := map[string]string{"SYSLOG_IDENTIFIER": "zguest-agent"}
	var b strings.Builder
	b.WriteString(r.Message)
	add := func(a slog.Attr) {
		v := a.Value.Resolve().String()
		vars["ZGUEST_"+fieldName(a.Key)] = v
		fmt.Fprintf(&b, " %s=%s", a.Key, quote(v))
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(func(a slog.Attr) bool { add(a); return true })
	return h.send(b.String(), priority(r.Level), vars)
}

// WithAttrs implements slog.Handler.
func (h *JournalHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return &c
}

// WithGroup implements slog.Handler; groups are flattened.
func (h *JournalHandler) WithGroup(string) slog.Handler { return h }

func priority(l slog.Level) journal.Priority {
	switch {
	case l >= slog.LevelError:
		return journal.PriErr
	case l >= slog.LevelWarn:
		return journal.PriWarning
	case l >= slog.LevelInfo:
		return journal.PriInfo
	}
	return journal.PriDebug
}

// fieldName makes a journal field name: upper case letters, digits and
// underscores.
func fieldName(k string) string {
	var b strings.Builder
	for _, c := range strings.ToUpper(k) {
		if (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

func quote(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\n\"=") {
		return fmt.Sprintf("%q", s)
	}
	return s
}

// Logger picks the handler: journald's native protocol when stderr is the
// journal (systemd sets JOURNAL_STREAM), else text on stderr.
func Logger(stderr interface{ Write([]byte) (int, error) }, level slog.Level) *slog.Logger {
	if ok, err := journal.StderrIsJournalStream(); err == nil && ok && journal.Enabled() {
		return slog.New(NewJournalHandler(level))
	}
	return slog.New(slog.NewTextHandler(&lockedWriter{w: stderr}, &slog.HandlerOptions{Level: level}))
}

type lockedWriter struct {
	mu sync.Mutex
	w  interface{ Write([]byte) (int, error) }
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// WithConsole makes a journal logger also write each record as one plain
// line ("zguest-agent: msg key=value ...") to console: the native journal
// protocol bypasses the unit's StandardOutput=journal+console, and an
// operator watching the console at boot wants to see what the agent found.
// A logger that already writes text to stderr is returned as it is (the
// unit copies stderr to the console).
func WithConsole(l *slog.Logger, console io.Writer, level slog.Level) *slog.Logger {
	if _, ok := l.Handler().(*JournalHandler); !ok {
		return l
	}
	text := slog.NewTextHandler(&prefixWriter{w: console, prefix: "zguest-agent: "}, &slog.HandlerOptions{Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey && a.Value.Any().(slog.Level) == slog.LevelInfo) {
				return slog.Attr{}
			}
			return a
		}})
	return slog.New(tee{l.Handler(), text})
}

// tee sends every record to two handlers.
type tee [2]slog.Handler

func (t tee) Enabled(ctx context.Context, l slog.Level) bool {
	return t[0].Enabled(ctx, l) || t[1].Enabled(ctx, l)
}

func (t tee) Handle(ctx context.Context, r slog.Record) error {
	var err error
	for _, h := range t {
		if h.Enabled(ctx, r.Level) {
			if e := h.Handle(ctx, r.Clone()); e != nil && err == nil {
				err = e
			}
		}
	}
	return err
}

func (t tee) WithAttrs(as []slog.Attr) slog.Handler {
	return tee{t[0].WithAttrs(as), t[1].WithAttrs(as)}
}

func (t tee) WithGroup(n string) slog.Handler { return tee{t[0].WithGroup(n), t[1].WithGroup(n)} }

// prefixWriter writes each (single-line) record with a prefix, in one
// write so that lines from NICs handled in parallel do not interleave.
type prefixWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := p.w.Write(append([]byte(p.prefix), b...)); err != nil {
		return 0, err
	}
	return len(b), nil
}
