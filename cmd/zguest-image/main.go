// Command zguest-image builds what zguest guests boot from: bootable s390x
// guest images, config drives (ISO 9660 or vfat, label config-2) and qcow2
// images.
//
//	zguest-image build [-o out] [--format qcow2|raw] image.yaml
//	zguest-image configdrive (--from-json instance.json | --from-dir tree) -o drive.iso|drive.vfat
//	zguest-image convert [--compress] [--compat 0.10|1.1] in out
//	zguest-image inspect [--json] image
//
// Exit status: 0 success, 1 failure, 2 usage error, 3 invalid or corrupt
// input (spec, source, image), 4 the image cannot be made bootable (no
// kernel or initrd, command line too long), 5 a step needs root (zvm DASD
// images), 130 interrupted.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/zguest/zguest/builder/configdrive"
	"github.com/zguest/zguest/builder/fstree"
	"github.com/zguest/zguest/builder/imagebuild"
	"github.com/zguest/zguest/builder/imagespec"
	"github.com/zguest/zguest/builder/qcow2"
	"github.com/zguest/zguest/builder/zipl"
	"github.com/zguest/zguest/internal/version"
)

// Exit codes, in one place.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
	exitInvalid = 3
	exitBoot    = 4
	exitRoot    = 5 // a step needs root (a zvm DASD image's VTOC and boot records)
	exitSignal  = 130
)

// errUsage marks command line mistakes.
var errUsage = errors.New("usage error")

const usage = `usage:
  zguest-image build image.yaml -o guest.qcow2 [--format qcow2|raw] [--workdir dir] [-v] [--list-sysprep]
  zguest-image configdrive (--from-json instance.json | --from-dir tree) -o drive.iso|drive.vfat [options]
  zguest-image convert [--compress] [--compat 0.10|1.1] [-O raw|qcow2] in out
  zguest-image inspect [--json] image
  zguest-image --version
Run "zguest-image <command> -h" for the options of a command.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type env struct {
	stdout, stderr io.Writer
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	e := &env{stdout: stdout, stderr: stderr}
	var err error
	switch args[0] {
	case "build":
		err = e.build(args[1:])
	case "configdrive":
		err = e.configdrive(args[1:])
	case "convert":
		err = e.convert(args[1:])
	case "inspect":
		err = e.inspect(args[1:])
	case "--version", "version":
		fmt.Fprintln(stdout, version.String("zguest-image"))
		return exitOK
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		err = fmt.Errorf("%w: unknown command %q", errUsage, args[0])
	}
	return exitCode(err, stderr)
}

func exitCode(err error, stderr io.Writer) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "zguest-image: %v\n%s", err, usage)
		return exitUsage
	}
	fmt.Fprintf(stderr, "zguest-image: %v\n", err)
	switch {
	case errors.Is(err, errInterrupted):
		return exitSignal
	case errors.Is(err, imagebuild.ErrNeedsRoot):
		return exitRoot
	case errors.Is(err, imagebuild.ErrBoot), errors.Is(err, zipl.ErrInvalid):
		return exitBoot
	case errors.Is(err, imagespec.ErrInvalid), errors.Is(err, imagebuild.ErrSource):
		return exitInvalid
	case errors.Is(err, configdrive.ErrInvalid), errors.Is(err, fstree.ErrInvalidPath),
		errors.Is(err, qcow2.ErrCorrupt), errors.Is(err, qcow2.ErrUnsupported):
		return exitInvalid
	}
	return exitFailure
}

// newFlags returns a FlagSet whose errors come back as errUsage.
func (e *env) newFlags(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: zguest-image %s\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return nil
}

func (e *env) logger(verbose bool) *slog.Logger {
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
}
