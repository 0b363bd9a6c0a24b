package zvmsim

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
)

// Command runs the simulator as a process: `zguest-hostd sim zvm
// --listen 127.0.0.1:44444 --cp-listen 127.0.0.1:44445 --disks DIR
// [--user U --password-file F]` until ctx ends. The daemon in simulation
// points its SMAPI client at --listen and its CP at --cp-listen
// (zvmcp.Remote).
func Command(ctx context.Context, args []string, log *slog.Logger) error {
	fs := flag.NewFlagSet("sim zvm", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:44444", "SMAPI TCP address")
	cpListen := fs.String("cp-listen", "127.0.0.1:44445", "simulation CP endpoint (tcp address, or unix:PATH)")
	disks := fs.String("disks", "", "directory for the minidisks' sparse backing files (required)")
	user := fs.String("user", "", "SMAPI userid requests must carry (empty: empty credentials)")
	pwFile := fs.String("password-file", "", "file holding the SMAPI password")
	vsw := fs.String("vswitches", "", "comma-separated virtual switches NICs may couple to (default: none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *disks == "" {
		return fmt.Errorf("sim zvm: --disks is required")
	}
	var pw string
	if *pwFile != "" {
		b, err := os.ReadFile(*pwFile)
		if err != nil {
			return fmt.Errorf("sim zvm: password file: %w", err)
		}
		pw = strings.TrimSpace(string(b))
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	var vswitches []string
	if *vsw != "" {
		vswitches = strings.Split(*vsw, ",")
	}
	s, err := New(Options{DiskDir: *disks, UserID: *user, Password: pw, VSwitches: vswitches, Log: log})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("sim zvm: SMAPI listener: %w", err)
	}
	network, addr := "tcp", *cpListen
	if p, ok := strings.CutPrefix(addr, "unix:"); ok {
		network, addr = "unix", p
		os.Remove(p)
	}
	cln, err := net.Listen(network, addr)
	if err != nil {
		ln.Close()
		return fmt.Errorf("sim zvm: CP listener: %w", err)
	}
	srv, csrv := s.Serve(ln), s.ServeCP(cln)
	log.Info("z/VM simulator running", "smapi", srv.Addr(), "cp", network+":"+csrv.Addr(), "host_userid", s.HostID())
	<-ctx.Done()
	srv.Close()
	csrv.Close()
	return nil
}
