package sysprep

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
)

// Kind is what an Action does to its path.
type Kind string

const (
	// Remove deletes a file, a symbolic link (the link, never its target) or
	// a directory with everything below it.
	Remove Kind = "remove"
	// Truncate empties a regular file in place.
	Truncate Kind = "truncate"
	// Rewrite replaces a file's contents atomically, keeping its mode,
	// owner and extended attributes.
	Rewrite Kind = "rewrite"
)

// Action is one change a Plan makes.
type Action struct {
	Op   string `json:"op"`
	Kind Kind   `json:"kind"`
	// Path is slash-separated and relative to the root, e.g.
	// "etc/machine-id".
	Path string `json:"path"`
	Dir  bool   `json:"dir,omitempty"` // Remove of a directory
	// Entries is, for Remove, how many files, links and directories go,
	// the directory itself and everything below it included.
	Entries int    `json:"entries,omitempty"`
	Why     string `json:"why"`

	data     []byte      // Rewrite: new contents
	mode     fs.FileMode // Rewrite of a link: mode of the new file
	before   [32]byte    // Rewrite of a regular file: SHA-256 of the contents planned against
	wasRegul bool
}

// Skip is a path an operation left alone on purpose, typically a symbolic
// link where a directory or file was expected.
type Skip struct {
	Op     string `json:"op"`
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// Plan is the list of actions a set of operations takes on one tree,
// computed without changing anything. Apply carries it out.
type Plan struct {
	Root    string
	Ops     []string // names of the planned operations, in order
	Actions []Action
	Skipped []Skip
}

// OpResult is what one operation changed (or, from Plan.Report, would
// change). Paths are slash-separated and relative to the root; removed
// directories end in "/".
type OpResult struct {
	Name      string   `json:"name"`
	Removed   []string `json:"removed,omitempty"`
	Truncated []string `json:"truncated,omitempty"`
	Rewritten []string `json:"rewritten,omitempty"`
	Skipped   []Skip   `json:"skipped,omitempty"`
	// EntriesRemoved counts every file, link and directory removed,
	// including the contents of removed directories.
	EntriesRemoved int `json:"entries_removed"`
}

// Changes is the number of paths the operation removed, truncated or
// rewrote.
func (r OpResult) Changes() int { return len(r.Removed) + len(r.Truncated) + len(r.Rewritten) }

// Report lists, per operation in the order they ran, what changed.
type Report struct {
	Ops []OpResult `json:"ops"`
}

// Changes is the total over all operations.
func (r Report) Changes() int {
	n := 0
	for _, o := range r.Ops {
		n += o.Changes()
	}
	return n
}

// Op returns the result of the named operation, or nil.
func (r Report) Op(name string) *OpResult {
	for i := range r.Ops {
		if r.Ops[i].Name == name {
			return &r.Ops[i]
		}
	}
	return nil
}

func report(ops []string, actions []Action, skipped []Skip) Report {
	r := Report{Ops: make([]OpResult, len(ops))}
	idx := map[string]*OpResult{}
	for i, name := range ops {
		r.Ops[i].Name = name
		idx[name] = &r.Ops[i]
	}
	for _, a := range actions {
		o := idx[a.Op]
		switch a.Kind {
		case Remove:
			p := a.Path
			if a.Dir {
				p += "/"
			}
			o.Removed = append(o.Removed, p)
			o.EntriesRemoved += a.Entries
		case Truncate:
			o.Truncated = append(o.Truncated, a.Path)
		case Rewrite:
			o.Rewritten = append(o.Rewritten, a.Path)
		}
	}
	for _, s := range skipped {
		if o := idx[s.Op]; o != nil {
			o.Skipped = append(o.Skipped, s)
		}
	}
	return r
}

// Report is what Apply will report if every action succeeds: a dry run.
func (p *Plan) Report() Report { return report(p.Ops, p.Actions, p.Skipped) }

// planner computes a Plan. It keeps an overlay of what earlier actions in
// the plan will have done (removed paths, new file contents), so that
// operations which touch the same files (net-hwaddr and net-hostname both
// edit ifcfg files; cloud-init removes logs that logfiles would truncate)
// plan against the state the tree will be in when their turn comes.
type planner struct {
	t       *tree
	log     *slog.Logger
	op      string
	plan    *Plan
	gone    map[string]bool
	content map[string][]byte
}

// NewPlan computes what ops would do to the tree at root. It changes
// nothing.
func NewPlan(root string, ops []Op, log *slog.Logger) (*Plan, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t, err := openTree(root)
	if err != nil {
		return nil, err
	}
	defer t.close()
	p := &planner{t: t, log: log, plan: &Plan{Root: root}, gone: map[string]bool{}, content: map[string][]byte{}}
	for _, op := range ops {
		if op.plan == nil {
			return nil, fmt.Errorf("sysprep: operation %q is not one of Ops()", op.Name)
		}
		p.op = op.Name
		p.plan.Ops = append(p.plan.Ops, op.Name)
		if err := op.plan(p); err != nil {
			return nil, fmt.Errorf("sysprep: plan %s in %s: %w", op.Name, root, err)
		}
	}
	return p.plan, nil
}

// isGone reports whether rel or a directory above it is planned for removal.
func (p *planner) isGone(rel string) bool {
	for {
		if p.gone[rel] {
			return true
		}
		if rel == "." || rel == "/" || rel == "" {
			return false
		}
		rel = path.Dir(rel)
	}
}

// ignore turns the errors that mean "nothing to do here" into nil,
// recording a Skip for deliberate skips.
func (p *planner) ignore(err error) error {
	var se *skipError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se):
		for _, s := range p.plan.Skipped {
			if s.Op == p.op && s.Path == se.path {
				return nil
			}
		}
		p.log.Warn("sysprep: skipped", "op", p.op, "path", se.path, "reason", se.reason)
		p.plan.Skipped = append(p.plan.Skipped, Skip{Op: p.op, Path: se.path, Reason: se.reason})
		return nil
	case errors.Is(err, fs.ErrNotExist):
		return nil
	}
	return err
}

// lstat returns nil, nil when rel is absent, gone or skipped.
func (p *planner) lstat(rel string) (fs.FileInfo, error) {
	if p.isGone(rel) {
		return nil, nil
	}
	fi, err := p.t.lstat(rel)
	if err != nil {
		return nil, p.ignore(err)
	}
	return fi, nil
}

// entries lists the directory dir as it will be when the op runs; nil when
// it is absent, gone or skipped.
func (p *planner) entries(dir string) ([]fs.DirEntry, error) {
	if p.isGone(dir) {
		return nil, nil
	}
	ents, err := p.t.readDir(dir)
	if err != nil {
		return nil, p.ignore(err)
	}
	out := ents[:0]
	for _, e := range ents {
		if !p.gone[path.Join(dir, e.Name())] {
			out = append(out, e)
		}
	}
	return out, nil
}

func (p *planner) add(a Action) {
	a.Op = p.op
	p.log.Debug("sysprep: plan", "op", a.Op, "action", a.Kind, "path", a.Path, "why", a.Why)
	p.plan.Actions = append(p.plan.Actions, a)
}

// remove plans the removal of rel (a file, link or directory: isDir).
func (p *planner) remove(rel string, isDir bool, why string) error {
	if p.isGone(rel) {
		return nil
	}
	n, err := p.t.count(rel, isDir)
	if err != nil {
		return err
	}
	p.gone[rel] = true
	delete(p.content, rel)
	p.add(Action{Kind: Remove, Path: rel, Dir: isDir, Entries: n, Why: why})
	return nil
}

// removePath plans the removal of rel if it exists and is not a directory.
func (p *planner) removePath(rel, why string) error {
	fi, err := p.lstat(rel)
	if fi == nil || err != nil {
		return err
	}
	if fi.IsDir() {
		return p.ignore(&skipError{rel, "a directory, expected a file"})
	}
	return p.remove(rel, false, why)
}

// removeEntries plans the removal of every entry of dir for which match
// returns true (match nil: every entry).
func (p *planner) removeEntries(dir string, match func(e fs.DirEntry) bool, why string) error {
	ents, err := p.entries(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if match != nil && !match(e) {
			continue
		}
		if err := p.remove(path.Join(dir, e.Name()), e.IsDir(), why); err != nil {
			return err
		}
	}
	return nil
}

// current returns the contents rel will have when the op runs, and its
// FileInfo. Symbolic links and other non-regular files are skipped (nil).
func (p *planner) current(rel string) ([]byte, fs.FileInfo, error) {
	if p.isGone(rel) {
		return nil, nil, nil
	}
	b, fi, err := p.t.readFile(rel)
	if err != nil {
		return nil, nil, p.ignore(err)
	}
	if c, ok := p.content[rel]; ok {
		b = c
	}
	return b, fi, nil
}

// truncate plans emptying the regular file rel unless it is empty.
func (p *planner) truncate(rel, why string) error {
	if p.isGone(rel) {
		return nil
	}
	if c, ok := p.content[rel]; ok && len(c) == 0 {
		return nil
	}
	fi, err := p.lstat(rel)
	if fi == nil || err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return p.ignore(p.t.notRegular(rel, fi))
	}
	if _, ok := p.content[rel]; !ok && fi.Size() == 0 {
		return nil
	}
	p.content[rel] = []byte{}
	p.add(Action{Kind: Truncate, Path: rel, Why: why})
	return nil
}

// rewrite plans replacing the regular file rel by edit(contents) when that
// differs.
func (p *planner) rewrite(rel string, edit func([]byte) []byte, why string) error {
	old, fi, err := p.current(rel)
	if fi == nil || err != nil {
		return err
	}
	data := edit(old)
	if bytes.Equal(data, old) {
		return nil
	}
	p.content[rel] = data
	p.add(Action{Kind: Rewrite, Path: rel, Why: why, data: data, before: sha256.Sum256(old), wasRegul: true})
	return nil
}

// Apply carries the plan out, in order, and reports what it changed. It
// stops at the first error and returns the report of what was done until
// then: every operation is idempotent, so running again after fixing the
// cause finishes the job. A file whose contents differ from what the plan
// was computed against is an error, not overwritten.
func (p *Plan) Apply(log *slog.Logger) (Report, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t, err := openTree(p.Root)
	if err != nil {
		return Report{}, err
	}
	defer t.close()
	done := 0
	for _, a := range p.Actions {
		if err := applyAction(t, a); err != nil {
			return report(p.Ops, p.Actions[:done], p.Skipped), fmt.Errorf("sysprep: %s in %s: %w", a.Op, p.Root, err)
		}
		log.Debug("sysprep: done", "op", a.Op, "action", a.Kind, "path", a.Path)
		done++
	}
	r := report(p.Ops, p.Actions, p.Skipped)
	for _, o := range r.Ops {
		level := slog.LevelInfo
		if o.Changes() == 0 && len(o.Skipped) == 0 {
			level = slog.LevelDebug // nothing to say
		}
		log.Log(context.Background(), level, "sysprep: operation", "op", o.Name, "removed", len(o.Removed), "entries_removed", o.EntriesRemoved,
			"truncated", len(o.Truncated), "rewritten", len(o.Rewritten), "skipped", len(o.Skipped))
	}
	return r, nil
}

func applyAction(t *tree, a Action) error {
	switch a.Kind {
	case Remove:
		return t.remove(a.Path, a.Dir)
	case Truncate:
		return t.truncate(a.Path)
	case Rewrite:
		if !a.wasRegul {
			// A symbolic link (or nothing) is replaced by a new file; the
			// link's target is never read or written.
			fi, err := t.lstat(a.Path)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			if fi != nil && fi.Mode()&fs.ModeSymlink == 0 {
				return fmt.Errorf("rewrite %s: it changed type since it was planned (now %v)", a.Path, fi.Mode().Type())
			}
			return t.replace(a.Path, a.data, nil, nil, a.mode)
		}
		f, fi, err := t.open(a.Path, os.O_RDONLY)
		if err != nil {
			return err
		}
		defer f.Close()
		old, err := readAll(f, a.Path)
		if err != nil {
			return err
		}
		if sha256.Sum256(old) != a.before {
			return fmt.Errorf("rewrite %s: its contents changed since the plan was made; plan again", a.Path)
		}
		return t.replace(a.Path, a.data, f, fi, 0)
	}
	return fmt.Errorf("unknown action %q on %s", a.Kind, a.Path)
}

func readAll(f *os.File, rel string) ([]byte, error) {
	var b bytes.Buffer
	if _, err := b.ReadFrom(io.LimitReader(f, maxRead+1)); err != nil {
		return nil, fmt.Errorf("read %s: %w", rel, err)
	}
	if b.Len() > maxRead {
		return nil, fmt.Errorf("read %s: more than %d bytes", rel, maxRead)
	}
	return b.Bytes(), nil
}

// Run plans ops on the tree at root and applies the plan.
func Run(root string, ops []Op, log *slog.Logger) (Report, error) {
	p, err := NewPlan(root, ops, log)
	if err != nil {
		return Report{}, err
	}
	return p.Apply(log)
}
