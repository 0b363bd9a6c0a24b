// Command zguest-hostd is the host daemon: it serves the z/VM cloud
// connector REST API that nova's in-tree z/VM driver uses
// ([zvm] cloud_connector_url) over a hypervisor backend.
//
//	zguest-hostd [--config FILE]    run the daemon
//	zguest-hostd sim NAME ARGS...   run a simulator (see simCommands)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/api/apitest"
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
var backends = map[string]daemon.BackendFactory{
	// "fake" keeps guests and images in memory: for trying the API and
	// for black-box tests of the binary; it touches no hypervisor.
	"fake": func(context.Context, daemon.BackendEnv) (api.Backend, error) { return apitest.NewFake(), nil },
}

// simCommands are the simulators `zguest-hostd sim NAME ...` runs.
// HOOK for the z/VM simulator: cmd/zguest-hostd/sim.go fills in "zvm".
var simCommands = map[string]func(ctx context.Context, args []string) error{}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:]))
}

func run(ctx context.Context, args []string) int {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if len(args) > 0 && args[0] == "sim" {
		return sim(ctx, args[1:])
	}
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
		fmt.Fprintf(os.Stderr, "zguest-hostd: unexpected argument %q (subcommands: sim)\n", fs.Arg(0))
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

func sim(ctx context.Context, args []string) int {
	var names []string
	for n := range simCommands {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(args) == 0 || simCommands[args[0]] == nil {
		fmt.Fprintf(os.Stderr, "usage: zguest-hostd sim NAME [ARGS...]; simulators: %s\n", strings.Join(names, ", "))
		return 2
	}
	if err := simCommands[args[0]](ctx, args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "zguest-hostd sim %s: %v\n", args[0], err)
		return 1
	}
	return 0
}
