package hmcsim

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"
)

// Command runs the simulator as a process until ctx ends:
//
//	zguest-sim dpm --inventory testdata/hmc/dpm-z14.yaml
//	    [--listen 127.0.0.1:6794] [--cert-out FILE] [--host NAME]
//	    [--session-idle D] [--job-time D] [--deferred D] [--latency D]
//	    [--volume-dir DIR]
//
// --cert-out writes the generated certificate (PEM, usable as the CA)
// for the daemon's HMC TLS configuration. Faults are injected through
// the /sim/ endpoints (see Sim.ServeHTTP / serveAdmin).
func Command(ctx context.Context, args []string, log *slog.Logger) error {
	fs := flag.NewFlagSet("sim dpm", flag.ContinueOnError)
	listen := fs.String("listen", fmt.Sprintf("127.0.0.1:%d", DefaultPort), "HTTPS address")
	invFile := fs.String("inventory", "", "inventory YAML file (required), e.g. testdata/hmc/dpm-z14.yaml")
	certOut := fs.String("cert-out", "", "write the generated CA certificate (PEM) to this file")
	host := fs.String("host", "", "extra certificate name or IP besides 127.0.0.1/localhost")
	idle := fs.Duration("session-idle", 0, "expire sessions idle this long (0: never)")
	jobTime := fs.Duration("job-time", 50*time.Millisecond, "duration of start/stop jobs")
	deferred := fs.Duration("deferred", 100*time.Millisecond, "time a partition stays starting after its start job completed")
	latency := fs.Duration("latency", 0, "latency added to every API request")
	volDir := fs.String("volume-dir", "", "directory of sparse backing files of the storage volumes (wwn-0x<uuid>)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *invFile == "" {
		return fmt.Errorf("sim dpm: --inventory is required")
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	var hosts []string
	if *host != "" {
		hosts = []string{*host}
	}
	s, err := Start(ctx, Options{Listen: *listen, InventoryFile: *invFile, Hosts: hosts, SessionIdle: *idle,
		JobDuration: *jobTime, DeferredStatus: *deferred, Latency: *latency, Log: log, VolumeDir: *volDir})
	if err != nil {
		return err
	}
	defer s.Close()
	if *certOut != "" {
		if err := os.WriteFile(*certOut, s.CACertPEM(), 0o644); err != nil {
			return fmt.Errorf("sim dpm: --cert-out: %w", err)
		}
	}
	log.Info("HMC simulator running", "url", s.URL(), "inventory", *invFile, "cert", *certOut)
	<-ctx.Done()
	return nil
}
