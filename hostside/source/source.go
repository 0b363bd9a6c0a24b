// Package source opens the host files a request names (a file:// image
// to import, a transport file to punch, an export destination) so that
// nothing but a regular file on a disk file system is ever read, and
// copies them in chunks that honour cancellation.
//
// A FIFO, a device, a socket or a directory is refused before anything
// is read (a FIFO is opened without blocking, so a writer that never
// comes cannot hold the request), and so are the pseudo-files of /proc,
// /sys and other kernel file systems, which stat as empty regular files
// but can hold secrets (/proc/self/environ) or never end.
package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// ErrNotRegular is wrapped by the errors of Open for sources that are
// not regular files on a disk file system.
var ErrNotRegular = errors.New("not a regular file")

// Kernel file systems whose files are refused (statfs f_type).
var pseudoFS = map[int64]string{
	0x9fa0:     "proc",
	0x62656572: "sysfs",
	0x64626720: "debugfs",
	0x74726163: "tracefs",
	0x1cd1:     "devpts",
	0x27e0eb:   "cgroup",
	0x63677270: "cgroup2",
	0x73636673: "securityfs",
	0xcafe4a11: "bpf",
	0x6165676c: "pstorefs",
	0xde5e81e4: "efivarfs",
	0x42494e4d: "binfmt_misc",
	0x19800202: "mqueue",
}

// Open opens path read-only and checks it is a regular file on a disk
// file system. The error names path.
func Open(path string) (*os.File, os.FileInfo, error) {
	// O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
	// writer; on a regular file it changes nothing.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	fi, err := Check(f)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// Check refuses an open file that is not a regular file on a disk file
// system.
func Check(f *os.File) (os.FileInfo, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is a %s, %w: give the path of an image or config drive file", f.Name(), kind(fi.Mode()), ErrNotRegular)
	}
	var st syscall.Statfs_t
	if err := syscall.Fstatfs(int(f.Fd()), &st); err != nil {
		return nil, fmt.Errorf("statfs %s: %w", f.Name(), err)
	}
	if name, ok := pseudoFS[int64(st.Type)]; ok {
		return nil, fmt.Errorf("%s is on the kernel file system %s, %w", f.Name(), name, ErrNotRegular)
	}
	return fi, nil
}

func kind(m os.FileMode) string {
	switch {
	case m&os.ModeNamedPipe != 0:
		return "FIFO"
	case m&os.ModeCharDevice != 0:
		return "character device"
	case m&os.ModeDevice != 0:
		return "block device"
	case m&os.ModeSocket != 0:
		return "socket"
	case m.IsDir():
		return "directory"
	case m&os.ModeSymlink != 0:
		return "symbolic link"
	}
	return "special file"
}

// chunk is the copy's unit between cancellation checks.
const chunk = 1 << 20

// Copy copies src to dst until EOF, checking ctx before every chunk:
// a cancelled or timed-out request stops within one chunk. The error
// is ctx's cause when ctx ended.
func Copy(ctx context.Context, dst io.Writer, src io.Reader) (int64, error) {
	buf := make([]byte, chunk)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, fmt.Errorf("copy stopped after %d bytes: %w", n, context.Cause(ctx))
		}
		m, rerr := src.Read(buf)
		if m > 0 {
			w, werr := dst.Write(buf[:m])
			n += int64(w)
			if werr != nil {
				return n, werr
			}
			if w < m {
				return n, io.ErrShortWrite
			}
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}

// NewReader returns a reader of r that fails with ctx's cause once ctx
// ends, for copies done by code that takes a reader.
func NewReader(ctx context.Context, r io.Reader) io.Reader { return ctxReader{ctx, r} }

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, fmt.Errorf("read stopped: %w", context.Cause(c.ctx))
	}
	return c.r.Read(p)
}
