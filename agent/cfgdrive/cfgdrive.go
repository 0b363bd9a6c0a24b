// Package cfgdrive keeps the config drive a z/VM host sends in the
// reader (cfgdrive.iso) and presents it to cloud-init on every boot.
//
// Staging decision: the agent unpacks the drive into cloud-init's
// ConfigDrive seed directory, /var/lib/cloud/seed/config_drive, instead
// of attaching the ISO to a loop device as zvmguestconfigure did.
//   - It survives reboots by itself: the seed is on the root file system,
//     so a reboot is never mistaken for a first boot, even when the agent
//     does not run or runs late (the original's loop device vanished at
//     every reboot; FL PR #490 had to re-attach it).
//   - cloud-init looks at the seed directory first (before /config-drive
//     and block devices, DataSourceConfigDrive), and ds-identify finds it
//     by openstack/<version>/meta_data.json without blkid, so there is no
//     race with udev creating /dev/disk/by-label/config-2.
//   - It needs no loop driver, no device node, no ioctls and no cleanup,
//     and it is testable below a root directory.
//
// The ISO itself is kept at /var/lib/zguest/cfgdrive.iso, the source of
// truth: the seed is re-created from it whenever it is missing or
// differs. If a block device labelled config-2 (or CONFIG-2) exists, the
// host already presents a drive, so the agent presents none and removes
// a seed it made earlier: cloud-init never sees two drives.
//
// A drive is validated before it is kept: an ISO 9660 image labelled
// config-2 whose openstack/<version>/meta_data.json (the version
// cloud-init would pick) is a JSON object with a non-empty "uuid".
package cfgdrive

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/zguest/zguest/agent/iso9660"
)

// Paths relative to the root.
const (
	ISOPath    = "var/lib/zguest/cfgdrive.iso"
	MarkerPath = "var/lib/zguest/cfgdrive.seed" // sha256 of the ISO the seed was made from
	SeedDir    = "var/lib/cloud/seed/config_drive"
)

// Labels cloud-init accepts (LABEL_TYPES).
var Labels = []string{"config-2", "CONFIG-2"}

// knownVersions are the dated OpenStack metadata versions cloud-init
// knows, oldest first (cloudinit/sources/helpers/openstack.py).
// guess: the list as of cloud-init 22.x-24.x; newer dates fall back to
// "latest" as cloud-init does.
var knownVersions = []string{"2012-08-10", "2013-04-04", "2013-10-17", "2015-10-15", "2016-06-30", "2016-10-06", "2017-02-22", "2018-08-27"}

// ErrInvalid is wrapped by every validation error.
var ErrInvalid = errors.New("invalid config drive")

// Drive is a validated config drive.
type Drive struct {
	Image    *iso9660.Image
	Version  string // the openstack/<version> cloud-init will read
	UUID     string
	Hostname string
}

// Parse reads and validates an ISO image. Trailing NUL padding from the
// reader is harmless: it lies past the last sector the image uses.
func Parse(iso []byte) (*Drive, error) {
	im, err := iso9660.Read(iso)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	okLabel := false
	for _, l := range Labels {
		okLabel = okLabel || im.Label == l
	}
	if !okLabel {
		return nil, fmt.Errorf("%w: volume label %q, cloud-init looks for config-2", ErrInvalid, im.Label)
	}
	v := pickVersion(im)
	if v == "" {
		return nil, fmt.Errorf("%w: no openstack/<version>/meta_data.json", ErrInvalid)
	}
	f := im.File("openstack/" + v + "/meta_data.json")
	var md map[string]any
	if err := json.Unmarshal(f.Data, &md); err != nil {
		return nil, fmt.Errorf("%w: openstack/%s/meta_data.json: %v", ErrInvalid, v, err)
	}
	uuid, _ := md["uuid"].(string)
	if strings.TrimSpace(uuid) == "" {
		return nil, fmt.Errorf("%w: openstack/%s/meta_data.json has no \"uuid\" (cloud-init refuses it)", ErrInvalid, v)
	}
	host, _ := md["hostname"].(string)
	return &Drive{Image: im, Version: v, UUID: uuid, Hostname: host}, nil
}

// pickVersion is cloud-init's choice: the newest known dated version
// present, else "latest".
func pickVersion(im *iso9660.Image) string {
	has := func(v string) bool { return im.File("openstack/"+v+"/meta_data.json") != nil }
	for i := len(knownVersions) - 1; i >= 0; i-- {
		if has(knownVersions[i]) {
			return knownVersions[i]
		}
	}
	if has("latest") {
		return "latest"
	}
	return ""
}

// Keep validates iso and stores it as the persistent drive (atomically).
func Keep(root string, iso []byte) (*Drive, error) {
	d, err := Parse(iso)
	if err != nil {
		return nil, err
	}
	if err := writeAtomic(filepath.Join(root, ISOPath), iso, 0o600); err != nil {
		return nil, fmt.Errorf("keep the config drive: %w", err)
	}
	return d, nil
}

// Outcome of Present.
type Outcome string

// Outcomes.
const (
	NoDrive      Outcome = "no config drive kept"
	Presented    Outcome = "presented in the seed directory"
	AlreadyThere Outcome = "already presented"
	DeviceExists Outcome = "a config-2 device exists; not presented"
)

// DeviceLabelled reports the /dev/disk/by-label entry of a config-2
// device below root, or "".
func DeviceLabelled(root string) string {
	for _, l := range Labels {
		p := filepath.Join(root, "dev/disk/by-label", l)
		if _, err := os.Lstat(p); err == nil {
			return "/dev/disk/by-label/" + l
		}
	}
	return ""
}

// Present makes the kept drive visible to cloud-init (see the package
// doc). It is idempotent.
func Present(root string) (Outcome, *Drive, error) {
	seed := filepath.Join(root, SeedDir)
	marker := filepath.Join(root, MarkerPath)
	if dev := DeviceLabelled(root); dev != "" {
		if _, err := os.Stat(marker); err == nil {
			if err := os.RemoveAll(seed); err != nil {
				return "", nil, fmt.Errorf("%s exists: remove the seed zguest made earlier, %s: %w", dev, seed, err)
			}
			os.Remove(marker)
		}
		return DeviceExists, nil, nil
	}
	iso, err := os.ReadFile(filepath.Join(root, ISOPath))
	if errors.Is(err, fs.ErrNotExist) {
		return NoDrive, nil, nil
	}
	if err != nil {
		return "", nil, fmt.Errorf("read the kept config drive: %w", err)
	}
	d, err := Parse(iso)
	if err != nil {
		return "", nil, fmt.Errorf("kept config drive /%s: %w; the host must send a new cfgdrive.iso", ISOPath, err)
	}
	sum := sha256.Sum256(iso)
	want := hex.EncodeToString(sum[:])
	old, merr := os.ReadFile(marker)
	_, serr := os.Stat(seed)
	switch {
	case merr == nil && serr == nil && strings.TrimSpace(string(old)) == want && seedComplete(seed, d):
		return AlreadyThere, d, nil
	case merr != nil && serr == nil:
		return "", d, fmt.Errorf("%s exists but was not made by zguest; remove it to let zguest present the drive from the host", seed)
	}
	if err := unpack(seed, d.Image); err != nil {
		return "", d, err
	}
	if err := writeAtomic(marker, []byte(want+"\n"), 0o644); err != nil {
		return "", d, err
	}
	return Presented, d, nil
}

// seedComplete checks that every file of the drive is in the seed.
func seedComplete(seed string, d *Drive) bool {
	for _, f := range d.Image.Files {
		fi, err := os.Stat(filepath.Join(seed, filepath.FromSlash(f.Path)))
		if err != nil || fi.Size() != int64(len(f.Data)) {
			return false
		}
	}
	return true
}

// unpack writes the image into a new directory beside seed and swaps it
// in, so cloud-init sees the old seed or the new one, never a mix.
func unpack(seed string, im *iso9660.Image) error {
	parent := filepath.Dir(seed)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", parent, err)
	}
	tmp, err := os.MkdirTemp(parent, ".config_drive-")
	if err != nil {
		return fmt.Errorf("unpack the config drive: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o700); err != nil {
		return err
	}
	dirs := append([]string(nil), im.Dirs...)
	sort.Strings(dirs)
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(tmp, filepath.FromSlash(d)), 0o700); err != nil {
			return fmt.Errorf("unpack the config drive: %w", err)
		}
	}
	for _, f := range im.Files {
		p := filepath.Join(tmp, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return fmt.Errorf("unpack the config drive: %w", err)
		}
		if err := os.WriteFile(p, f.Data, 0o600); err != nil {
			return fmt.Errorf("unpack the config drive: %w", err)
		}
	}
	old := seed + ".old"
	os.RemoveAll(old)
	if err := os.Rename(seed, old); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("replace %s: %w", seed, err)
	}
	if err := os.Rename(tmp, seed); err != nil {
		return fmt.Errorf("install %s: %w", seed, err)
	}
	os.RemoveAll(old)
	return nil
}

func writeAtomic(name string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+"-*")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(data)
	serr := tmp.Sync()
	cerr := tmp.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := os.Chmod(tmp.Name(), mode); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}
