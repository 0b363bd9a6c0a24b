// Package progress draws a one-line progress bar on stderr when, and only
// when, stderr is a terminal; piped or logged output stays clean.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Bar is a progress bar. The zero value and a nil *Bar draw nothing.
type Bar struct {
	mu    sync.Mutex
	w     io.Writer
	label string
	start time.Time
	last  time.Time
	drawn bool
	width int
}

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// New returns a bar drawing on f if f is a terminal, otherwise nil.
func New(f *os.File, label string) *Bar {
	if !IsTerminal(f) {
		return nil
	}
	return NewWriter(f, label, 30)
}

// NewWriter returns a bar that always draws on w (for tests).
func NewWriter(w io.Writer, label string, width int) *Bar {
	return &Bar{w: w, label: label, start: time.Now(), width: width}
}

// Update redraws the bar, at most ten times a second.
func (b *Bar) Update(done, total int64) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	if b.drawn && now.Sub(b.last) < 100*time.Millisecond && done < total {
		return
	}
	b.last = now
	b.drawn = true
	frac := 1.0
	if total > 0 {
		frac = min(float64(done)/float64(total), 1)
	}
	fill := int(frac * float64(b.width))
	fmt.Fprintf(b.w, "\r%s [%s%s] %3.0f%% %s/%s", b.label, strings.Repeat("#", fill),
		strings.Repeat(" ", b.width-fill), frac*100, human(done), human(total))
}

// Done ends the line.
func (b *Bar) Done() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.drawn {
		fmt.Fprintf(b.w, " %.1fs\n", time.Since(b.start).Seconds())
	}
}

func human(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
