// Command zguest-agent is the in-guest activation engine for Linux on IBM
// Z: at boot, before cloud-init, it brings every qeth NIC the host gave
// the guest up in layer 2 with the right MAC.
//
//	zguest-agent [--root DIR] [--timeout D] activate [--platform P] [--compat] [--nic-list FILE]...
//	zguest-agent [--root DIR] [--timeout D] reader [--compat]
//	zguest-agent [--root DIR] [--timeout D] setmac <bus-id|interface>
//	zguest-agent [--root DIR] status [--json]
//	zguest-agent [--root DIR] reprovision
//
// On a z/VM guest, activate first processes the virtual reader (package
// agent/zvm); reader does only that and then brings up the NICs again
// (started by udev when a file arrives). On KVM there is nothing to do.
//
// Exit status: 0 every NIC is up with its MAC and every reader file was
// handled; 1 some NIC or reader file failed or a NIC source had errors
// (see the journal or `zguest-agent status`); 2 bad usage; 3 the agent
// itself could not run (state file, netlink).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/zguest/zguest/agent/boot"
	"github.com/zguest/zguest/agent/platform"
	"github.com/zguest/zguest/agent/report"
	"github.com/zguest/zguest/agent/state"
	"github.com/zguest/zguest/agent/zvm"
	"github.com/zguest/zguest/internal/version"
)

// Exit codes.
const (
	exitOK       = 0
	exitNICs     = 1
	exitUsage    = 2
	exitInternal = 3
)

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

type internalError struct{ err error }

func (e internalError) Error() string { return e.err.Error() }
func (e internalError) Unwrap() error { return e.err }

var errNICs = errors.New("not every NIC is up, or not every reader file was processed")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

func exitCode(err error, stderr io.Writer) int {
	var ue usageError
	var ie internalError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "zguest-agent: %s\nRun 'zguest-agent -h' for usage.\n", ue.msg)
		return exitUsage
	case errors.Is(err, errNICs):
		return exitNICs
	case errors.As(err, &ie):
		fmt.Fprintf(stderr, "zguest-agent: %v\n", ie.err)
		return exitInternal
	}
	fmt.Fprintf(stderr, "zguest-agent: %v\n", err)
	return exitInternal
}

const usage = `Usage: zguest-agent [global options] <command> [options]

Commands:
  activate            bring up every qeth NIC listed by the kernel command line
                      (DPM tokens, rd.znet) and the NIC list files (boot unit)
  reader              process the z/VM reader (udev-started when a file
                      arrives), then bring up the NICs
  setmac TARGET       bring up one NIC, named by a bus id of one of its
                      subchannels or by its interface (udev-started unit)
  status              print what the last runs did (from /run/zguest/state.json)
  reprovision         z/VM: forget the pinned guest identity and sender, so that
                      the next config drive (of any uuid) is accepted and pinned

Global options:
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	g := flag.NewFlagSet("zguest-agent", flag.ContinueOnError)
	g.SetOutput(stderr)
	root := g.String("root", "/", "directory that stands for / (sys, proc, dev, etc, run are found below it)")
	timeout := g.Duration("timeout", 90*time.Second, "give up on NICs that are not up after this long")
	devWait := g.Duration("device-timeout", 10*time.Second, "give up on a NIC whose subchannels are not present and bound after this long")
	level := g.String("log-level", "info", "debug, info, warn or error")
	cpuprofile := g.String("cpuprofile", "", "write a Go CPU profile of this run to `file` (debugging aid)")
	console := g.String("console", "", "also write each report line to this `device` (the units pass /dev/console) when logging to the journal natively, which the console does not see")
	showVersion := g.Bool("version", false, "print the version and exit")
	g.Usage = func() { fmt.Fprint(stderr, usage); g.PrintDefaults() }
	if err := g.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError{err.Error()}
	}
	if *showVersion {
		fmt.Fprintln(stdout, version.String("zguest-agent"))
		return nil
	}
	if g.NArg() == 0 {
		return usageError{"missing command (activate, setmac or status)"}
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		return usageError{fmt.Sprintf("--log-level %q: want debug, info, warn or error", *level)}
	}
	if *timeout <= 0 || *devWait <= 0 {
		return usageError{"--timeout and --device-timeout must be positive"}
	}
	absRoot, err := filepath.Abs(*root)
	if err != nil {
		return usageError{fmt.Sprintf("--root %q: %v", *root, err)}
	}
	if fi, err := os.Stat(absRoot); err != nil || !fi.IsDir() {
		return usageError{fmt.Sprintf("--root %q is not a directory", *root)}
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return usageError{fmt.Sprintf("--cpuprofile: %v", err)}
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return internalError{err}
		}
		defer pprof.StopCPUProfile()
	}
	cmd, rest := g.Arg(0), g.Args()[1:]
	switch cmd {
	case "status":
		return status(absRoot, rest, stdout)
	case "reprovision":
		if len(rest) != 0 {
			return usageError{"reprovision takes no arguments"}
		}
		msg, err := zvm.Reprovision(absRoot)
		if err != nil {
			return internalError{err}
		}
		fmt.Fprintln(stdout, msg)
		return nil
	case "activate", "setmac", "reader":
	default:
		return usageError{fmt.Sprintf("unknown command %q (want activate, reader, setmac, status or reprovision)", cmd)}
	}
	c := flag.NewFlagSet(cmd, flag.ContinueOnError)
	c.SetOutput(stderr)
	var lists multiFlag
	platformFlag := "auto"
	var compat bool
	if cmd == "activate" {
		c.Var(&lists, "nic-list", "read this NIC list file too (repeatable)")
		c.StringVar(&platformFlag, "platform", "auto", "zvm, dpm, kvm or auto (from /proc/sysinfo)")
	}
	if cmd == "activate" || cmd == "reader" {
		c.BoolVar(&compat, "compat", false, "z/VM compatibility mode: run *.sh and *.doscript reader files (also on when /"+zvm.CompatFile+" exists)")
	}
	if err := c.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError{err.Error()}
	}
	var target string
	switch {
	case cmd == "setmac" && c.NArg() != 1:
		return usageError{"setmac takes exactly one bus id or interface name"}
	case cmd == "setmac":
		target = c.Arg(0)
	case c.NArg() != 0:
		return usageError{fmt.Sprintf("%s takes no arguments, got %q", cmd, c.Args())}
	}
	plat, err := platform.Parse(platformFlag)
	if err != nil {
		return usageError{"--platform: " + err.Error()}
	}

	log := report.Logger(stderr, lvl)
	if *console != "" {
		if f, err := os.OpenFile(filepath.Join(absRoot, *console), os.O_WRONLY|os.O_APPEND|syscall.O_NOCTTY, 0); err == nil {
			defer f.Close()
			log = report.WithConsole(log, f, lvl)
		} else {
			log.Warn("console not written", "device", *console, "err", err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	err = boot.Run(ctx, boot.Options{Command: cmd, Target: target, Root: absRoot, Platform: plat,
		NICLists: lists, Compat: compat, DeviceWait: *devWait, Log: log})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, boot.ErrNICs), errors.Is(err, boot.ErrReader):
		return errNICs
	}
	return internalError{err}
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

func status(root string, args []string, stdout io.Writer) error {
	c := flag.NewFlagSet("status", flag.ContinueOnError)
	asJSON := c.Bool("json", false, "print the state file as JSON")
	if err := c.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	s, err := state.Load(root)
	if err != nil {
		return internalError{err}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}
	if len(s.Runs) == 0 {
		fmt.Fprintln(stdout, "zguest-agent has not run in this boot")
		return nil
	}
	last := s.Runs[len(s.Runs)-1]
	fmt.Fprintf(stdout, "last run: %s at %s, took %s, ok=%v\n", last.Command, last.Started.Format(time.RFC3339), last.Duration, last.OK)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "BUSID\tIFNAME\tMAC\tPORT\tLAYER\tOUTCOME\tDETAIL")
	for _, n := range s.NICs {
		detail := n.Error
		if detail == "" && len(n.Changed) > 0 {
			detail = strings.Join(n.Changed, "; ")
		}
		layer := "2"
		if n.Layer2 == 0 {
			layer = "3"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", n.BusID, dash(n.IfName), dash(n.MAC), n.Port, layer, n.Outcome, detail)
	}
	tw.Flush()
	for _, p := range s.Problems {
		fmt.Fprintln(stdout, "problem:", p)
	}
	if r := s.Reader; r != nil {
		fmt.Fprintf(stdout, "z/VM reader: config drive %s\n", dash(r.ConfigDrive))
		if r.Error != "" {
			fmt.Fprintln(stdout, "reader problem:", r.Error)
		}
		for _, f := range r.Files {
			fmt.Fprintf(stdout, "  %04d %-8s %-17s %-7s %s\n", f.SpoolID, f.Origin, dash(f.Name), f.Outcome, f.Reason)
		}
	}
	if !s.OK {
		return errNICs
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
