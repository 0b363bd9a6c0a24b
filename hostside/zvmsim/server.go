package zvmsim

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/zguest/zguest/hostside/smapi"
)

// Server is a running SMAPI listener.
type Server struct {
	sim *Sim
	ln  net.Listener
	wg  sync.WaitGroup
}

// Serve answers SMAPI requests on ln until Close; one request per
// connection, as SMAPI does.
func (s *Sim) Serve(ln net.Listener) *Server {
	srv := &Server{sim: s, ln: ln}
	srv.wg.Add(1)
	go func() {
		defer srv.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				if !errors.Is(err, net.ErrClosed) {
					s.log.Warn("zvmsim: SMAPI accept", "err", err)
				}
				return
			}
			srv.wg.Add(1)
			go func() {
				defer srv.wg.Done()
				s.handleConn(c)
			}()
		}
	}()
	return srv
}

// Addr is the listening address.
func (srv *Server) Addr() string { return srv.ln.Addr().String() }

// Close stops listening and waits for open connections.
func (srv *Server) Close() error {
	err := srv.ln.Close()
	srv.wg.Wait()
	return err
}

func (s *Sim) handleConn(c net.Conn) {
	defer c.Close()
	if s.takeDrop() {
		s.log.Debug("zvmsim: dropping connection (injected)")
		return
	}
	c.SetDeadline(time.Now().Add(5 * time.Minute))
	req, err := smapi.ReadRequest(c)
	if err != nil {
		s.log.Warn("zvmsim: bad SMAPI request", "err", err)
		return
	}
	s.mu.Lock()
	s.reqID++
	id := s.reqID
	lat := s.faults.latency
	s.mu.Unlock()
	if err := smapi.WriteRequestID(c, id); err != nil {
		return
	}
	resp := s.Handle(context.Background(), req)
	resp.RequestID = id
	if lat > 0 {
		time.Sleep(lat)
	}
	s.log.Debug("zvmsim: SMAPI", "function", req.Function, "target", req.Target, "rc", resp.RC, "rs", resp.RS)
	c.Write(resp.EncodeOutput())
}
