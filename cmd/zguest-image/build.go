package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/zguest/zguest/builder/imagebuild"
	"github.com/zguest/zguest/builder/imagespec"
	"github.com/zguest/zguest/builder/progress"
	"github.com/zguest/zguest/builder/sysprep"
)

// errInterrupted marks a build stopped by a signal.
var errInterrupted = errors.New("interrupted")

func (e *env) build(args []string) error {
	fs := e.newFlags("build", "build [options] image.yaml -o guest.qcow2")
	out := fs.String("o", "", "output image (required); written under a temporary name and renamed when complete")
	format := fs.String("format", "", "qcow2, raw or xcat (zvm) (default: the spec's format:, else from the output name)")
	work := fs.String("workdir", "", "scratch directory for the staged tree and raw disk (default $TMPDIR)")
	listOps := fs.Bool("list-sysprep", false, "list the clean-up operations (names for the spec's sysprep: enable/disable) and exit")
	verbose := fs.Bool("v", false, "log every step and change")
	// Flags may come after the spec file: parse, take the spec, parse on.
	if err := parse(fs, args); err != nil {
		return err
	}
	rest := fs.Args()
	var specPath string
	if len(rest) > 0 {
		specPath, rest = rest[0], rest[1:]
		if err := parse(fs, rest); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			return fmt.Errorf("%w: build takes one spec file, got also %q", errUsage, fs.Args())
		}
	}
	if *listOps {
		for _, op := range sysprep.Ops() {
			def := "on "
			if !op.Default {
				def = "off"
			}
			fmt.Fprintf(e.stdout, "%-22s %s  %s\n", op.Name, def, op.Description)
		}
		return nil
	}
	if specPath == "" {
		return fmt.Errorf("%w: build needs a spec file (see builder/imagespec/README.md)", errUsage)
	}
	if *out == "" {
		return fmt.Errorf("%w: build needs -o OUTPUT", errUsage)
	}
	switch *format {
	case "", "qcow2", "raw", "xcat":
	default:
		return fmt.Errorf("%w: -format %q: want qcow2, raw or xcat", errUsage, *format)
	}
	spec, err := imagespec.Load(specPath)
	if err != nil {
		return err
	}
	var epoch int64
	if v := os.Getenv("SOURCE_DATE_EPOCH"); v != "" {
		epoch, err = strconv.ParseInt(v, 10, 64)
		if err != nil || epoch <= 0 {
			return fmt.Errorf("%w: SOURCE_DATE_EPOCH=%q: want seconds since 1970 (a positive integer)", errUsage, v)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()

	stderr, _ := e.stderr.(*os.File)
	tty := stderr != nil && progress.IsTerminal(stderr)
	log := e.logger(*verbose || !tty)
	opts := imagebuild.Options{Output: *out, Format: *format, WorkDir: *work, Epoch: epoch, Log: log}
	start := time.Now()
	var bar *progress.Bar
	if tty {
		opts.Step = func(n, total int, name string) {
			fmt.Fprintf(e.stderr, "[%d/%d] %s (%.1fs)\n", n, total, name, time.Since(start).Seconds())
		}
		opts.Progress = func(done, total int64) {
			if bar == nil {
				bar = progress.New(stderr, "writing")
			}
			bar.Update(done, total)
		}
	}
	res, err := imagebuild.Build(ctx, spec, opts)
	if bar != nil {
		bar.Done()
	}
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%w: no output written: %v", errInterrupted, err)
		}
		return err
	}
	var steps []string
	for _, s := range res.Steps {
		steps = append(steps, fmt.Sprintf("%s %.1fs", strings.Fields(s.Name)[0], s.D.Seconds()))
	}
	log.Info("built", "output", res.Output, "format", res.Format, "uuid", res.UUID, "bootloader", res.Bootloader,
		"kernel", res.Kernel, "initrd", res.Initrd, "cmdline", res.Cmdline, "seconds", time.Since(start).Seconds())
	fmt.Fprintf(e.stdout, "%s: %s %s image, root UUID=%s, %s in %.1fs (%s)\n", res.Output, spec.Target, res.Format,
		res.UUID, bootText(res), time.Since(start).Seconds(), strings.Join(steps, ", "))
	for _, x := range res.Extra {
		fmt.Fprintf(e.stdout, "  %s\n", x)
	}
	return nil
}

func bootText(res imagebuild.Result) string {
	if res.Bootloader == "zipl" {
		return "boots from disk (" + res.BootRecord + ": " + res.Kernel + ")"
	}
	return "no boot record: boot the kernel and initrd written next to it"
}
