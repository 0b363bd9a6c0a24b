package zvmcp

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// The simulation-only CP protocol: one JSON request line, one JSON reply
// line, one exchange per connection (TCP or a unix socket). The disk
// operation returns the path of the simulator's sparse backing file,
// which the daemon opens itself: simulator and daemon share a machine.

// WireRequest is a request of the simulation protocol.
type WireRequest struct {
	Op     string `json:"op"` // "exec", "punch", "receive", "disk"
	Cmd    string `json:"cmd,omitempty"`
	Data   []byte `json:"data,omitempty"`
	Name   string `json:"name,omitempty"`
	Type   string `json:"type,omitempty"`
	ID     int    `json:"id,omitempty"`
	UserID string `json:"userid,omitempty"`
	Vdev   string `json:"vdev,omitempty"`
}

// WireReply is the reply.
type WireReply struct {
	Text  string `json:"text,omitempty"`
	RC    int    `json:"rc"`
	ID    int    `json:"id,omitempty"`
	Data  []byte `json:"data,omitempty"`
	Path  string `json:"path,omitempty"`
	Size  int64  `json:"size,omitempty"`
	Error string `json:"error,omitempty"`
}

// MaxWireLine bounds one line of the protocol.
const MaxWireLine = 64 << 20

// Remote is the CP and Disks of a simulator reached at Network/Addr.
type Remote struct {
	Network string // "tcp" or "unix"
	Addr    string
	Timeout time.Duration // per exchange; default 60 s
}

func (r Remote) call(ctx context.Context, q WireRequest) (WireReply, error) {
	t := r.Timeout
	if t <= 0 {
		t = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, t)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, r.Network, r.Addr)
	if err != nil {
		return WireReply{}, fmt.Errorf("simulated CP %s: %w", q.Op, err)
	}
	defer conn.Close()
	dl, _ := ctx.Deadline()
	conn.SetDeadline(dl)
	if err := json.NewEncoder(conn).Encode(q); err != nil {
		return WireReply{}, fmt.Errorf("simulated CP %s: send: %w", q.Op, err)
	}
	rd := bufio.NewReaderSize(conn, 64<<10)
	line, err := readLine(rd)
	if err != nil {
		return WireReply{}, fmt.Errorf("simulated CP %s: reply: %w", q.Op, err)
	}
	var rep WireReply
	if err := json.Unmarshal(line, &rep); err != nil {
		return WireReply{}, fmt.Errorf("simulated CP %s: reply: %w", q.Op, err)
	}
	if rep.Error != "" {
		return rep, fmt.Errorf("simulated CP %s: %s", q.Op, rep.Error)
	}
	return rep, nil
}

// ReadWireRequest reads one request line (server side).
func ReadWireRequest(rd *bufio.Reader) (WireRequest, error) {
	line, err := readLine(rd)
	if err != nil {
		return WireRequest{}, err
	}
	var q WireRequest
	if err := json.Unmarshal(line, &q); err != nil {
		return WireRequest{}, fmt.Errorf("simulated CP request: %w", err)
	}
	return q, nil
}

func readLine(rd *bufio.Reader) ([]byte, error) {
	var out []byte
	for {
		chunk, isPrefix, err := rd.ReadLine()
		if err != nil {
			return nil, err
		}
		out = append(out, chunk...)
		if len(out) > MaxWireLine {
			return nil, fmt.Errorf("line longer than %d bytes", MaxWireLine)
		}
		if !isPrefix {
			return out, nil
		}
	}
}

// Exec implements CP.
func (r Remote) Exec(ctx context.Context, cmd string) (Response, error) {
	rep, err := r.call(ctx, WireRequest{Op: "exec", Cmd: cmd})
	return Response{Text: rep.Text, RC: rep.RC}, err
}

// Punch implements CP.
// The simulator's wire carries the file in one JSON line, so it is read
// whole here; Remote exists only for simulation.
func (r Remote) Punch(ctx context.Context, in io.Reader, name, typ string) (int, error) {
	data, err := io.ReadAll(io.LimitReader(in, MaxWireLine))
	if err != nil {
		return 0, fmt.Errorf("punch %s.%s: read: %w", name, typ, err)
	}
	rep, err := r.call(ctx, WireRequest{Op: "punch", Data: data, Name: name, Type: typ})
	return rep.ID, err
}

// Receive implements CP.
func (r Remote) Receive(ctx context.Context, id int) ([]byte, error) {
	rep, err := r.call(ctx, WireRequest{Op: "receive", ID: id})
	return rep.Data, err
}

// OpenDisk implements Disks by opening the simulator's backing file.
func (r Remote) OpenDisk(ctx context.Context, userid, vdev string) (Disk, error) {
	rep, err := r.call(ctx, WireRequest{Op: "disk", UserID: userid, Vdev: vdev})
	if err != nil {
		return nil, err
	}
	return OpenFileDisk(rep.Path, rep.Size)
}

// FileDisk is a minidisk backed by a file of a fixed capacity.
type FileDisk struct {
	*os.File
	size int64
}

// OpenFileDisk opens path read-write as a disk of size bytes.
func OpenFileDisk(path string, size int64) (*FileDisk, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open minidisk backing file: %w", err)
	}
	return &FileDisk{File: f, size: size}, nil
}

// Size implements Disk.
func (d *FileDisk) Size() int64 { return d.size }

// WriteAt refuses writes beyond the capacity, as the device would. A
// write of zeros punches a hole instead, so that the backing file of a
// simulated minidisk stays sparse under a sparse image (it reads back
// as zeros, as the device would); where punching is not supported the
// zeros are written.
func (d *FileDisk) WriteAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > d.size {
		return 0, fmt.Errorf("write of %d bytes at %d beyond the minidisk's %d bytes: %w", len(p), off, d.size, os.ErrInvalid)
	}
	if len(p) >= 4096 && allZero(p) {
		err := unix.Fallocate(int(d.File.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, int64(len(p)))
		if err == nil {
			return len(p), nil
		}
	}
	return d.File.WriteAt(p, off)
}

func allZero(p []byte) bool {
	for _, b := range p {
		if b != 0 {
			return false
		}
	}
	return true
}
