// Package payload decides what happens to each class X file in the z/VM
// reader, compatible with what z/VM cloud connector hosts send:
//
//   - cfgdrive.iso: the config drive, validated and kept (package
//     cfgdrive presents it to cloud-init); its uuid and its sender are
//     pinned (package trust), and a drive with another uuid is refused;
//   - nics.json (NAME=NICS TYPE=JSON): the zguest NIC list
//     (agent/niclist/README.md), validated and staged to
//     /run/zguest/nics.json, where the activation engine reads it; a list
//     that changes a NIC that is up must come from the pinned sender;
//   - *.sh and *.doscript (a tar holding invokeScript.sh): run with bash
//     in the transport directory as zvmguestconfigure did, with the exit
//     status recorded, only in compatibility mode and only while the
//     senders are restricted;
//   - anything else and other classes: left in the reader untouched.
//
// Files from senders that are not authorized, files over their kind's
// size limit and config drives of another guest are refused: logged at
// WARN once per spool id, counted as failures, and purged from the reader
// so that they cannot fill it. Every file gets one outcome; one file's
// failure never stops the others. A file that was received but could not
// be used is kept under /var/lib/zguest/rejected for diagnosis, within
// the caps of rejected.go. The trust model is in agent/zvm/README.md.
package payload

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/zguest/zguest/agent/cfgdrive"
	"github.com/zguest/zguest/agent/niclist"
	"github.com/zguest/zguest/agent/state"
	"github.com/zguest/zguest/agent/sysfs"
	"github.com/zguest/zguest/agent/zvm/reader"
	"github.com/zguest/zguest/agent/zvm/trust"
)

// Paths relative to the root.
const (
	TransportDir = "var/opt/zthin/transport" // where zvmguestconfigure ran scripts
	NICListPath  = "run/zguest/nics.json"
	RejectedDir  = "var/lib/zguest/rejected"
)

// Receiver receives and purges spool files (reader.Session).
type Receiver interface {
	// ReceiveLimit reads file id, stopping with reader.ErrTooLarge past
	// limit bytes.
	ReceiveLimit(ctx context.Context, id int, limit int) ([]byte, error)
	// Purge removes file id from the reader unread.
	Purge(id int) error
}

// Options configure the dispatch.
type Options struct {
	Root string
	// Compat runs *.sh and *.doscript files (while senders are restricted).
	Compat bool
	// Senders are the userids of /etc/zguest/authorized-senders; nil means
	// there is no such file (then the pinned sender decides), "*" any.
	Senders []string
	// Pin is what the guest pinned earlier (nil: nothing yet).
	Pin *trust.Pin
	// Warned are spool ids already refused at WARN in this boot; they are
	// logged at INFO.
	Warned map[int]bool
	// Limits override DefaultLimits per kind.
	Limits map[Kind]int
	// Bash runs scripts; "" means /bin/bash.
	Bash string
	Log  *slog.Logger
	// Now stamps the pin; nil means time.Now.
	Now func() time.Time
	// FS reads sysfs (the NICs that are up); nil means below Root.
	FS sysfs.FS
}

func (o Options) fs() sysfs.FS {
	if o.FS != nil {
		return o.FS
	}
	return sysfs.Root{Dir: o.Root}
}

// Result is what happened to one file.
type Result = state.ReaderFile

// Summary of a run.
type Summary struct {
	Files       []Result
	NICList     bool            // a NIC list was staged
	Drive       *cfgdrive.Drive // a config drive was kept
	Pin         *trust.Pin      // a new or completed pin to save
	ScriptCodes map[int]int     // spool id -> exit status
	Problems    []error         // listing lines that could not be read
	_           struct{}        // keep literal construction by field name
}

// Failed counts the files that failed or were refused.
func (s Summary) Failed() int { return s.count(state.ReaderFailed) + s.count(state.ReaderRefused) }

// Refused counts the refused files.
func (s Summary) Refused() int { return s.count(state.ReaderRefused) }

func (s Summary) count(outcome string) int {
	n := 0
	for _, f := range s.Files {
		if f.Outcome == outcome {
			n++
		}
	}
	return n
}

// Kind of payload.
type Kind int

// Kinds.
const (
	Other Kind = iota
	ConfigDrive
	NICList
	Script
	DoScript
)

// DefaultLimits are the largest files of each kind the agent reads. The
// listing's record count refuses a larger file unread; the reader stops
// at the limit in any case.
// guess: generous bounds for what nova and the connector send (a config
// drive of a few MiB at most, a NIC list of some KiB, scripts of KiB).
var DefaultLimits = map[Kind]int{
	ConfigDrive: 32 << 20,
	NICList:     1 << 20,
	Script:      1 << 20,
	DoScript:    16 << 20,
}

func (o Options) limit(k Kind) int {
	if n, ok := o.Limits[k]; ok && n > 0 {
		return n
	}
	return DefaultLimits[k]
}

// Classify names the payload kind of a listed file.
func Classify(e reader.Entry) Kind {
	name, typ := strings.ToLower(e.Name), strings.ToLower(e.Type)
	switch {
	case name == "cfgdrive" && typ == "iso":
		return ConfigDrive
	case name == "nics" && typ == "json":
		return NICList
	case typ == "sh":
		return Script
	case typ == "doscript":
		return DoScript
	}
	return Other
}

// pinnedSender is the sender files must come from when there is no
// senders file ("" while none is pinned).
func (o Options) pinnedSender() string {
	if o.Pin == nil {
		return ""
	}
	return o.Pin.Sender
}

// anySender says whether the senders file lists "*".
func (o Options) anySender() bool { return slices.Contains(o.Senders, "*") }

// senderOK says whether origin may send files, and if not why. With no
// senders file and no pinned sender every origin passes: only config
// drives and NIC lists that add NICs are then taken (see Process).
func (o Options) senderOK(origin string) (bool, string) {
	if o.Senders != nil {
		if o.anySender() || slices.ContainsFunc(o.Senders, func(s string) bool { return strings.EqualFold(s, origin) }) {
			return true, ""
		}
		return false, fmt.Sprintf("sender %s is not in /%s", origin, sendersFile)
	}
	if p := o.pinnedSender(); p != "" && !strings.EqualFold(p, origin) {
		return false, fmt.Sprintf("sender %s is not %s, the sender this guest pinned with its config drive (/%s)", origin, p, trust.Path)
	}
	return true, ""
}

// sendersFile is zvm.SendersFile (not imported: zvm imports payload).
const sendersFile = "etc/zguest/authorized-senders"

// scriptsAllowed says whether compatibility scripts may run: only when
// the senders are restricted (a senders file, or a pinned sender), or
// when the senders file says "*" explicitly.
func (o Options) scriptsAllowed() bool { return o.Senders != nil || o.pinnedSender() != "" }

// Process handles every file of the listing: config drives first (they
// pin the guest's identity and sender), then the others in reader order.
func Process(ctx context.Context, rcv Receiver, files []reader.Entry, o Options) Summary {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	var sum Summary
	res := make([]Result, len(files))
	done := make([]bool, len(files))
	var drives []int
	for i, e := range files {
		res[i] = Result{SpoolID: e.ID, Origin: e.Origin, Name: e.FileName(), Class: string(e.Class), At: o.Now()}
		if e.Class == 'X' && Classify(e) == ConfigDrive {
			drives = append(drives, i)
			done[i] = true
		}
	}
	o.configDrives(ctx, rcv, files, drives, res, &sum)
	if sum.Pin != nil {
		o.Pin = sum.Pin
	}
	for i, e := range files {
		if done[i] {
			continue
		}
		r := &res[i]
		kind := Classify(e)
		ok, why := o.senderOK(e.Origin)
		switch {
		case e.Class != 'X':
			r.Outcome, r.Reason = state.ReaderLeft, "class "+string(e.Class)+", not X"
		case !ok:
			r.Outcome, r.Reason = state.ReaderRefused, why
		case kind == Other:
			r.Outcome, r.Reason = state.ReaderLeft, "not a payload zguest handles"
		case (kind == Script || kind == DoScript) && !o.Compat:
			r.Outcome, r.Reason = state.ReaderLeft, "scripts run only in compatibility mode (--compat or /etc/zguest/zvm-compat)"
		case (kind == Script || kind == DoScript) && !o.scriptsAllowed():
			r.Outcome, r.Reason = state.ReaderLeft, fmt.Sprintf("scripts do not run while any sender is accepted: no config drive has pinned a sender and there is no /%s (list the connector's userid there, or \"*\" for the old behaviour)", sendersFile)
		default:
			if data, ok := o.receive(ctx, rcv, e, kind, r); ok {
				o.handle(ctx, e, kind, data, r, &sum)
			}
		}
	}
	for i := range res {
		o.finish(rcv, &res[i])
	}
	sum.Files = res
	return sum
}

// receive checks the listed size, then reads the file with its kind's
// limit. A file over the limit is refused (and purged by finish).
func (o Options) receive(ctx context.Context, rcv Receiver, e reader.Entry, kind Kind, r *Result) ([]byte, bool) {
	limit := o.limit(kind)
	if size := e.Records * cardSize; size > limit {
		r.Outcome = state.ReaderRefused
		r.Reason = fmt.Sprintf("%d records (up to %d bytes), more than the %d bytes a %s may have; not read", e.Records, size, limit, kindName(kind))
		return nil, false
	}
	data, err := rcv.ReceiveLimit(ctx, e.ID, limit)
	switch {
	case errors.Is(err, reader.ErrTooLarge):
		r.Outcome, r.Reason = state.ReaderRefused, err.Error()
		return nil, false
	case err != nil:
		r.Outcome, r.Reason = state.ReaderFailed, fmt.Sprintf("receive: %v (the file stays in the reader)", err)
		return nil, false
	}
	r.Purged = true // receiving purges the file
	return data, true
}

// cardSize is the record length of a punched file: QUERY RDR counts
// 80-byte cards, so records*80 bounds the file's size.
const cardSize = 80

func kindName(k Kind) string {
	switch k {
	case ConfigDrive:
		return "config drive"
	case NICList:
		return "NIC list"
	case Script:
		return "script"
	case DoScript:
		return "doscript"
	}
	return "file"
}

// finish purges a refused file that is still in the reader and logs the
// outcome: refusals at WARN once per spool id, failures at ERROR.
func (o Options) finish(rcv Receiver, r *Result) {
	if r.Outcome == state.ReaderRefused && !r.Purged {
		// The origin is in r (and in the line below) before the file goes.
		if err := rcv.Purge(r.SpoolID); err != nil {
			r.Reason += fmt.Sprintf("; it could not be purged: %v", err)
		} else {
			r.Purged = true
			r.Reason += "; purged from the reader"
		}
	}
	attrs := []any{"spoolid", fmt.Sprintf("%04d", r.SpoolID), "origin", r.Origin, "file", r.Name, "class", r.Class, "outcome", r.Outcome}
	if r.Reason != "" {
		attrs = append(attrs, "reason", r.Reason)
	}
	if r.ExitStatus != nil {
		attrs = append(attrs, "exit_status", *r.ExitStatus)
	}
	switch {
	case r.Outcome == state.ReaderFailed:
		o.Log.Error("reader file", attrs...)
	case r.Outcome == state.ReaderRefused && !o.Warned[r.SpoolID]:
		o.Log.Warn("reader file refused", attrs...)
	default:
		o.Log.Info("reader file", attrs...)
	}
}

// drive is a received, valid config drive.
type drive struct {
	i    int
	d    *cfgdrive.Drive
	data []byte
}

// configDrives receives the config drives of the listing and accepts
// them only if they agree with the pin, or with each other when nothing
// is pinned yet; the last accepted one is kept and pinned.
func (o Options) configDrives(ctx context.Context, rcv Receiver, files []reader.Entry, idx []int, res []Result, sum *Summary) {
	var good []drive
	for _, i := range idx {
		e, r := files[i], &res[i]
		if ok, why := o.senderOK(e.Origin); !ok {
			r.Outcome, r.Reason = state.ReaderRefused, why
			continue
		}
		data, ok := o.receive(ctx, rcv, e, ConfigDrive, r)
		if !ok {
			continue
		}
		d, err := cfgdrive.Parse(data)
		if err != nil {
			r.Outcome, r.Reason = state.ReaderFailed, o.reject(e, data, err).Error()
			continue
		}
		good = append(good, drive{i: i, d: d, data: data})
	}
	if len(good) == 0 {
		return
	}
	if o.Pin != nil {
		kept := good[:0]
		for _, g := range good {
			if g.d.UUID != o.Pin.UUID {
				res[g.i].Outcome = state.ReaderRefused
				res[g.i].Reason = fmt.Sprintf("config drive uuid %s is not this guest's uuid %s (pinned in /%s): a guest is provisioned once; an operator re-provisions it with `zguest-agent reprovision`", g.d.UUID, o.Pin.UUID, trust.Path)
				continue
			}
			kept = append(kept, g)
		}
		good = kept
	} else if len(good) > 1 {
		var seen []string
		agree := true
		for _, g := range good {
			seen = append(seen, fmt.Sprintf("%04d uuid %s from %s", files[g.i].ID, g.d.UUID, files[g.i].Origin))
			agree = agree && g.d.UUID == good[0].d.UUID && strings.EqualFold(files[g.i].Origin, files[good[0].i].Origin)
		}
		if !agree {
			for _, g := range good {
				res[g.i].Outcome = state.ReaderRefused
				res[g.i].Reason = fmt.Sprintf("the reader held %d config drives that disagree (%s): none is accepted; have the host send the right one again", len(good), strings.Join(seen, "; "))
			}
			return
		}
	}
	for n, g := range good {
		r := &res[g.i]
		if n < len(good)-1 {
			r.Outcome, r.Reason = state.ReaderApplied, fmt.Sprintf("config drive uuid %s, same as a later one in the reader", g.d.UUID)
			continue
		}
		d, err := cfgdrive.Keep(o.Root, g.data)
		if err != nil {
			r.Outcome, r.Reason = state.ReaderFailed, err.Error()
			return
		}
		sum.Drive = d
		r.Outcome = state.ReaderApplied
		r.Reason = fmt.Sprintf("config drive uuid %s kept in /%s", d.UUID, cfgdrive.ISOPath)
		if o.Pin == nil || o.Pin.Sender == "" {
			p := trust.Pin{UUID: d.UUID, Sender: strings.ToUpper(files[g.i].Origin), At: o.Now().UTC()}
			sum.Pin = &p
			r.Reason += fmt.Sprintf("; uuid and sender %s pinned in /%s", p.Sender, trust.Path)
		}
	}
}

// handle uses a received file of kind NICList, Script or DoScript.
func (o Options) handle(ctx context.Context, e reader.Entry, kind Kind, data []byte, r *Result, sum *Summary) {
	fail := func(err error) {
		r.Outcome, r.Reason = state.ReaderFailed, err.Error()
	}
	r.Outcome = state.ReaderApplied
	switch kind {
	case NICList:
		data = reader.TrimPadding(data)
		nics, probs, err := niclist.Parse(data, "reader file "+e.FileName())
		if err != nil {
			fail(o.reject(e, data, err))
			return
		}
		changes := ChangesToUpNICs(o.fs(), nics)
		if len(changes) > 0 {
			p := o.pinnedSender()
			if p == "" || !strings.EqualFold(p, e.Origin) {
				who := "no sender is pinned"
				if p != "" {
					who = "the pinned sender is " + p
				}
				r.Outcome = state.ReaderRefused
				r.Reason = fmt.Sprintf("it changes NICs that are up (%s) and comes from %s, but %s; a NIC list from another sender may only add NICs", strings.Join(changes, "; "), e.Origin, who)
				return
			}
			for _, c := range changes {
				o.Log.Warn("NIC list changes a NIC that is up", "spoolid", fmt.Sprintf("%04d", e.ID), "origin", e.Origin, "change", c)
			}
		}
		if err := writeFile(filepath.Join(o.Root, NICListPath), data); err != nil {
			fail(err)
			return
		}
		sum.NICList = true
		r.Reason = fmt.Sprintf("%d NICs staged to /%s", len(nics), NICListPath)
		if len(changes) > 0 {
			r.Reason += fmt.Sprintf(" (changing %d NICs that are up: %s)", len(changes), strings.Join(changes, "; "))
		}
		if len(probs) > 0 {
			r.Reason += fmt.Sprintf(" (%d entries with problems, see the NIC run)", len(probs))
		}
	case Script, DoScript:
		if kind == Script {
			data = reader.TrimPadding(data) // a tar keeps its zero blocks
		}
		code, err := o.runScript(ctx, e, kind, data)
		if code >= 0 {
			r.ExitStatus = &code
		}
		if err != nil {
			fail(err)
		}
	}
}

// runScript runs a script as zvmguestconfigure did: *.sh with bash,
// *.doscript unpacked and its invokeScript.sh run, both with the
// transport directory as working directory. It returns the exit status
// (-1 if the script did not run).
func (o Options) runScript(ctx context.Context, e reader.Entry, kind Kind, data []byte) (int, error) {
	dir := filepath.Join(o.Root, TransportDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return -1, fmt.Errorf("create the transport directory: %w", err)
	}
	script := e.FileName()
	if strings.ContainsAny(script, "/\x00") || script == "." || script == ".." {
		return -1, fmt.Errorf("unsafe file name %q", script)
	}
	if kind == DoScript {
		if err := Untar(data, dir); err != nil {
			return -1, fmt.Errorf("doscript %s refused: %w; nothing was run", script, err)
		}
		script = "invokeScript.sh"
		if fi, err := os.Lstat(filepath.Join(dir, script)); err != nil || !fi.Mode().IsRegular() {
			return -1, fmt.Errorf("doscript %s holds no regular file invokeScript.sh", e.FileName())
		}
	} else {
		if err := os.WriteFile(filepath.Join(dir, script), data, 0o700); err != nil {
			return -1, fmt.Errorf("write %s to the transport directory: %w", script, err)
		}
		defer os.Remove(filepath.Join(dir, script))
	}
	bash := o.Bash
	if bash == "" {
		bash = "/bin/bash"
	}
	cmd := exec.CommandContext(ctx, bash, script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "ZGUEST_SPOOLID="+strconv.Itoa(e.ID), "ZGUEST_ROOT="+o.Root)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	tail := lastLines(out.String(), 5)
	if tail != "" {
		o.Log.Info("script output", "spoolid", fmt.Sprintf("%04d", e.ID), "file", e.FileName(), "output", tail)
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &ee):
		return ee.ExitCode(), fmt.Errorf("%s exited with status %d", script, ee.ExitCode())
	}
	return -1, fmt.Errorf("run %s: %w", script, err)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

func writeFile(name string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := os.Rename(tmp, name); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}
