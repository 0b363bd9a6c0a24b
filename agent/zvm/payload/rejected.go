package payload

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/zguest/zguest/agent/zvm/reader"
)

// Caps of the copies kept in RejectedDir: an attacker who sends bad
// files must not fill the root file system. Oldest copies go first.
const (
	MaxRejectedFiles = 16
	MaxRejectedBytes = 32 << 20
	MaxRejectedCopy  = 8 << 20 // a larger file is not copied
)

// reject keeps a copy of a received file that could not be used, within
// the caps, and returns cause with where the copy is.
func (o Options) reject(e reader.Entry, data []byte, cause error) error {
	if len(data) > MaxRejectedCopy {
		return fmt.Errorf("%w; no copy kept (%d bytes, more than the %d kept)", cause, len(data), MaxRejectedCopy)
	}
	dir := filepath.Join(o.Root, RejectedDir)
	if err := pruneRejected(dir, len(data)); err != nil {
		return fmt.Errorf("%w (keeping a copy failed too: %v)", cause, err)
	}
	p := filepath.Join(dir, fmt.Sprintf("%04d-%s", e.ID, e.FileName()))
	if err := writeFile(p, data); err != nil {
		return fmt.Errorf("%w (keeping a copy failed too: %v)", cause, err)
	}
	return fmt.Errorf("%w; a copy is in /%s", cause, filepath.ToSlash(strings.TrimPrefix(p, filepath.Join(o.Root)+"/")))
}

// pruneRejected removes the oldest copies until one more of size bytes
// fits the caps.
func pruneRejected(dir string, size int) error {
	ents, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	type copyInfo struct {
		name string
		size int64
		mod  int64
	}
	var cs []copyInfo
	var total int64
	for _, de := range ents {
		fi, err := de.Info()
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		cs = append(cs, copyInfo{de.Name(), fi.Size(), fi.ModTime().UnixNano()})
		total += fi.Size()
	}
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].mod != cs[j].mod {
			return cs[i].mod < cs[j].mod
		}
		return cs[i].name < cs[j].name
	})
	for len(cs) > 0 && (len(cs)+1 > MaxRejectedFiles || total+int64(size) > MaxRejectedBytes) {
		if err := os.Remove(filepath.Join(dir, cs[0].name)); err != nil && !os.IsNotExist(err) {
			return err
		}
		total -= cs[0].size
		cs = cs[1:]
	}
	return nil
}
