// Package activate is the agent's engine: it gathers the NICs from every
// source (NIC list files, DPM tokens and rd.znet on the kernel command
// line), plans each one from what sysfs says, frees all ignored
// subchannels in one write, brings the NICs up concurrently, and records
// the outcome in the journal and the state file. One NIC's failure never
// stops the others.
package activate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/zguest/zguest/agent/ccw"
	"github.com/zguest/zguest/agent/cmdline"
	"github.com/zguest/zguest/agent/nic"
	"github.com/zguest/zguest/agent/niclist"
	"github.com/zguest/zguest/agent/qeth"
	"github.com/zguest/zguest/agent/state"
	"github.com/zguest/zguest/agent/sysfs"
)

// DefaultNICLists are read when they exist, relative to the root.
var DefaultNICLists = []string{"etc/zguest/nics.json", "run/zguest/nics.json"}

// Progress receives what NICs wait for (report.Status implements it).
type Progress interface {
	Total(n int)
	Waiting(id, what string)
	Done(id string)
}

// Options wire the engine to the system.
type Options struct {
	// Root is the directory that stands for / for the files the agent keeps
	// (run/zguest, etc/zguest) and for the NIC lists.
	Root string
	// FS reaches sys/ and proc/ (and run/udev); nil means sysfs.Root{Root}.
	FS    sysfs.FS
	Links qeth.Links
	// Namer waits for udev; nil means a qeth.UdevNamer on FS without events.
	Namer qeth.Namer
	// NICLists are extra NIC list files (real paths).
	NICLists []string
	// DeviceWait bounds the wait for one NIC's subchannels; 0 means 10 s.
	DeviceWait time.Duration
	// Concurrency bounds the NICs brought up at once; 0 means 16.
	Concurrency int
	Log         *slog.Logger
	Progress    Progress
	// Command names this run in the state file ("activate", "setmac 0.0.f500").
	Command string
}

// NICReport is one NIC's outcome.
type NICReport struct {
	NIC    nic.NIC
	Result qeth.Result
}

// Report is a run's outcome.
type Report struct {
	NICs     []NICReport
	Problems []nic.Problem
	// Skipped is set by SetMAC when the target is not a listed NIC.
	Skipped string
}

// OK says whether every NIC is up with its MAC and no source had errors.
func (r Report) OK() bool {
	for _, p := range r.Problems {
		if !p.Warning {
			return false
		}
	}
	for _, n := range r.NICs {
		if !n.Result.OK() {
			return false
		}
	}
	return true
}

// Failed counts the NICs that did not come up.
func (r Report) Failed() int {
	c := 0
	for _, n := range r.NICs {
		if !n.Result.OK() {
			c++
		}
	}
	return c
}

func (o *Options) defaults() {
	if o.FS == nil {
		o.FS = sysfs.Root{Dir: o.Root}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 16
	}
	if o.Namer == nil {
		o.Namer = qeth.NewUdevNamer(context.Background(), o.FS, false, nil)
	}
	if o.DeviceWait <= 0 {
		o.DeviceWait = 10 * time.Second
	}
	if o.Command == "" {
		o.Command = "activate"
	}
}

// Gather reads every NIC source and merges them (NIC lists win over DPM
// tokens, which win over rd.znet).
func Gather(o Options) ([]nic.NIC, []nic.Problem, error) {
	o.defaults()
	var probs []nic.Problem
	var lists []nic.NIC
	paths := make([]string, 0, len(DefaultNICLists)+len(o.NICLists))
	for _, p := range DefaultNICLists {
		paths = append(paths, filepath.Join(o.Root, filepath.FromSlash(p)))
	}
	paths = append(paths, o.NICLists...)
	for i, p := range paths {
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) && i < len(DefaultNICLists) {
			continue
		}
		name := p
		if i < len(DefaultNICLists) {
			name = "/" + DefaultNICLists[i]
		}
		if err != nil {
			probs = append(probs, nic.Problem{Source: name, Reason: err.Error()})
			continue
		}
		ns, ps, err := niclist.Parse(b, name)
		probs = append(probs, ps...)
		if err != nil {
			probs = append(probs, nic.Problem{Source: name, Reason: err.Error()})
			continue
		}
		lists = append(lists, ns...)
	}
	line, err := o.FS.ReadFile("proc/cmdline")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, probs, fmt.Errorf("read /proc/cmdline: %w", err)
	}
	cl := cmdline.Parse(string(line))
	probs = append(probs, cl.Problems...)
	merged, conflicts := nic.Merge(lists, cl.DPM, cl.ZNet)
	for i := range conflicts {
		conflicts[i].Warning = true
	}
	return merged, append(probs, conflicts...), nil
}

// Activate brings up every NIC the sources list.
func Activate(ctx context.Context, o Options) (Report, error) {
	o.defaults()
	started := time.Now()
	nics, probs, err := Gather(o)
	if err != nil {
		return Report{Problems: probs}, err
	}
	rep := Report{Problems: probs}
	logProblems(o.Log, probs)
	if len(nics) == 0 {
		if n := rejected(probs); n > 0 {
			o.Log.Error(fmt.Sprintf("no valid NICs (%d tokens rejected)", n))
		} else {
			o.Log.Info("no qeth NICs listed (no DPM tokens or rd.znet on the command line, no NIC list file); nothing to do")
		}
	} else {
		rep.NICs = run(ctx, o, nics)
	}
	return rep, record(o, rep, started, true)
}

// rejected counts the NIC entries a source refused (problems that are not
// warnings).
func rejected(probs []nic.Problem) int {
	n := 0
	for _, p := range probs {
		if !p.Warning {
			n++
		}
	}
	return n
}

// Describe reports, on a platform without qeth NICs (KVM), what the NIC
// sources list and what those devices really are, so that NIC tokens meant
// for another platform are said, not silently ignored. It changes nothing.
func Describe(o Options) ([]string, []nic.Problem, error) {
	o.defaults()
	nics, probs, err := Gather(o)
	if err != nil {
		return nil, probs, err
	}
	var lines []string
	for _, n := range nics {
		dir := qeth.CCWDir(n.Read)
		what := fmt.Sprintf("%s is listed by %s", n.Read, strings.Join(n.Sources, ", "))
		switch drv := sysfs.LinkBase(o.FS, dir+"/driver"); {
		case !sysfs.Exists(o.FS, dir):
			lines = append(lines, what+", but no such CCW device exists; nothing to do")
		case drv == "qeth":
			lines = append(lines, what+" and is a qeth device, which this platform should not have; run with --platform dpm or zvm to bring it up")
		case drv == "":
			lines = append(lines, what+" but no driver is bound to it: not a qeth NIC; nothing to do")
		default:
			lines = append(lines, fmt.Sprintf("%s, but it is a %s device, not a qeth NIC; nothing to do", what, drv))
		}
	}
	return lines, probs, nil
}

// SetMAC brings up the one NIC that target names: a bus id of any of its
// subchannels, or its interface name. A target that no source lists is
// not an error: the udev rule starts this for every qeth interface.
func SetMAC(ctx context.Context, o Options, target string) (Report, error) {
	o.defaults()
	started := time.Now()
	id, err := resolveTarget(o.FS, target)
	if err != nil {
		return Report{}, err
	}
	nics, probs, err := Gather(o)
	if err != nil {
		return Report{Problems: probs}, err
	}
	var found []nic.NIC
	for _, n := range nics {
		for _, sc := range n.Subchannels() {
			if sc == id {
				found = append(found, n)
			}
		}
	}
	if len(found) == 0 {
		msg := fmt.Sprintf("%s (%s) is not listed by any NIC source; nothing to do", target, id)
		o.Log.Info(msg)
		return Report{Skipped: msg}, nil
	}
	rep := Report{NICs: run(ctx, o, found[:1])}
	return rep, record(o, rep, started, false)
}

// resolveTarget turns a bus id or an interface name into a bus id.
func resolveTarget(f sysfs.FS, target string) (ccw.BusID, error) {
	if id, err := ccw.Parse(target); err == nil {
		return id, nil
	}
	if target == "" || strings.ContainsAny(target, "/\x00") || target == "." || target == ".." {
		return ccw.BusID{}, fmt.Errorf("%q is neither a CCW bus id (0.0.f500) nor an interface name", target)
	}
	if dev, err := f.Readlink("sys/class/net/" + target + "/device"); err == nil {
		if id, err := ccw.Parse(path.Base(dev)); err == nil {
			return id, nil
		}
	}
	ents, _ := f.ReadDir("sys/bus/ccwgroup/devices")
	for _, e := range ents {
		if sysfs.Exists(f, "sys/bus/ccwgroup/devices/"+e.Name()+"/net/"+target) {
			if id, err := ccw.Parse(e.Name()); err == nil {
				return id, nil
			}
		}
	}
	return ccw.BusID{}, fmt.Errorf("interface %s does not belong to a ccwgroup (qeth) device", target)
}

func logProblems(log *slog.Logger, probs []nic.Problem) {
	for _, p := range probs {
		if p.Warning {
			log.Warn("NIC source: " + p.String())
		} else {
			log.Error("NIC source: " + p.String())
		}
	}
}

// run plans and applies NICs.
func run(ctx context.Context, o Options, nics []nic.NIC) []NICReport {
	out := make([]NICReport, len(nics))
	plans := make([]*qeth.Plan, len(nics))
	ign, err := qeth.ReadIgnoreList(o.FS)
	if err != nil {
		o.Log.Warn("cannot read cio_ignore; assuming nothing is ignored", "error", err)
	}
	// Observe and plan every NIC; sysfs reads are slow enough (FUSE in
	// tests, many attributes) to do them side by side.
	sem := make(chan struct{}, o.Concurrency)
	var wg sync.WaitGroup
	for i, n := range nics {
		out[i].NIC = n
		out[i].Result = qeth.Result{ID: n.Read, Members: n.Subchannels(), Port: n.WantPort(), Layer2: n.WantLayer2()}
		wg.Add(1)
		go func(i int, n nic.NIC) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			names := make([]string, len(n.Attrs))
			for j, a := range n.Attrs {
				names[j] = a.Name
			}
			obs, err := qeth.Observe(o.FS, ign, n.Subchannels(), names)
			if err == nil {
				var p qeth.Plan
				if p, err = qeth.MakePlan(n, obs); err == nil {
					plans[i] = &p
				}
			}
			if err != nil {
				out[i].Result.Err = err
			}
		}(i, n)
	}
	wg.Wait()
	var free []ccw.BusID
	for _, p := range plans {
		if p != nil {
			free = append(free, p.Free...)
		}
	}
	if len(free) > 0 {
		sort.Slice(free, func(i, j int) bool { return free[i].Less(free[j]) })
		if err := qeth.FreeAndSettle(o.FS, free); err != nil {
			o.Log.Warn("freeing subchannels from cio_ignore reported an error; each NIC is checked", "error", err)
		} else {
			o.Log.Info("freed subchannels from cio_ignore", "subchannels", len(free))
		}
	}
	ap := &qeth.Applier{FS: o.FS, Links: o.Links, Namer: o.Namer, Log: o.Log, DeviceWait: o.DeviceWait}
	if o.Progress != nil {
		o.Progress.Total(len(nics))
		ap.Progress = func(id ccw.BusID, what string) { o.Progress.Waiting(id.String(), what) }
	}
	for i := range nics {
		if plans[i] == nil {
			logNIC(o.Log, out[i])
			continue
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i].Result = ap.Apply(ctx, *plans[i])
			if o.Progress != nil {
				o.Progress.Done(nics[i].Read.String())
			}
			logNIC(o.Log, out[i])
		}(i)
	}
	wg.Wait()
	return out
}

// logNIC writes the one line per NIC operators read.
func logNIC(log *slog.Logger, r NICReport) {
	res := r.Result
	attrs := []any{"busid", res.ID.String(), "ifname", res.IfName, "mac", res.MAC, "port", res.Port, "layer2", res.Layer2}
	if r.NIC.MAC != nil {
		attrs = append(attrs, "want_mac", r.NIC.MAC.String())
	}
	if len(res.Changed) > 0 {
		attrs = append(attrs, "changed", strings.Join(res.Changed, "; "))
	} else if res.OK() {
		attrs = append(attrs, "changed", "nothing (already as wanted)")
	}
	for _, w := range res.Warnings {
		log.Warn("NIC "+res.ID.String()+": "+w, "busid", res.ID.String())
	}
	if res.OK() {
		log.Info("NIC up", attrs...)
		return
	}
	attrs = append(attrs, "error", res.Err.Error())
	log.Error("NIC failed", attrs...)
}

func record(o Options, rep Report, started time.Time, replace bool) error {
	return state.Update(o.Root, func(s *state.State) {
		if replace {
			s.NICs = nil
			s.Problems = nil
			s.Started = started
		}
		for _, p := range rep.Problems {
			if !p.Warning {
				s.Problems = append(s.Problems, p.String())
			}
		}
		for _, n := range rep.NICs {
			s.Upsert(stateNIC(n))
		}
		s.Finished = time.Now()
		s.Runs = append(s.Runs, state.RunEntry{Command: o.Command, Started: started, Duration: time.Since(started).Round(time.Millisecond).String(), OK: rep.OK()})
		if len(s.Runs) > 50 {
			s.Runs = s.Runs[len(s.Runs)-50:]
		}
	})
}

func stateNIC(n NICReport) state.NIC {
	r := n.Result
	sn := state.NIC{BusID: r.ID.String(), IfName: r.IfName, MAC: r.MAC, Port: r.Port, Layer2: r.Layer2,
		Outcome: state.OutcomeUp, Changed: r.Changed, Warnings: r.Warnings, Sources: n.NIC.Sources}
	for _, m := range r.Members {
		sn.Subchannels = append(sn.Subchannels, m.String())
	}
	if n.NIC.MAC != nil {
		sn.WantMAC = n.NIC.MAC.String()
	}
	if r.Err != nil {
		sn.Outcome = state.OutcomeFailed
		sn.Error = r.Err.Error()
	}
	return sn
}
