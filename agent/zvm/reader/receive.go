package reader

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/zguest/zguest/agent/zvm/vmcp"
)

// Opener opens the reader device for reading.
type Opener interface {
	Open() (io.ReadCloser, error)
}

// DeviceNode opens a reader device node O_RDONLY|O_NONBLOCK, as vmur
// does.
type DeviceNode string

// Open implements Opener.
func (p DeviceNode) Open() (io.ReadCloser, error) {
	f, err := os.OpenFile(string(p), os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Session receives files from one reader. It sets the reader's spool
// class to * for its lifetime (vmur does the same for every receive) and
// restores it on Close.
type Session struct {
	CP      vmcp.Runner
	Dev     Opener
	restore string // SPOOL C CLASS x to restore, "" if none
	// MaxSize bounds a file received with Receive; 0 means 64 MiB.
	MaxSize int
}

// ErrTooLarge is wrapped when a file grows past the limit while it is
// read; reading stops there, so a huge file costs no more than the limit.
var ErrTooLarge = errors.New("spool file too large")

// cpErr is a failed CP command.
type cpErr struct {
	cmd string
	r   vmcp.Response
}

func (e *cpErr) Error() string {
	return fmt.Sprintf("CP %s: rc=%d: %s", e.cmd, e.r.RC, strings.TrimSpace(e.r.Text))
}

// run runs a command and makes a non-zero rc an error.
func (s *Session) run(cmd string) (vmcp.Response, error) {
	r, err := s.CP.Run(cmd)
	if err != nil {
		return r, err
	}
	if r.RC != 0 {
		return r, &cpErr{cmd: cmd, r: r}
	}
	return r, nil
}

// Open prepares the reader: its class must be * to read class X files.
func (s *Session) Open() error {
	r, err := s.run("QUERY VIRTUAL C")
	if err != nil {
		return fmt.Errorf("query the virtual reader: %w", err)
	}
	c, err := VirtualClass(r.Text)
	if err != nil {
		return err
	}
	if c != '*' {
		if _, err := s.run("SPOOL C CLASS *"); err != nil {
			return fmt.Errorf("set the reader's class to * (it is %c): %w", c, err)
		}
		s.restore = "SPOOL C CLASS " + string(c)
	}
	return nil
}

// Close restores the reader's class.
func (s *Session) Close() error {
	if s.restore == "" {
		return nil
	}
	_, err := s.run(s.restore)
	s.restore = ""
	return err
}

// List returns the reader's files (QUERY RDR * ALL SHORTDATE) and the
// lines that could not be read.
func (s *Session) List() ([]Entry, []error, error) {
	r, err := s.run("QUERY RDR * ALL SHORTDATE")
	if err != nil {
		return nil, nil, fmt.Errorf("list the reader: %w", err)
	}
	return ParseQuery(r.Text)
}

// Receive receives file id as `vmur receive <id>` in binary mode does:
// CLOSE C HOLD, ORDER, CHANGE NOHOLD, check the hold state, open the
// device, read and decode the pages, and CLOSE C NOHOLD NOKEEP, which
// purges the file. On failure the file is closed with HOLD and stays in
// the reader. The result keeps the punch padding (see TrimPadding).
func (s *Session) Receive(ctx context.Context, id int) ([]byte, error) {
	return s.ReceiveLimit(ctx, id, s.MaxSize)
}

// ReceiveLimit is Receive with its own size limit (0: 64 MiB). A file
// larger than limit is not read further: it is closed with HOLD (it stays
// in the reader) and the error wraps ErrTooLarge.
func (s *Session) ReceiveLimit(ctx context.Context, id int, limit int) (data []byte, err error) {
	// An earlier, interrupted receive may have left a file active.
	if _, err := s.CP.Run("CLOSE C HOLD"); err != nil {
		return nil, err
	}
	for _, cmd := range []string{fmt.Sprintf("ORDER * READER %d", id), fmt.Sprintf("CHANGE * READER %d NOHOLD", id)} {
		if _, err := s.run(cmd); err != nil {
			return nil, err
		}
	}
	r, err := s.run(fmt.Sprintf("QUERY READER * %d ALL SHORTDATE", id))
	if err != nil {
		return nil, err
	}
	es, _, err := ParseQuery(r.Text)
	if err != nil {
		return nil, err
	}
	if len(es) != 1 || es[0].ID != id {
		return nil, fmt.Errorf("QUERY READER * %d: the file is not listed", id)
	}
	if es[0].Hold != "NONE" {
		return nil, fmt.Errorf("spool file %04d is held (hold state %s) and cannot be read; release it with CP CHANGE RDR %d NOHOLD", id, es[0].Hold, id)
	}
	defer func() {
		if err != nil {
			if _, cerr := s.CP.Run("CLOSE C HOLD"); cerr != nil {
				err = errors.Join(err, cerr)
			}
		}
	}()
	f, err := s.openDev(ctx)
	if err != nil {
		return nil, err
	}
	data, err = s.read(f, id, limit)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	if _, err := s.run("CLOSE C NOHOLD NOKEEP"); err != nil {
		return nil, fmt.Errorf("purge spool file %04d after receiving it: %w", id, err)
	}
	return data, nil
}

// openDev opens the device, retrying briefly while another opener holds
// it (EBUSY with O_NONBLOCK).
func (s *Session) openDev(ctx context.Context) (io.ReadCloser, error) {
	for try := 0; ; try++ {
		f, err := s.Dev.Open()
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EBUSY) || try >= 50 {
			return nil, fmt.Errorf("open the reader device: %w", err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// read reads and decodes whole pages, 80 pages per read as vmur does.
func (s *Session) read(f io.Reader, id int, limit int) ([]byte, error) {
	if limit <= 0 {
		limit = 64 << 20
	}
	d := Decoder{WantID: id}
	buf := make([]byte, 80*PageSize)
	var out []byte
	have := 0 // bytes of buf filled
	for {
		n, err := f.Read(buf[have:])
		have += n
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("read spool file %04d from the reader device: %w", id, err)
		}
		full := have / PageSize * PageSize
		for p := 0; p < full; p += PageSize {
			var derr error
			if out, derr = d.Page(out, buf[p:p+PageSize]); derr != nil {
				return nil, fmt.Errorf("spool file %04d: %w", id, derr)
			}
		}
		copy(buf, buf[full:have])
		have -= full
		if len(out) > limit {
			return nil, fmt.Errorf("%w: spool file %04d is larger than the %d bytes allowed; reading stopped at %d bytes", ErrTooLarge, id, limit, len(out))
		}
		if n == 0 || errors.Is(err, io.EOF) {
			break
		}
	}
	if have != 0 {
		return nil, fmt.Errorf("spool file %04d: %w: %d bytes after the last whole page", id, ErrFormat, have)
	}
	if d.pages == 0 {
		return nil, fmt.Errorf("spool file %04d: %w: the reader delivered no page", id, ErrFormat)
	}
	return out, nil
}

// Purge removes file id from the reader without reading it (CP PURGE
// RDR), for files that are refused.
func (s *Session) Purge(id int) error {
	if _, err := s.run(fmt.Sprintf("PURGE RDR %d", id)); err != nil {
		return fmt.Errorf("purge spool file %04d: %w", id, err)
	}
	return nil
}
