// Package payload decides what happens to each class X file in the z/VM
// reader, compatible with what z/VM cloud connector hosts send:
//
//   - cfgdrive.iso: the config drive, validated and kept (package
//     cfgdrive presents it to cloud-init);
//   - nics.json (NAME=NICS TYPE=JSON): the zguest NIC list
//     (agent/niclist/README.md), validated and staged to
//     /run/zguest/nics.json, where the activation engine reads it;
//   - *.sh and *.doscript (a tar holding invokeScript.sh): run with bash
//     in the transport directory as zvmguestconfigure did, with the exit
//     status recorded, only in compatibility mode;
//   - anything else, other classes and files from senders that are not
//     authorized: left in the reader untouched.
//
// Every file gets one outcome; one file's failure never stops the others.
// A file that was received but could not be used is kept under
// /var/lib/zguest/rejected for diagnosis.
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
	"github.com/zguest/zguest/agent/zvm/reader"
)

// Paths relative to the root.
const (
	TransportDir = "var/opt/zthin/transport" // where zvmguestconfigure ran scripts
	NICListPath  = "run/zguest/nics.json"
	RejectedDir  = "var/lib/zguest/rejected"
)

// Receiver receives one spool file (reader.Session).
type Receiver interface {
	Receive(ctx context.Context, id int) ([]byte, error)
}

// Options configure the dispatch.
type Options struct {
	Root string
	// Compat runs *.sh and *.doscript files.
	Compat bool
	// Senders are the authorized origin userids; empty or "*" means any.
	Senders []string
	// Bash runs scripts; "" means /bin/bash.
	Bash string
	Log  *slog.Logger
}

// Result is what happened to one file.
type Result = state.ReaderFile

// Summary of a run.
type Summary struct {
	Files       []Result
	NICList     bool            // a NIC list was staged
	Drive       *cfgdrive.Drive // a config drive was kept
	ScriptCodes map[int]int     // spool id -> exit status
	Problems    []error         // listing lines that could not be read
	_           struct{}        // keep literal construction by field name
}

// Failed counts the failed files.
func (s Summary) Failed() int {
	n := 0
	for _, f := range s.Files {
		if f.Outcome == state.ReaderFailed {
			n++
		}
	}
	return n
}

func (o Options) authorized(origin string) bool {
	if len(o.Senders) == 0 || slices.Contains(o.Senders, "*") {
		return true
	}
	return slices.ContainsFunc(o.Senders, func(s string) bool { return strings.EqualFold(s, origin) })
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

// Process handles every file of the listing in reader order.
func Process(ctx context.Context, rcv Receiver, files []reader.Entry, o Options) Summary {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	var sum Summary
	for _, e := range files {
		r := Result{SpoolID: e.ID, Origin: e.Origin, Name: e.FileName(), Class: string(e.Class), At: time.Now()}
		kind := Classify(e)
		switch {
		case e.Class != 'X':
			r.Outcome, r.Reason = state.ReaderLeft, "class "+string(e.Class)+", not X"
		case !o.authorized(e.Origin):
			r.Outcome, r.Reason = state.ReaderLeft, "sender "+e.Origin+" is not authorized"
		case kind == Other:
			r.Outcome, r.Reason = state.ReaderLeft, "not a payload zguest handles"
		case (kind == Script || kind == DoScript) && !o.Compat:
			r.Outcome, r.Reason = state.ReaderLeft, "scripts run only in compatibility mode (--compat or /etc/zguest/zvm-compat)"
		default:
			o.handle(ctx, rcv, e, kind, &r, &sum)
		}
		o.log(r)
		sum.Files = append(sum.Files, r)
	}
	return sum
}

func (o Options) log(r Result) {
	attrs := []any{"spoolid", fmt.Sprintf("%04d", r.SpoolID), "origin", r.Origin, "file", r.Name, "class", r.Class, "outcome", r.Outcome}
	if r.Reason != "" {
		attrs = append(attrs, "reason", r.Reason)
	}
	if r.ExitStatus != nil {
		attrs = append(attrs, "exit_status", *r.ExitStatus)
	}
	if r.Outcome == state.ReaderFailed {
		o.Log.Error("reader file", attrs...)
	} else {
		o.Log.Info("reader file", attrs...)
	}
}

func (o Options) handle(ctx context.Context, rcv Receiver, e reader.Entry, kind Kind, r *Result, sum *Summary) {
	fail := func(err error) {
		r.Outcome, r.Reason = state.ReaderFailed, err.Error()
	}
	data, err := rcv.Receive(ctx, e.ID)
	if err != nil {
		fail(fmt.Errorf("receive: %w (the file stays in the reader)", err))
		return
	}
	r.Outcome = state.ReaderApplied
	switch kind {
	case ConfigDrive:
		d, err := cfgdrive.Keep(o.Root, data)
		if err != nil {
			fail(o.reject(e, data, err))
			return
		}
		sum.Drive = d
		r.Reason = fmt.Sprintf("config drive uuid %s kept in /%s", d.UUID, cfgdrive.ISOPath)
	case NICList:
		data = reader.TrimPadding(data)
		nics, probs, err := niclist.Parse(data, "reader file "+e.FileName())
		if err != nil {
			fail(o.reject(e, data, err))
			return
		}
		if err := writeFile(filepath.Join(o.Root, NICListPath), data); err != nil {
			fail(err)
			return
		}
		sum.NICList = true
		r.Reason = fmt.Sprintf("%d NICs staged to /%s", len(nics), NICListPath)
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

// reject keeps a received file that could not be used.
func (o Options) reject(e reader.Entry, data []byte, cause error) error {
	p := filepath.Join(o.Root, RejectedDir, fmt.Sprintf("%04d-%s", e.ID, e.FileName()))
	if err := writeFile(p, data); err != nil {
		return fmt.Errorf("%w (keeping a copy failed too: %v)", cause, err)
	}
	return fmt.Errorf("%w; a copy is in /%s", cause, filepath.ToSlash(strings.TrimPrefix(p, filepath.Join(o.Root)+"/")))
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
