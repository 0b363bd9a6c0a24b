// Command zguest-hostd is the host daemon: it serves the z/VM cloud
// connector REST API that nova's in-tree z/VM driver uses
// ([zvm] cloud_connector_url) over a hypervisor backend.
//
//	zguest-hostd [--config FILE]    run the daemon
//
// It carries the real backends only; the simulators and the in-memory
// fake backend are in cmd/zguest-sim.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/zguest/zguest/hostside/daemon"
	buildversion "github.com/zguest/zguest/internal/version"
)

// version is set with -ldflags "-X github.com/zguest/zguest/internal/version.Version=...".
var version = buildversion.Version

// DefaultConfig is where the unit points --config.
const DefaultConfig = "/etc/zguest/hostd.json"

// backends are the hypervisor backends by the config's "backend" name.
// Backends add themselves in their own file of this package (e.g.
// backend_zvm.go: func init() { backends["zvm"] = ... }) so that this
// file stays the same.
var backends = map[string]daemon.BackendFactory{}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:]))
}

func run(ctx context.Context, args []string) int {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	fs := flag.NewFlagSet("zguest-hostd", flag.ContinueOnError)
	cfgPath := fs.String("config", DefaultConfig, "configuration file (JSON)")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *showVersion {
		fmt.Println("zguest-hostd", version)
		return 0
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "zguest-hostd: unexpected argument %q (the simulators are in zguest-sim)\n", fs.Arg(0))
		return 2
	}
	cfg, err := daemon.LoadConfig(*cfgPath)
	if err != nil {
		log.Error("cannot start", "error", err)
		return 1
	}
	err = daemon.Run(ctx, cfg, daemon.Deps{Logger: log, Backends: backends, Version: version})
	if err != nil {
		log.Error("stopped with an error", "error", err)
		return 1
	}
	return 0
}
