package vmdev

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zguest/zguest/internal/zvm/cp"
	"github.com/zguest/zguest/internal/zvm/splink"
	"github.com/zguest/zguest/internal/zvm/spool"
)

func setup(t *testing.T) (*spool.System, *cp.CP) {
	t.Helper()
	sys := spool.New(spool.Options{Clock: func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }})
	for _, u := range []string{"LINUX01", "LINUX02"} {
		if err := sys.AddUser(u, spool.LoggedOn); err != nil {
			t.Fatal(err)
		}
	}
	return sys, cp.New(sys)
}

// vmcp issues one command as libvmcp does: SETBUF, write, GETCODE,
// GETSIZE, read.
func vmcp(t *testing.T, c Executor, user, cmd string) (string, int) {
	t.Helper()
	s, err := OpenVMCP(c, user, true)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	buf := int32(16384)
	if err := s.Ioctl(VMCPSetBuf, &buf); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write([]byte(cmd)); err != nil {
		t.Fatal(err)
	}
	var code, size int32
	if err := s.Ioctl(VMCPGetCode, &code); err != nil {
		t.Fatal(err)
	}
	if err := s.Ioctl(VMCPGetSize, &size); err != nil {
		t.Fatal(err)
	}
	out := make([]byte, min(size, buf))
	n, _ := s.Read(out, 0)
	return string(out[:n]), int(code)
}

// punch mimics vmur punch -r -N name.type in binary mode.
func punch(t *testing.T, sys *spool.System, c *cp.CP, user string, data []byte, name, typ string) int {
	t.Helper()
	if _, rc := vmcp(t, c, user, "CLOSE D"); rc != 0 {
		t.Fatal(rc)
	}
	if resp, _ := vmcp(t, c, user, "QUERY VIRTUAL D"); resp[15:21] == "  CONT" {
		t.Fatal("spooled CONT")
	}
	h, err := NewPunchDevice(sys, user).Open(context.Background(), syscall.O_WRONLY|syscall.O_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	for len(data) > 0 {
		chunk := data[:min(len(data), PunchMaxWrite)]
		data = data[len(chunk):]
		if pad := len(chunk) % 80; pad != 0 {
			chunk = append(bytes.Clone(chunk), make([]byte, 80-pad)...)
		}
		if n, err := h.Write(chunk); err != nil || n != len(chunk) {
			t.Fatalf("write %d: %d, %v", len(chunk), n, err)
		}
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	resp, rc := vmcp(t, c, user, fmt.Sprintf("CLOSE D TO * RDR NAME %s %s", name, typ))
	if rc != 0 {
		t.Fatalf("close: %q %d", resp, rc)
	}
	id, err := strconv.Atoi(resp[9:13])
	if err != nil {
		t.Fatalf("response %q", resp)
	}
	return id
}

// receive mimics vmur receive <id> in binary mode.
func receive(t *testing.T, sys *spool.System, c *cp.CP, user string, id int) ([]byte, error) {
	t.Helper()
	q := func(cmd string) string {
		resp, rc := vmcp(t, c, user, strings.ToUpper(cmd))
		if rc != 0 {
			t.Fatalf("%s: %q rc %d", cmd, resp, rc)
		}
		return resp
	}
	resp := q("QUERY VIRTUAL C")
	restore := "SPOOL C CL " + string(resp[13])
	defer q(restore)
	q("SPOOL C CLASS *")
	q("CLOSE C HOLD")
	q(fmt.Sprintf("ORDER * READER %d", id))
	q(fmt.Sprintf("CHANGE * READER %d NOHOLD", id))
	if resp := q(fmt.Sprintf("QUERY READER * %d ALL SHORTDATE", id)); resp[110:114] != "NONE" {
		return nil, fmt.Errorf("hold state = %s", resp[110:114])
	}
	h, err := NewReaderDevice(sys, user, splink.Options{}).Open(context.Background(), syscall.O_RDONLY|syscall.O_NONBLOCK)
	if err != nil {
		return nil, err
	}
	var pages []byte
	buf := make([]byte, 80*splink.PageSize)
	for {
		n, err := h.ReadStream(buf)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			break
		}
		pages = append(pages, buf[:n]...)
	}
	_ = h.Close()
	out, err := splink.ReceiveBinary(pages, id)
	if err != nil {
		q("CLOSE C HOLD")
		return nil, err
	}
	q("CLOSE C NOHOLD NOKEEP")
	return out, nil
}

func readAll(t *testing.T, h *ReaderHandle) []byte {
	t.Helper()
	var out []byte
	buf := make([]byte, 1000)
	for {
		n, err := h.ReadStream(buf)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return out
		}
		out = append(out, buf[:n]...)
	}
}

func nulPad(b []byte) []byte {
	if r := len(b) % 80; r != 0 {
		return append(bytes.Clone(b), make([]byte, 80-r)...)
	}
	return b
}

// TestGoldenRoundTrip: vmur pun -r of B, then vmur re, gives B plus NUL
// padding to a multiple of 80; trailing 0x40 inside B survives; the spool
// id in the page-1 trailer is the requested one; the file is purged.
func TestGoldenRoundTrip(t *testing.T) {
	sizes := []int{1, 79, 80, 81, 44 * 80, 44*80 + 1, PunchMaxWrite + 7, 100000}
	for _, n := range sizes {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			sys, c := setup(t)
			data := make([]byte, n)
			for i := range data {
				data[i] = byte(i * 7)
				if i%80 >= 70 || i%97 == 0 {
					data[i] = 0x40 // trailing blanks in many cards
				}
			}
			id := punch(t, sys, c, "LINUX01", data, "Data", "bin")
			if f, err := sys.Get("LINUX01", spool.QueueRDR, id); err != nil || f.Name != "Data" {
				t.Fatalf("file %+v, %v", f, err)
			}
			got, err := receive(t, sys, c, "LINUX01", id)
			if err != nil {
				t.Fatal(err)
			}
			if want := nulPad(data); !bytes.Equal(got, want) {
				t.Fatalf("received %d bytes, want %d", len(got), len(want))
			}
			if files, _ := sys.List("LINUX01"); len(files) != 0 {
				t.Errorf("file not purged: %+v", files)
			}
			if d, _ := sys.ReaderDevice("LINUX01"); d.Class != '*' {
				t.Errorf("class not restored: %c", d.Class)
			}
		})
	}
}

// TestHostPunchGuestReceive: the host punches class X to a guest through
// the Go API; the guest receives it with the reader spooled CLASS X.
func TestHostPunchGuestReceive(t *testing.T) {
	sys, c := setup(t)
	other, _ := sys.Punch("LINUX02", []byte("other"), "a", "b", 'A')
	data := []byte("#!/bin/bash\necho hi\n")
	id, err := sys.Punch("LINUX02", data, "iucvauth", "sh", 'X')
	if err != nil {
		t.Fatal(err)
	}
	if _, rc := vmcp(t, c, "LINUX02", "SPOOL C CLASS X"); rc != 0 {
		t.Fatal(rc)
	}
	h, err := NewReaderDevice(sys, "LINUX02", splink.Options{}).Open(context.Background(), syscall.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	if h.SpoolID() != id {
		t.Fatalf("class X reader opened %d, want %d (not %d)", h.SpoolID(), id, other)
	}
	pages := readAll(t, h)
	got, err := splink.ReceiveBinary(pages, id)
	if err != nil || !bytes.Equal(got, nulPad(data)) {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestReaderOpenErrors(t *testing.T) {
	sys, c := setup(t)
	dev := NewReaderDevice(sys, "LINUX01", splink.Options{})
	ctx := context.Background()
	if _, err := dev.Open(ctx, syscall.O_RDWR); err != syscall.EACCES {
		t.Errorf("O_RDWR: %v", err)
	}
	if _, err := dev.Open(ctx, syscall.O_RDONLY); err != syscall.ENODATA {
		t.Errorf("empty: %v", err)
	}
	id, _ := sys.Punch("LINUX01", []byte("a"), "a", "b", 'A')
	_, _ = vmcp(t, c, "LINUX01", "SPOOL C CLASS X")
	if _, err := dev.Open(ctx, syscall.O_RDONLY); err != syscall.ENODATA {
		t.Errorf("class mismatch: %v", err)
	}
	_, _ = vmcp(t, c, "LINUX01", "SPOOL C CLASS A")
	_, _ = vmcp(t, c, "LINUX01", fmt.Sprintf("CHANGE * RDR %d HOLD", id))
	if _, err := dev.Open(ctx, syscall.O_RDONLY); err != syscall.EPERM {
		t.Errorf("held: %v", err)
	}
	_, _ = vmcp(t, c, "LINUX01", fmt.Sprintf("CHANGE * RDR %d NOHOLD", id))
	h, err := dev.Open(ctx, syscall.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dev.Open(ctx, syscall.O_RDONLY|syscall.O_NONBLOCK); err != syscall.EBUSY {
		t.Errorf("second open: %v", err)
	}
	tctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := dev.Open(tctx, syscall.O_RDONLY); err != syscall.EINTR {
		t.Errorf("blocking open: %v", err)
	}
	// Seek rules.
	if _, err := h.Seek(100, io.SeekStart); err != syscall.ESPIPE {
		t.Errorf("seek 100: %v", err)
	}
	if _, err := h.Seek(0, io.SeekEnd); err != syscall.EINVAL {
		t.Errorf("seek end: %v", err)
	}
	if pos, err := h.Seek(4096, io.SeekStart); err != nil || pos != 4096 {
		t.Errorf("seek 4096: %d %v", pos, err)
	}
	if n, err := h.ReadStream(make([]byte, 10)); n != 0 || err != nil {
		t.Errorf("read past EOF: %d %v", n, err)
	}
	// Closing the fd keeps the file active; reopening gets it again.
	_ = h.Close()
	if err := h.Close(); err != syscall.EBADF {
		t.Errorf("double close: %v", err)
	}
	h, err = dev.Open(ctx, syscall.O_RDONLY)
	if err != nil || h.SpoolID() != id {
		t.Fatalf("reopen: %v", err)
	}
	// CP CLOSE while open: reads fail with ENOMEDIUM.
	_, _ = vmcp(t, c, "LINUX01", "CLOSE C NOHOLD NOKEEP")
	if _, err := h.ReadAt(make([]byte, 10), 0); err != syscall.ENOMEDIUM {
		t.Errorf("read after CP CLOSE: %v", err)
	}
}

func TestSpoolIDMismatchAndSysHold(t *testing.T) {
	sys, c := setup(t)
	a, _ := sys.Punch("LINUX01", []byte("a"), "a", "b", 'A')
	b, _ := sys.Punch("LINUX01", []byte("b"), "b", "b", 'A')
	// Page-1 trailer carries the id of the file actually opened.
	h, err := NewReaderDevice(sys, "LINUX01", splink.Options{}).Open(context.Background(), syscall.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	pages := readAll(t, h)
	_ = h.Close()
	if _, err := splink.DecodePages(pages, b); !errors.Is(err, splink.ErrSpoolMismatch) {
		t.Errorf("want mismatch for %d (opened %d): %v", b, a, err)
	}
	_, _ = vmcp(t, c, "LINUX01", "CLOSE C HOLD")
	// A system hold survives CHANGE NOHOLD: vmur fails before open.
	if err := sys.SetSystemHold("LINUX01", spool.QueueRDR, b, true); err != nil {
		t.Fatal(err)
	}
	if _, err := receive(t, sys, c, "LINUX01", b); err == nil || err.Error() != "hold state = SYS " {
		t.Errorf("receive held: %v", err)
	}
}

func TestVMCPSession(t *testing.T) {
	_, c := setup(t)
	if _, err := OpenVMCP(c, "LINUX01", false); err != syscall.EPERM {
		t.Errorf("non-admin open: %v", err)
	}
	s, _ := OpenVMCP(c, "LINUX01", true)
	if n, _ := s.Read(make([]byte, 10), 0); n != 0 {
		t.Error("read before write")
	}
	if _, err := s.Write(bytes.Repeat([]byte("Q"), 241)); err != syscall.EINVAL {
		t.Errorf("long write: %v", err)
	}
	var code, size int32
	n, err := s.Write([]byte("QUERY VIRTUAL C"))
	if err != nil || n != 15 {
		t.Fatal(n, err)
	}
	_ = s.Ioctl(VMCPGetCode, &code)
	_ = s.Ioctl(VMCPGetSize, &size)
	if code != 0 || size != 103 {
		t.Errorf("code %d size %d", code, size)
	}
	// Stream reads in pieces.
	var got []byte
	p := make([]byte, 7)
	for {
		n, _ := s.ReadStream(p)
		if n == 0 {
			break
		}
		got = append(got, p[:n]...)
	}
	if len(got) != 103 || got[13] != '*' || got[len(got)-1] != '\n' {
		t.Errorf("stream %q", got)
	}
	// A small buffer truncates, GETSIZE reports the full length.
	small := int32(10)
	if err := s.Ioctl(VMCPSetBuf, &small); err != nil {
		t.Fatal(err)
	}
	_, _ = s.Write([]byte("FROB"))
	_ = s.Ioctl(VMCPGetCode, &code)
	_ = s.Ioctl(VMCPGetSize, &size)
	buf := make([]byte, 100)
	n, _ = s.Read(buf, 0)
	if code != 1 || size != 36 || n != 10 || string(buf[:n]) != "HCPCMD001E" {
		t.Errorf("code %d size %d read %q", code, size, buf[:n])
	}
	if n, _ := s.Read(buf, 4); n != 6 {
		t.Errorf("read at 4: %d", n)
	}
	// SETBUF drops the response; bad sizes reset to 4096 with EINVAL.
	for _, bad := range []int32{0, -1, 1<<20 + 1} {
		v := bad
		if err := s.Ioctl(VMCPSetBuf, &v); err != syscall.EINVAL || s.BufSize() != 4096 {
			t.Errorf("SETBUF %d: %v, bufsize %d", bad, err, s.BufSize())
		}
	}
	if n, _ := s.Read(buf, 0); n != 0 {
		t.Error("response survived SETBUF")
	}
	ok := int32(1 << 20)
	if err := s.Ioctl(VMCPSetBuf, &ok); err != nil || s.BufSize() != 1<<20 {
		t.Errorf("SETBUF 1MiB: %v", err)
	}
	if err := s.Ioctl(0x1234, &ok); err != syscall.ENOTTY {
		t.Errorf("bad ioctl: %v", err)
	}
	if err := s.Ioctl(VMCPGetCode, nil); err != syscall.EFAULT {
		t.Errorf("nil arg: %v", err)
	}
}

func TestPunchWriteRules(t *testing.T) {
	sys, _ := setup(t)
	dev := NewPunchDevice(sys, "LINUX01")
	ctx := context.Background()
	if _, err := dev.Open(ctx, syscall.O_RDONLY); err != syscall.EACCES {
		t.Errorf("O_RDONLY: %v", err)
	}
	h, err := dev.Open(ctx, syscall.O_WRONLY)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dev.Open(ctx, syscall.O_WRONLY|syscall.O_NONBLOCK); err != syscall.EBUSY {
		t.Errorf("second open: %v", err)
	}
	// A blocking open of the busy punch waits: until ctx ends (EINTR) or
	// the holder closes.
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	if _, err := dev.Open(short, syscall.O_WRONLY); err != syscall.EINTR {
		t.Errorf("blocking open of a busy punch: %v", err)
	}
	cancel()
	waited := make(chan error, 1)
	go func() {
		h2, err := dev.Open(ctx, syscall.O_WRONLY)
		if err == nil {
			err = h2.Close()
		}
		waited <- err
	}()
	if n, err := h.Write(nil); n != 0 || err != nil {
		t.Errorf("empty write: %d %v", n, err)
	}
	if _, err := h.Write(make([]byte, 81)); err != syscall.EINVAL {
		t.Errorf("81 bytes: %v", err)
	}
	if n, err := h.Write(make([]byte, 80*600)); n != PunchMaxWrite || err != nil {
		t.Errorf("big write: %d %v", n, err)
	}
	if d, _ := sys.PunchDevice("LINUX01"); d.OpenRecs != 511 {
		t.Errorf("%d records", d.OpenRecs)
	}
	_ = sys.InjectPunchFailure("LINUX01", true)
	if _, err := h.Write(make([]byte, 80)); err != syscall.EIO {
		t.Errorf("full spool: %v", err)
	}
	_ = h.Close()
	if err := <-waited; err != nil {
		t.Errorf("blocking open after close: %v", err)
	}
}

// FuzzReaderReadAt: reading the page stream at any offset and length
// returns exactly the matching slice of the encoded pages.
func FuzzReaderReadAt(f *testing.F) {
	f.Add([]byte("hello"), int64(0), uint16(4096))
	f.Add(bytes.Repeat([]byte{1}, 5000), int64(4090), uint16(20))
	f.Fuzz(func(t *testing.T, data []byte, off int64, n uint16) {
		if len(data) == 0 || off < 0 {
			return
		}
		sys, _ := setup(t)
		id, err := sys.Punch("LINUX01", data, "f", "t", 'A')
		if err != nil {
			t.Fatal(err)
		}
		f, _ := sys.Get("LINUX01", spool.QueueRDR, id)
		want, _ := splink.Encode(id, 80, f.Records, splink.Options{})
		h, err := NewReaderDevice(sys, "LINUX01", splink.Options{}).Open(context.Background(), syscall.O_RDONLY)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		p := make([]byte, n)
		got, err := h.ReadAt(p, off)
		if err != nil {
			t.Fatal(err)
		}
		var exp []byte
		if off < int64(len(want)) {
			exp = want[off:min(int64(len(want)), off+int64(n))]
		}
		if !bytes.Equal(p[:got], exp) {
			t.Fatalf("ReadAt(%d, %d) = %d bytes, want %d", off, n, got, len(exp))
		}
		if recs, err := splink.DecodePages(want, id); err != nil || len(recs) != len(f.Records) {
			t.Fatalf("decode: %v", err)
		}
	})
}
