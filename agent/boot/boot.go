// Package boot runs one agent command from start to end on the real
// system: it tells the platform (unless told), processes the z/VM reader
// where there is one, says what the NIC sources list on KVM, and brings
// the qeth NICs up through the activate engine with netlink and udev's
// monitor wired in. cmd/zguest-agent parses flags and maps its errors to
// exit codes.
package boot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/zguest/zguest/agent/activate"
	"github.com/zguest/zguest/agent/link"
	"github.com/zguest/zguest/agent/platform"
	"github.com/zguest/zguest/agent/qeth"
	"github.com/zguest/zguest/agent/report"
	"github.com/zguest/zguest/agent/sysfs"
	"github.com/zguest/zguest/agent/udevmon"
	"github.com/zguest/zguest/agent/zvm"
)

// Commands Run knows.
const (
	Activate = "activate" // the boot unit: reader (z/VM), then every NIC
	Reader   = "reader"   // a file arrived in the z/VM reader: reader, then every NIC
	SetMAC   = "setmac"   // one NIC, named by Options.Target
)

// Errors that mean "the agent ran, but not everything is as wanted"
// (exit status 1); any other error means the agent could not run.
var (
	ErrNICs   = errors.New("not every NIC is up")
	ErrReader = errors.New("not every z/VM reader file was processed")
)

// Options are one run's settings.
type Options struct {
	Command    string
	Target     string            // SetMAC: a bus id or an interface name
	Root       string            // absolute; "/" on a real system
	Platform   platform.Platform // "" detects it from /proc/sysinfo
	NICLists   []string
	Compat     bool // z/VM compatibility mode (also on when /etc/zguest/zvm-compat exists)
	DeviceWait time.Duration
	Log        *slog.Logger
}

// Run runs the command.
func Run(ctx context.Context, o Options) error {
	log := o.Log
	fsys := sysfs.Root{Dir: o.Root}
	var readerErr error
	readerStatus := ""
	if o.Command != SetMAC {
		plat := o.Platform
		if o.Command == Reader {
			plat = platform.ZVM
		}
		if plat == "" {
			info, err := platform.Detect(fsys)
			if err != nil {
				log.Warn("cannot tell the platform; doing what is done in an LPAR (DPM)", "error", err)
				plat = platform.DPM
			} else {
				plat = info.Platform
				log.Info("platform detected", "platform", string(plat), "hypervisor", info.Hypervisor, "guest", info.GuestName)
			}
		}
		switch plat {
		case platform.KVM:
			return describeKVM(o, fsys)
		case platform.ZVM:
			rep, err := zvm.Run(ctx, zvm.Options{Root: o.Root, FS: fsys, Compat: o.Compat, DeviceWait: o.DeviceWait, Log: log, Replace: o.Command == Activate})
			if err != nil {
				return err
			}
			readerStatus = "; " + rep.Status()
			if !rep.OK() {
				readerErr = ErrReader
			}
		}
	}
	links, err := link.New()
	if err != nil {
		return err
	}
	defer links.Close()
	events, err := udevmon.Watch(ctx)
	if err != nil {
		log.Debug("no udev monitor; following sysfs only", "error", err)
		events = nil
	}
	namer := qeth.NewUdevNamer(ctx, fsys, sysfs.Exists(fsys, qeth.UdevControl), events)
	namer.Log = log
	opts := activate.Options{
		Root: o.Root, FS: fsys, Links: links, Namer: namer, NICLists: o.NICLists,
		DeviceWait: o.DeviceWait, Log: log, Command: strings.TrimSpace(o.Command + " " + o.Target),
	}
	start := time.Now()
	var rep activate.Report
	if o.Command == SetMAC {
		rep, err = activate.SetMAC(ctx, opts, o.Target)
	} else {
		st := report.NewStatus(0)
		opts.Progress = st
		rep, err = activate.Activate(ctx, opts)
		summary := fmt.Sprintf("%d of %d NICs up in %s", len(rep.NICs)-rep.Failed(), len(rep.NICs), time.Since(start).Round(time.Millisecond))
		st.Final(summary + readerStatus)
		log.Info("activate finished: "+summary+readerStatus, "ok", rep.OK(), "peak_rss_kib", PeakRSS())
	}
	if err != nil {
		return err
	}
	if !rep.OK() {
		return errors.Join(ErrNICs, readerErr)
	}
	return readerErr
}

// describeKVM says what the NIC sources list: a KVM guest has virtio
// NICs, which need no activation.
func describeKVM(o Options, fsys sysfs.FS) error {
	lines, probs, err := activate.Describe(activate.Options{Root: o.Root, FS: fsys, NICLists: o.NICLists})
	if err != nil {
		return err
	}
	for _, p := range probs {
		o.Log.Warn("NIC source: " + p.String())
	}
	for _, l := range lines {
		o.Log.Info("KVM guest: " + l)
	}
	o.Log.Info("KVM guest: virtio devices need no activation; nothing to do")
	return nil
}

// PeakRSS is the process's own high-water resident set size (VmHWM), in
// KiB, or -1 if the kernel does not say. Unlike getrusage's ru_maxrss it
// does not count the memory of the process that forked it.
func PeakRSS() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kib int
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kib); err == nil {
				return kib
			}
		}
	}
	return -1
}
