// Package trust keeps what a z/VM guest has pinned about who provisions
// it, /var/lib/zguest/pin.json on the root file system: the uuid of the
// config drive it accepted (its identity) and the userid that sent that
// drive (its sender). Both survive reboots; only an operator removes them
// (`zguest-agent reprovision`), see agent/zvm/README.md.
package trust

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Path is the pin file, relative to the root.
const Path = "var/lib/zguest/pin.json"

// Pin is what the guest has pinned.
type Pin struct {
	// UUID is the meta_data.json uuid of the kept config drive.
	UUID string `json:"uuid"`
	// Sender is the spool ORIGINID of the accepted config drive; "" when
	// the pin was taken from a drive kept by an older agent, which did
	// not record it (the next drive with the same uuid pins it).
	Sender string    `json:"sender,omitempty"`
	At     time.Time `json:"pinned_at"`
}

// Load reads the pin under root; no file gives nil.
func Load(root string) (*Pin, error) {
	name := filepath.Join(root, Path)
	b, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the pin %s: %w", name, err)
	}
	var p Pin
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("pin %s: %w; it is not valid JSON: fix or remove it (zguest-agent reprovision)", name, err)
	}
	p.Sender = strings.ToUpper(strings.TrimSpace(p.Sender))
	if strings.TrimSpace(p.UUID) == "" {
		return nil, fmt.Errorf("pin %s has no uuid: fix or remove it (zguest-agent reprovision)", name)
	}
	return &p, nil
}

// Save writes the pin under root atomically.
func Save(root string, p Pin) error {
	name := filepath.Join(root, Path)
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write the pin %s: %w", name, err)
	}
	if err := os.Rename(tmp, name); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write the pin %s: %w", name, err)
	}
	return nil
}

// Remove deletes the pin; it reports whether there was one.
func Remove(root string) (bool, error) {
	err := os.Remove(filepath.Join(root, Path))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}
