// Command zguest-sim runs the test machinery that the shipped daemon does
// not carry: the z/VM and HMC simulators, and the host daemon on the
// in-memory fake backend.
//
//	zguest-sim zvm ARGS...             the z/VM simulator (SMAPI and CP endpoints)
//	zguest-sim dpm ARGS...             the HMC Web Services API simulator (HTTPS)
//	zguest-sim hostd [--config FILE]   the daemon with "backend": "fake" (guests in memory)
//
// It is built by `make build` but never packaged: zguest-hostd has real
// backends only.
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

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/api/apitest"
	"github.com/zguest/zguest/hostside/daemon"
	"github.com/zguest/zguest/hostside/hmcsim"
	"github.com/zguest/zguest/hostside/zvmsim"
	buildversion "github.com/zguest/zguest/internal/version"
)

const usage = "usage: zguest-sim zvm|dpm|hostd [ARGS...]"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:]))
}

func run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "zvm":
		err = zvmsim.Command(ctx, args[1:], nil)
	case "dpm":
		err = hmcsim.Command(ctx, args[1:], nil)
	case "hostd":
		return fakeDaemon(ctx, args[1:])
	case "--version", "version":
		fmt.Println("zguest-sim", buildversion.Version)
		return 0
	default:
		fmt.Fprintf(os.Stderr, "zguest-sim: unknown simulator %q; %s\n", args[0], usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "zguest-sim %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

// fakeDaemon runs the daemon with the in-memory backend only: for trying
// the API and for black-box tests of the daemon's HTTP layer.
func fakeDaemon(ctx context.Context, args []string) int {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	fs := flag.NewFlagSet("zguest-sim hostd", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "configuration file (JSON) with \"backend\": \"fake\" (required)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *cfgPath == "" || fs.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: zguest-sim hostd --config FILE")
		return 2
	}
	cfg, err := daemon.LoadConfig(*cfgPath)
	if err != nil {
		log.Error("cannot start", "error", err)
		return 1
	}
	backends := map[string]daemon.BackendFactory{
		"fake": func(context.Context, daemon.BackendEnv) (api.Backend, error) { return apitest.NewFake(), nil },
	}
	log.Warn("the fake backend keeps guests in memory and touches no hypervisor; for tests only")
	if err := daemon.Run(ctx, cfg, daemon.Deps{Logger: log, Backends: backends, Version: buildversion.Version}); err != nil {
		log.Error("stopped with an error", "error", err)
		return 1
	}
	return 0
}
