// Package imagerepo is what the host daemon's image repositories share:
// bringing an image file in the way the z/VM cloud connector's
// image_import does (a local file:// path, or scp from nova's
// remote_host), its md5 and size, and what kind of disk image it is
// (raw, or qcow2 with its virtual size) with a reader of its disk
// contents. The z/VM backend keeps its records in its own store; the DPM
// backend in the daemon's state store.
package imagerepo

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"strings"

	"github.com/zguest/zguest/builder/qcow2"
	"github.com/zguest/zguest/hostside/remotehost"
	"github.com/zguest/zguest/hostside/source"
)

// SCP is how remote images are copied: the scp binary ("" is
// /usr/bin/scp) and the sshd port of remote hosts (0 is 22).
type SCP struct {
	Binary string
	Port   int
}

// Get copies path on remote (user@host) to the local file dst.
func (s SCP) Get(ctx context.Context, remote, path, dst string) error {
	argv, err := remotehost.GetArgv(s.Binary, s.Port, remote, path, dst)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	if out, err := cmd.CombinedOutput(); err != nil {
		if ctx.Err() != nil { // killed for it: say why
			return fmt.Errorf("copy %s from %s with scp: %w", path, remote, context.Cause(ctx))
		}
		return fmt.Errorf("copy %s from %s with scp: %w: %s", path, remote, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Errors of Fetch, to map onto the original's return codes.
var (
	ErrBadURL     = errors.New("want a file:// URL with an absolute path")
	ErrRemoteHost = errors.New("remote host invalid")
	ErrRemoteCopy = errors.New("copy from the remote host failed")
	ErrLocalCopy  = errors.New("copy from the local file system failed")
)

// Fetch brings the image at rawURL (file://) to the new file dst, from
// remote when it is not "", and returns its md5 and size. The returned
// error wraps one of the Err values above.
//
// A local path is opened under sources (nil: any regular file), so a
// symbolic link swapped in after the API's check still cannot lead out
// of the allowed directories.
func Fetch(ctx context.Context, scp SCP, sources *source.Policy, rawURL, remote, dst string) (sum string, size int64, err error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "file" || !strings.HasPrefix(u.Path, "/") {
		return "", 0, fmt.Errorf("URL %q: %w", rawURL, ErrBadURL)
	}
	if remote != "" {
		if err := remotehost.CheckPath(remote, u.Path); err != nil {
			return "", 0, fmt.Errorf("%w: %w", ErrRemoteHost, err)
		}
		if err := scp.Get(ctx, remote, u.Path, dst); err != nil {
			return "", 0, fmt.Errorf("%w: %w", ErrRemoteCopy, err)
		}
		sum, size, err = HashFile(dst)
		if err != nil {
			return "", 0, fmt.Errorf("%w: %w", ErrRemoteCopy, err)
		}
		return sum, size, nil
	}
	sum, size, err = CopyHash(ctx, sources, u.Path, dst)
	if err != nil {
		return "", 0, fmt.Errorf("%w: %w", ErrLocalCopy, err)
	}
	return sum, size, nil
}

// CopyHash copies src to the new file dst and returns its md5 and size.
// src must be a regular file (package source refuses FIFOs, devices and
// kernel pseudo-files before reading), opened under sources (nil: any
// path), and the copy stops when ctx ends.
func CopyHash(ctx context.Context, sources *source.Policy, src, dst string) (string, int64, error) {
	in, _, err := sources.Open(src)
	if err != nil {
		return "", 0, err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return "", 0, err
	}
	h := md5.New()
	n, err := source.Copy(ctx, io.MultiWriter(out, h), in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return hex.EncodeToString(h.Sum(nil)), n, err
}

// HashFile is the md5 and size of a file.
func HashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := md5.New()
	n, err := io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil)), n, err
}

// Image formats.
const (
	Raw   = "raw"
	QCOW2 = "qcow2"
)

// Disk is an opened disk image: its disk contents, whatever the format.
type Disk struct {
	Format string
	Size   int64 // virtual size in bytes
	io.ReaderAt
	f *os.File
}

// Close closes the file.
func (d *Disk) Close() error { return d.f.Close() }

// Open opens a disk image file: qcow2 (by its magic) or raw.
func Open(path string) (*Disk, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	magic := make([]byte, 4)
	if n, _ := f.ReadAt(magic, 0); n == 4 && string(magic) == "QFI\xfb" {
		im, err := qcow2.Open(f, st.Size())
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("image %s: %w", path, err)
		}
		return &Disk{Format: QCOW2, Size: im.Size(), ReaderAt: im, f: f}, nil
	}
	if st.Size() == 0 {
		f.Close()
		return nil, fmt.Errorf("image %s is empty", path)
	}
	return &Disk{Format: Raw, Size: st.Size(), ReaderAt: f, f: f}, nil
}
