// Package imagespec reads and validates the YAML spec of `zguest-image
// build`. The format is documented in README.md next to this file; every
// key there is a field here, and a test keeps the two in step.
package imagespec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// ErrInvalid marks a spec that cannot be built; the message names the
// file, the line and the key.
var ErrInvalid = errors.New("invalid image spec")

// Targets a spec can name.
var Targets = []string{"kvm", "zvm", "dpm"}

// Spec is one image to build. Paths are absolute after Load.
type Spec struct {
	Source string `yaml:"source"` // directory, tarball, or raw/qcow2 image
	Target string `yaml:"target"` // kvm, zvm or dpm
	// Size is the disk's virtual size, e.g. "2GiB", "1500MiB".
	Size   string `yaml:"size"`
	Format string `yaml:"format"` // qcow2 or raw; default from the output name
	// Compress deflates qcow2 clusters (as qemu-img convert -c).
	Compress bool `yaml:"compress"`
	// PartitionTable: "msdos" or "none" for kvm and dpm (default msdos);
	// for zvm a DASD layout, "cdl" (default) or "ldl", or "none" (a bare
	// file system with no boot record, the old zvm image).
	PartitionTable string     `yaml:"partition_table"`
	Filesystem     Filesystem `yaml:"filesystem"`
	Kernel         Kernel     `yaml:"kernel"`
	// Bootloader: "zipl" (write the s390x boot record) or "none" (a
	// direct-kernel-boot image; kernel and initrd are written next to it).
	// Default zipl for kvm and dpm, none for zvm.
	Bootloader string `yaml:"bootloader"`
	// Agent is the s390x zguest-agent binary or zguest-agent .deb to
	// install; default s390x/zguest-agent next to zguest-image (make build-s390x).
	Agent     string    `yaml:"agent"`
	Files     []File    `yaml:"files"`
	CloudInit CloudInit `yaml:"cloud_init"`
	Sysprep   Sysprep   `yaml:"sysprep"`
	ZVM       ZVM       `yaml:"zvm"` // zvm target only; see zvm.go
	// DASD describes the z/VM minidisk image (target zvm with a cdl or
	// ldl partition_table).
	DASD DASD `yaml:"dasd"`

	// Filled in by Load.
	Dir       string `yaml:"-"` // the spec file's directory
	SizeBytes int64  `yaml:"-"`
	Raw       []byte `yaml:"-"` // the spec file's bytes (part of the build's identity)
}

// DASD is a 3390 ECKD minidisk image (4 KiB blocks, 15 tracks of 12
// blocks per cylinder).
type DASD struct {
	// Volser is the volume serial written into the VOL1 or LNX1 label;
	// default LNX001.
	Volser string `yaml:"volser"`
	// Vdev is the device number the root minidisk has in the guest (the
	// cloud connector deploys to 0100); the initramfs brings it online.
	Vdev string `yaml:"vdev"`
	// Gzip is the gzip level of format xcat (0: stored uncompressed, as
	// the connector's creatediskimage does for level 0); default 6.
	Gzip *int `yaml:"gzip"`
}

// Filesystem is the root file system.
type Filesystem struct {
	Type  string `yaml:"type"`  // ext4 (the only one so far)
	Label string `yaml:"label"` // default "root"
	// UUID: a fixed UUID, or empty for one derived from the spec and
	// SOURCE_DATE_EPOCH (random without SOURCE_DATE_EPOCH).
	UUID string `yaml:"uuid"`
}

// Kernel says what the boot record loads.
type Kernel struct {
	// Image and Initrd are paths inside the tree; default: /vmlinuz and
	// /initrd.img when they exist (Debian's symlinks), else the newest
	// /boot/vmlinuz-* and its initrd.
	Image  string `yaml:"image"`
	Initrd string `yaml:"initrd"`
	// Cmdline is the kernel command line; root=UUID=… is prepended unless
	// it has a root= of its own.
	Cmdline string `yaml:"cmdline"`
}

// File is an extra file copied into the image.
type File struct {
	Src     string `yaml:"src"`     // on the build host, relative to the spec
	Dst     string `yaml:"dst"`     // absolute path in the image
	Mode    string `yaml:"mode"`    // octal, default 0644 (0755 for directories)
	Content string `yaml:"content"` // instead of src: the file's text
}

// CloudInit is what the build writes to /etc/cloud/cloud.cfg.d.
type CloudInit struct {
	// Disabled: do not write cloud-init settings (the image has none).
	Disabled bool `yaml:"disabled"`
	// Network: "enabled" (cloud-init renders network_data.json, default)
	// or "disabled" (another tool configures the network).
	Network string `yaml:"network"`
	// Datasources is cloud-init's datasource_list, in order: ConfigDrive,
	// OpenStack (nova's metadata service at 169.254.169.254) and None.
	// Default: ConfigDrive, OpenStack, None for dpm (a partition has no
	// reader and no cdrom for a config drive); ConfigDrive, None for zvm
	// and kvm, where the metadata service is an opt-in fallback. README.md
	// says what cloud-init does with each list.
	Datasources []string `yaml:"datasources"`
	// Config is merged into the written file as extra top-level keys.
	Config map[string]any `yaml:"config"`
}

// Datasources zguest-image can configure, and the defaults per target.
var (
	KnownDatasources   = []string{"ConfigDrive", "OpenStack", "None"}
	DefaultDatasources = map[string][]string{
		"dpm": {"ConfigDrive", "OpenStack", "None"},
		"zvm": {"ConfigDrive", "None"},
		"kvm": {"ConfigDrive", "None"},
	}
)

// Sysprep switches clean-up operations on and off by name.
type Sysprep struct {
	Enable  []string `yaml:"enable"`
	Disable []string `yaml:"disable"`
}

// Load reads and validates the spec at path.
func Load(path string) (*Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("image spec: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	return Parse(b, abs)
}

// Parse validates spec text; path names it in errors and anchors relative
// paths.
func Parse(b []byte, path string) (*Spec, error) {
	s := &Spec{Dir: filepath.Dir(path), Raw: b}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(s); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: %s is empty: it needs at least the keys source and target", ErrInvalid, path)
		}
		return nil, fmt.Errorf("%w: %s: %s", ErrInvalid, path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var node yaml.Node
	_ = yaml.Unmarshal(b, &node)
	v := &validator{path: path, node: &node}
	s.validate(v)
	if len(v.errs) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrInvalid, strings.Join(v.errs, "\n  "))
	}
	return s, nil
}

type validator struct {
	path string
	node *yaml.Node
	errs []string
}

// failf records an error at key (a dotted path like "kernel.cmdline").
func (v *validator) failf(key, format string, a ...any) {
	line := v.line(key)
	where := v.path
	if line > 0 {
		where = fmt.Sprintf("%s:%d", v.path, line)
	}
	v.errs = append(v.errs, fmt.Sprintf("%s: %s: %s", where, key, fmt.Sprintf(format, a...)))
}

// line finds key's line in the document, 0 if absent.
func (v *validator) line(key string) int {
	n := v.node
	if n == nil || len(n.Content) == 0 {
		return 0
	}
	n = n.Content[0]
	best := 0
	for _, part := range strings.Split(key, ".") {
		idx := -1
		if i := strings.IndexByte(part, '['); i >= 0 {
			idx, _ = strconv.Atoi(strings.TrimSuffix(part[i+1:], "]"))
			part = part[:i]
		}
		found := false
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == part {
					best = n.Content[i].Line
					n = n.Content[i+1]
					found = true
					break
				}
			}
		}
		if !found {
			return best
		}
		if idx >= 0 && n.Kind == yaml.SequenceNode && idx < len(n.Content) {
			n = n.Content[idx]
			best = n.Line
		}
	}
	return best
}

var (
	uuidRE  = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	labelRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,16}$`)
	sizeRE  = regexp.MustCompile(`^([0-9]+)\s*(B|KiB|MiB|GiB|TiB|K|M|G|T|cyl|CYL)?$`)
	vdevRE  = regexp.MustCompile(`^(0\.[0-3]\.)?[0-9a-fA-F]{1,4}$`)
)

// MinSize and MaxSize bound the disk size.
const (
	MinSize = 64 << 20
	MaxSize = 16 << 40
)

func (s *Spec) validate(v *validator) {
	if s.Source == "" {
		v.failf("source", "missing: name a root file system (directory, .tar[.gz|.zst] or a raw/qcow2 image)")
	} else {
		s.Source = s.abs(s.Source)
		if _, err := os.Stat(s.Source); err != nil {
			v.failf("source", "%v", err)
		}
	}
	switch {
	case s.Target == "":
		v.failf("target", "missing: one of %s", strings.Join(Targets, ", "))
	case !slices.Contains(Targets, s.Target):
		v.failf("target", "%q is not one of %s", s.Target, strings.Join(Targets, ", "))
	}
	s.validateZVM(v)
	if s.Size == "" {
		v.failf("size", `missing: the disk size, e.g. "2GiB"`)
	} else if n, err := s.parseSize(); err != nil {
		v.failf("size", "%v", err)
	} else if n < MinSize || n > MaxSize {
		v.failf("size", "%s is outside %d MiB .. %d TiB", s.Size, MinSize>>20, MaxSize>>40)
	} else {
		s.SizeBytes = n
	}
	switch s.Format {
	case "", "qcow2", "raw":
	case "xcat":
		if s.Target != "zvm" {
			v.failf("format", "xcat (the z/VM cloud connector's CKD image) is for target zvm")
		}
	default:
		v.failf("format", "%q: want qcow2, raw or xcat (zvm)", s.Format)
	}
	if s.Compress && s.Format == "raw" {
		v.failf("compress", "only qcow2 images can be compressed")
	}
	switch s.PartitionTable {
	case "":
		s.PartitionTable = "msdos"
		if s.Target == "zvm" {
			s.PartitionTable = "cdl"
		}
	case "msdos":
		if s.Target == "zvm" {
			v.failf("partition_table", "msdos is not a minidisk layout: want cdl, ldl or none for target zvm")
		}
	case "cdl", "ldl":
		if s.Target != "zvm" {
			v.failf("partition_table", "%s is a DASD layout, for target zvm only", s.PartitionTable)
		}
	case "none":
	default:
		v.failf("partition_table", "%q: want msdos or none (kvm, dpm), cdl, ldl or none (zvm)", s.PartitionTable)
	}
	s.validateDASD(v)
	switch s.Filesystem.Type {
	case "":
		s.Filesystem.Type = "ext4"
	case "ext4":
	default:
		v.failf("filesystem.type", "%q: only ext4 is supported", s.Filesystem.Type)
	}
	if s.Filesystem.Label == "" {
		s.Filesystem.Label = "root"
	} else if !labelRE.MatchString(s.Filesystem.Label) {
		v.failf("filesystem.label", "%q: 1-16 characters of A-Z a-z 0-9 _ . -", s.Filesystem.Label)
	}
	if s.Filesystem.UUID != "" && !uuidRE.MatchString(s.Filesystem.UUID) {
		v.failf("filesystem.uuid", "%q is not a lower-case UUID like 0d9b4e5a-7c1e-4f0e-9a51-3c8d2e6f1a20", s.Filesystem.UUID)
	}
	switch s.Bootloader {
	case "":
		s.Bootloader = "zipl"
		if s.Target == "zvm" && s.PartitionTable == "none" {
			s.Bootloader = "none"
		}
	case "zipl", "none":
	default:
		v.failf("bootloader", "%q: want zipl or none", s.Bootloader)
	}
	if s.Bootloader == "zipl" && s.Target == "zvm" && s.PartitionTable == "none" {
		v.failf("bootloader", "zipl needs a DASD layout on a z/VM minidisk: use partition_table: cdl or ldl, or bootloader: none")
	}
	if s.Bootloader == "zipl" && s.PartitionTable == "none" && s.Target != "zvm" {
		v.failf("bootloader", "the SCSI boot record shares block 0 with the partition table and needs the room before the first partition: use partition_table: msdos")
	}
	for _, p := range []struct{ key, val string }{{"kernel.image", s.Kernel.Image}, {"kernel.initrd", s.Kernel.Initrd}} {
		if p.val != "" && !strings.HasPrefix(p.val, "/") {
			v.failf(p.key, "%q: want an absolute path inside the image, like /boot/vmlinuz-6.1.0-28-s390x", p.val)
		}
	}
	if strings.ContainsAny(s.Kernel.Cmdline, "\n\x00") {
		v.failf("kernel.cmdline", "contains a newline or NUL byte")
	}
	if len(s.Kernel.Cmdline) > 4000 {
		v.failf("kernel.cmdline", "is %d bytes; s390x kernels take at most 4095 (older ones 895)", len(s.Kernel.Cmdline))
	}
	if s.Agent != "" {
		s.Agent = s.abs(s.Agent)
		if st, err := os.Stat(s.Agent); err != nil {
			v.failf("agent", "%v", err)
		} else if !st.Mode().IsRegular() {
			v.failf("agent", "%s is not a regular file", s.Agent)
		}
	}
	for i := range s.Files {
		f := &s.Files[i]
		key := fmt.Sprintf("files[%d]", i)
		if (f.Src == "") == (f.Content == "") {
			v.failf(key, "give exactly one of src: or content:")
		}
		if f.Src != "" {
			f.Src = s.abs(f.Src)
			if st, err := os.Stat(f.Src); err != nil {
				v.failf(key+".src", "%v", err)
			} else if !st.Mode().IsRegular() {
				v.failf(key+".src", "%s is not a regular file", f.Src)
			}
		}
		if !strings.HasPrefix(f.Dst, "/") || filepath.Clean(f.Dst) != f.Dst || f.Dst == "/" {
			v.failf(key+".dst", "%q: want a clean absolute path of a file in the image, like /etc/motd", f.Dst)
		}
		if f.Mode != "" {
			if m, err := strconv.ParseUint(f.Mode, 8, 32); err != nil || m > 0o7777 {
				v.failf(key+".mode", "%q: want an octal mode like \"0644\"", f.Mode)
			}
		}
	}
	switch s.CloudInit.Network {
	case "":
		s.CloudInit.Network = "enabled"
	case "enabled", "disabled":
	default:
		v.failf("cloud_init.network", "%q: want enabled or disabled", s.CloudInit.Network)
	}
	s.CloudInit.validateDatasources(v, s.Target)
	for k := range s.CloudInit.Config {
		if k == "datasource_list" || k == "datasource" {
			v.failf("cloud_init.config", "%s is set by zguest-image from cloud_init.datasources; remove it and list the datasources there", k)
		}
	}
}

// validateDatasources checks cloud_init.datasources and fills in the
// target's default.
func (c *CloudInit) validateDatasources(v *validator, target string) {
	const key = "cloud_init.datasources"
	if c.Datasources == nil {
		c.Datasources = slices.Clone(DefaultDatasources[target])
		return
	}
	if len(c.Datasources) == 0 {
		v.failf(key, "empty: list at least one of %s (or set cloud_init.disabled: true)", strings.Join(KnownDatasources, ", "))
		return
	}
	seen := map[string]bool{}
	for i, ds := range c.Datasources {
		switch {
		case !slices.Contains(KnownDatasources, ds):
			v.failf(fmt.Sprintf("%s[%d]", key, i), "%q is not one of %s (names are case-sensitive, as cloud-init spells them)", ds, strings.Join(KnownDatasources, ", "))
		case seen[ds]:
			v.failf(fmt.Sprintf("%s[%d]", key, i), "%s is listed twice", ds)
		case ds == "None" && i != len(c.Datasources)-1:
			v.failf(fmt.Sprintf("%s[%d]", key, i), "None must come last: cloud-init stops at the first datasource that answers, and None always does")
		}
		seen[ds] = true
	}
	if seen["OpenStack"] && seen["ConfigDrive"] && slices.Index(c.Datasources, "OpenStack") < slices.Index(c.Datasources, "ConfigDrive") {
		v.failf(key, "OpenStack before ConfigDrive: a guest that has a config drive would still wait for DHCP and the metadata service first; put ConfigDrive first")
	}
}

// HasDatasource reports whether cloud-init is told to try ds.
func (c *CloudInit) HasDatasource(ds string) bool { return slices.Contains(c.Datasources, ds) }

// DASDLayout reports whether the image is a DASD (target zvm, cdl or ldl).
func (s *Spec) DASDLayout() bool {
	return s.Target == "zvm" && (s.PartitionTable == "cdl" || s.PartitionTable == "ldl")
}

// parseSize reads the size; a DASD image also takes cylinders ("1113cyl")
// and is rounded up to whole cylinders.
func (s *Spec) parseSize() (int64, error) {
	m := sizeRE.FindStringSubmatch(strings.TrimSpace(s.Size))
	if m != nil && strings.EqualFold(m[2], "cyl") {
		if s.Target != "zvm" {
			return 0, fmt.Errorf("%q: cylinders are a DASD size, for target zvm only", s.Size)
		}
		n, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil || n > MaxSize/CylinderBytes {
			return 0, fmt.Errorf("%q is too large", s.Size)
		}
		return n * CylinderBytes, nil
	}
	n, err := ParseSize(s.Size)
	if err != nil {
		return 0, err
	}
	if s.Target == "zvm" && s.PartitionTable != "none" {
		n = (n + CylinderBytes - 1) / CylinderBytes * CylinderBytes
	}
	return n, nil
}

// CylinderBytes is a 3390 cylinder at 4 KiB blocks (15 tracks of 12).
const CylinderBytes = 15 * 12 * 4096

func (s *Spec) validateDASD(v *validator) {
	d := &s.DASD
	if (d.Volser != "" || d.Vdev != "" || d.Gzip != nil) && !s.DASDLayout() {
		v.failf("dasd", "only for target zvm with partition_table cdl or ldl")
		return
	}
	if d.Volser == "" {
		d.Volser = "LNX001"
	} else if len(d.Volser) > 6 || strings.Trim(strings.ToUpper(d.Volser), "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@#$") != "" {
		v.failf("dasd.volser", "%q: 1-6 characters of A-Z 0-9 @ # $", d.Volser)
	}
	d.Volser = strings.ToUpper(d.Volser)
	if d.Vdev == "" {
		d.Vdev = "0.0.0100"
	} else if !vdevRE.MatchString(d.Vdev) {
		v.failf("dasd.vdev", "%q: want a device number like 0100 or 0.0.0100", d.Vdev)
	} else {
		d.Vdev = strings.ToLower(d.Vdev)
		if !strings.HasPrefix(d.Vdev, "0.") {
			d.Vdev = fmt.Sprintf("0.0.%04s", d.Vdev)
		}
	}
	if d.Gzip == nil {
		six := 6
		d.Gzip = &six
	} else if *d.Gzip < 0 || *d.Gzip > 9 {
		v.failf("dasd.gzip", "%d: want 0 (stored) to 9", *d.Gzip)
	}
}

// ModeOr returns the file's mode, with def when unset.
func (f File) ModeOr(def os.FileMode) os.FileMode {
	if f.Mode == "" {
		return def
	}
	m, _ := strconv.ParseUint(f.Mode, 8, 32)
	return FileMode(m)
}

// FileMode turns Unix permission bits (with setuid, setgid and sticky)
// into an os.FileMode.
func FileMode(m uint64) os.FileMode {
	out := os.FileMode(m).Perm()
	if m&0o4000 != 0 {
		out |= os.ModeSetuid
	}
	if m&0o2000 != 0 {
		out |= os.ModeSetgid
	}
	if m&0o1000 != 0 {
		out |= os.ModeSticky
	}
	return out
}

func (s *Spec) abs(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(s.Dir, p)
}

// ParseSize reads sizes like "2GiB", "512M" or "1073741824".
func ParseSize(v string) (int64, error) {
	m := sizeRE.FindStringSubmatch(strings.TrimSpace(v))
	if m == nil {
		return 0, fmt.Errorf("%q: want a size like 2GiB, 1500MiB or a number of bytes", v)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q: %w", v, err)
	}
	shift := map[string]uint{"": 0, "B": 0, "K": 10, "KiB": 10, "M": 20, "MiB": 20, "G": 30, "GiB": 30, "T": 40, "TiB": 40}[m[2]]
	if n > (1<<62)>>shift {
		return 0, fmt.Errorf("%q is too large", v)
	}
	return n << shift, nil
}
