package zvmsim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/zguest/zguest/hostside/zvmcp"
	"github.com/zguest/zguest/internal/zvm/spool"
)

// HostCP is the connector guest's view of CP in the simulator: it
// implements zvmcp.CP and zvmcp.Disks in-process.
type HostCP struct{ s *Sim }

// CP returns the in-process CP and disk access of the connector's guest.
func (s *Sim) CP() *HostCP { return &HostCP{s: s} }

var (
	_ zvmcp.CP    = (*HostCP)(nil)
	_ zvmcp.Disks = (*HostCP)(nil)
)

// Exec implements zvmcp.CP through the CP interpreter, as the host user.
func (h *HostCP) Exec(_ context.Context, cmd string) (zvmcp.Response, error) {
	h.s.cpLatency()
	out, rc := h.s.cp.Exec(h.s.HostID(), cmd)
	return zvmcp.Response{Text: string(out), RC: rc}, nil
}

// Punch implements zvmcp.CP: the cards go to the host's own reader with
// the punch's class (A), as vmur punch -r does. The simulated spool keeps
// its files in memory (CP keeps them on spool DASD), so the cards are
// gathered here, through the same card writer the native punch uses.
func (h *HostCP) Punch(ctx context.Context, in io.Reader, name, typ string) (int, error) {
	h.s.cpLatency()
	var cards bytes.Buffer
	if _, err := zvmcp.WriteCards(ctx, &cards, in); err != nil {
		return 0, fmt.Errorf("punch %s.%s: %w", name, typ, err)
	}
	data := cards.Bytes()
	host := h.s.HostID()
	pun, err := h.s.spool.PunchDevice(host)
	if err != nil {
		return 0, err
	}
	id, err := h.s.spool.Punch(host, data, name, typ, pun.Class)
	if err != nil {
		return 0, fmt.Errorf("punch %s.%s: %w", name, typ, err)
	}
	return id, nil
}

// Receive implements zvmcp.CP: binary receive (each record re-padded to
// 80 bytes with 0x40) and purge.
func (h *HostCP) Receive(_ context.Context, id int) ([]byte, error) {
	host := h.s.HostID()
	f, err := h.s.spool.Get(host, spool.QueueRDR, id)
	if err != nil {
		return nil, fmt.Errorf("receive %04d: %w", id, err)
	}
	var b bytes.Buffer
	for _, r := range f.Records {
		b.Write(r)
		b.Write(bytes.Repeat([]byte{0x40}, f.RecLen-len(r)))
	}
	if err := h.s.spool.Purge(host, spool.QueueRDR, id); err != nil {
		return nil, fmt.Errorf("receive %04d: %w", id, err)
	}
	return b.Bytes(), nil
}

// OpenDisk implements zvmcp.Disks on the minidisk's backing file.
func (h *HostCP) OpenDisk(_ context.Context, userid, vdev string) (zvmcp.Disk, error) {
	path, size, err := h.s.DiskPath(userid, vdev)
	if err != nil {
		return nil, fmt.Errorf("link %s %s: %w", userid, vdev, err)
	}
	return zvmcp.OpenFileDisk(path, size)
}

// CPServer is a running simulation CP endpoint.
type CPServer struct {
	ln net.Listener
	wg sync.WaitGroup
}

// ServeCP answers the simulation CP protocol (zvmcp.Remote) on ln.
func (s *Sim) ServeCP(ln net.Listener) *CPServer {
	srv := &CPServer{ln: ln}
	h := s.CP()
	srv.wg.Add(1)
	go func() {
		defer srv.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				if !errors.Is(err, net.ErrClosed) {
					s.log.Warn("zvmsim: CP accept", "err", err)
				}
				return
			}
			srv.wg.Add(1)
			go func() {
				defer srv.wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Minute))
				q, err := zvmcp.ReadWireRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				json.NewEncoder(c).Encode(h.serve(q))
			}()
		}
	}()
	return srv
}

// Addr is the listening address.
func (srv *CPServer) Addr() string { return srv.ln.Addr().String() }

// Close stops the endpoint.
func (srv *CPServer) Close() error {
	err := srv.ln.Close()
	srv.wg.Wait()
	return err
}

func (h *HostCP) serve(q zvmcp.WireRequest) zvmcp.WireReply {
	ctx := context.Background()
	var rep zvmcp.WireReply
	var err error
	switch q.Op {
	case "exec":
		var r zvmcp.Response
		r, err = h.Exec(ctx, q.Cmd)
		rep.Text, rep.RC = r.Text, r.RC
	case "punch":
		rep.ID, err = h.Punch(ctx, bytes.NewReader(q.Data), q.Name, q.Type)
	case "receive":
		rep.Data, err = h.Receive(ctx, q.ID)
	case "disk":
		rep.Path, rep.Size, err = h.s.DiskPath(q.UserID, q.Vdev)
	case "sysinfo":
		rep.Data = h.s.Sysinfo()
	default:
		err = fmt.Errorf("unknown operation %q", q.Op)
	}
	if err != nil {
		rep.Error = err.Error()
	}
	return rep
}
