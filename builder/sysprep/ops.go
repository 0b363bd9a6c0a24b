package sysprep

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"
)

// Op is one sysprep operation. Name is user-facing: it is what an image
// spec's `sysprep: {enable: [...], disable: [...]}` lists.
type Op struct {
	Name        string
	Description string
	Default     bool // run unless disabled
	plan        func(*planner) error
}

// Ops returns every operation in the order they run. The order is stable:
// cloud-init comes before logfiles (it removes the cloud-init logs that
// logfiles would otherwise only truncate), net-hwaddr before net-hostname
// (both edit the same ifcfg files, each on top of the other's result).
func Ops() []Op {
	return []Op{
		{"machine-id", "write \"uninitialized\" to /etc/machine-id (systemd first boot); remove a /var/lib/dbus/machine-id copy", true, planMachineID},
		{"ssh-hostkeys", "remove /etc/ssh/*_host_* (host keys and certificates)", true, planSSHHostKeys},
		{"udev-persistent-net", "remove /etc/udev/rules.d/70-persistent-net.rules", true, planUdevPersistentNet},
		{"net-hwaddr", "drop HWADDR= and MACADDR= from /etc/sysconfig/network-scripts/ifcfg-*, LLADDR= from /etc/sysconfig/network/ifcfg-*", true, planNetHWAddr},
		{"net-hostname", "empty /etc/hostname; drop HOSTNAME= and DHCP_HOSTNAME= from /etc/sysconfig/network-scripts/ifcfg-*", true, planNetHostname},
		{"dhcp-client-state", "remove DHCP client leases (dhclient, NetworkManager, wicked, dhcpcd)", true, planDHCPClientState},
		{"cloud-init", "remove /var/lib/cloud/* except seed/, and /var/log/cloud-init*.log*", true, planCloudInit},
		{"cloud-init-seed", "remove /var/lib/cloud/seed (off by default: a seed baked into the image is configuration, not state)", false, planCloudInitSeed},
		{"random-seed", "remove saved random seeds (/var/lib/systemd/random-seed and others)", true, planRandomSeed},
		{"credential-secret", "remove /var/lib/systemd/credential.secret (systemd-creds host key)", true, planCredentialSecret},
		{"logfiles", "truncate files under /var/log, remove rotated logs and the journal's files", true, planLogfiles},
		{"package-manager-cache", "remove apt, dnf, yum, zypper and apk caches and apt's package lists", true, planPackageManagerCache},
		{"tmp-files", "remove the contents of /tmp and /var/tmp", true, planTmpFiles},
		{"shell-history", "remove shell and REPL histories of root and /home/*", true, planShellHistory},
	}
}

// Names returns the names of all operations, in order.
func Names() []string {
	var n []string
	for _, o := range Ops() {
		n = append(n, o.Name)
	}
	return n
}

// Select returns the default operations plus those named in enable, minus
// those named in disable, in Ops() order. An unknown name, or a name in
// both lists, is an error that lists the valid names.
func Select(enable, disable []string) ([]Op, error) {
	all := Ops()
	known := map[string]bool{}
	for _, o := range all {
		known[o.Name] = true
	}
	on := map[string]bool{}
	for _, n := range enable {
		if !known[n] {
			return nil, fmt.Errorf("sysprep: unknown operation %q to enable; valid: %s", n, strings.Join(Names(), ", "))
		}
		on[n] = true
	}
	off := map[string]bool{}
	for _, n := range disable {
		if !known[n] {
			return nil, fmt.Errorf("sysprep: unknown operation %q to disable; valid: %s", n, strings.Join(Names(), ", "))
		}
		if on[n] {
			return nil, fmt.Errorf("sysprep: operation %q is both enabled and disabled", n)
		}
		off[n] = true
	}
	var out []Op
	for _, o := range all {
		if (o.Default || on[o.Name]) && !off[o.Name] {
			out = append(out, o)
		}
	}
	return out, nil
}

const uninitialized = "uninitialized"

func planMachineID(p *planner) error {
	const mid = "etc/machine-id"
	fi, err := p.lstat(mid)
	if err != nil {
		return err
	}
	switch {
	case fi == nil:
		// Absent: systemd already treats that as a first boot; we do not
		// invent files the image does not have.
	case fi.Mode()&fs.ModeSymlink != 0:
		p.add(Action{Kind: Rewrite, Path: mid, Why: "symbolic link replaced by a file saying uninitialized",
			data: []byte(uninitialized + "\n"), mode: 0o444})
		p.content[mid] = []byte(uninitialized + "\n")
	case fi.Mode().IsRegular():
		if err := p.rewrite(mid, func(old []byte) []byte {
			if string(bytes.TrimSpace(old)) == uninitialized {
				return old
			}
			return []byte(uninitialized + "\n")
		}, "systemd first boot generates a new machine ID"); err != nil {
			return err
		}
	default:
		return p.ignore(p.t.notRegular(mid, fi))
	}

	// libdbus reads /var/lib/dbus/machine-id before /etc/machine-id: a
	// copy would keep the old ID. A link to /etc/machine-id is what
	// current distributions ship and stays.
	const dbus = "var/lib/dbus/machine-id"
	fi, err = p.lstat(dbus)
	if fi == nil || err != nil {
		return err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		target, err := p.t.root.Readlink(dbus)
		if err != nil {
			return fmt.Errorf("readlink %s: %w", dbus, err)
		}
		if linksTo(dbus, target, mid) {
			return nil
		}
		return p.remove(dbus, false, "symbolic link to "+target+", not to /etc/machine-id")
	}
	if fi.IsDir() {
		return p.ignore(&skipError{dbus, "a directory, expected a file"})
	}
	return p.remove(dbus, false, "copy of the machine ID")
}

// linksTo reports whether a link at rel with the given target names want,
// resolved lexically inside the root as the guest would (absolute targets
// are relative to the root).
func linksTo(rel, target, want string) bool {
	var p string
	if path.IsAbs(target) {
		p = path.Clean(target)
	} else {
		p = path.Join("/", path.Dir(rel), target)
	}
	return strings.TrimPrefix(p, "/") == want
}

func planSSHHostKeys(p *planner) error {
	return p.removeEntries("etc/ssh", func(e fs.DirEntry) bool {
		return !e.IsDir() && strings.Contains(e.Name(), "_host_")
	}, "ssh host key")
}

func planUdevPersistentNet(p *planner) error {
	return p.removePath("etc/udev/rules.d/70-persistent-net.rules", "NIC names bound to the build machine's MACs")
}

// dropKeys returns an edit that removes shell-variable assignments of the
// given keys (KEY=..., with optional leading blanks and "export").
func dropKeys(keys ...string) func([]byte) []byte {
	re := regexp.MustCompile(`^[ \t]*(?:export[ \t]+)?(?:` + strings.Join(keys, "|") + `)[ \t]*=`)
	return func(b []byte) []byte {
		var out []byte
		for _, line := range bytes.SplitAfter(b, []byte("\n")) {
			if re.Match(line) {
				continue
			}
			out = append(out, line...)
		}
		if out == nil {
			out = []byte{}
		}
		return out
	}
}

func rewriteIfcfg(p *planner, dir string, edit func([]byte) []byte, why string) error {
	ents, err := p.entries(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "ifcfg-") || e.IsDir() {
			continue
		}
		if err := p.rewrite(path.Join(dir, e.Name()), edit, why); err != nil {
			return err
		}
	}
	return nil
}

func planNetHWAddr(p *planner) error {
	if err := rewriteIfcfg(p, "etc/sysconfig/network-scripts", dropKeys("HWADDR", "MACADDR"), "MAC address of the build machine's NIC"); err != nil {
		return err
	}
	return rewriteIfcfg(p, "etc/sysconfig/network", dropKeys("LLADDR"), "MAC address of the build machine's NIC")
}

func planNetHostname(p *planner) error {
	if err := p.truncate("etc/hostname", "empty: systemd falls back to the transient hostname, cloud-init sets the instance's"); err != nil {
		return err
	}
	return rewriteIfcfg(p, "etc/sysconfig/network-scripts", dropKeys("HOSTNAME", "DHCP_HOSTNAME"), "hostname of the build machine")
}

func suffixes(name string, s ...string) bool {
	for _, x := range s {
		if strings.HasSuffix(name, x) {
			return true
		}
	}
	return false
}

func files(match func(name string) bool) func(fs.DirEntry) bool {
	return func(e fs.DirEntry) bool { return !e.IsDir() && match(e.Name()) }
}

func planDHCPClientState(p *planner) error {
	const why = "DHCP lease of the build machine"
	for _, d := range []struct {
		dir   string
		match func(string) bool
	}{
		// Only the client's: a dhcpd.leases that exists must stay, the
		// ISC server refuses to start without it.
		{"var/lib/dhcp", func(n string) bool {
			return strings.HasPrefix(n, "dhclient") && suffixes(n, ".leases", ".lease")
		}},
		{"var/lib/dhclient", func(string) bool { return true }},
		{"var/lib/NetworkManager", func(n string) bool { return suffixes(n, ".lease", ".leases") }},
		{"var/lib/wicked", func(n string) bool { return strings.HasPrefix(n, "lease-") }},
		{"var/lib/dhcpcd", func(n string) bool { return n == "duid" || suffixes(n, ".lease", ".lease6") }},
	} {
		if err := p.removeEntries(d.dir, files(d.match), why); err != nil {
			return err
		}
	}
	return nil
}

func planCloudInit(p *planner) error {
	if err := p.removeEntries("var/lib/cloud", func(e fs.DirEntry) bool { return e.Name() != "seed" },
		"cloud-init instance state: semaphores would stop per-instance modules (host keys, users, network)"); err != nil {
		return err
	}
	return p.removeEntries("var/log", files(func(n string) bool {
		return strings.HasPrefix(n, "cloud-init") && strings.Contains(n, ".log")
	}), "cloud-init log of the build machine")
}

func planCloudInitSeed(p *planner) error {
	fi, err := p.lstat("var/lib/cloud/seed")
	if fi == nil || err != nil {
		return err
	}
	return p.remove("var/lib/cloud/seed", fi.IsDir(), "cloud-init seed baked into the image")
}

func planRandomSeed(p *planner) error {
	for _, f := range []string{
		"var/lib/systemd/random-seed",
		"var/lib/urandom/random-seed", // Debian without systemd
		"var/lib/random-seed",         // older RHEL and SUSE
		"boot/loader/random-seed",     // systemd-boot, ESP on /boot
		"boot/efi/loader/random-seed",
		"efi/loader/random-seed",
	} {
		if err := p.removePath(f, "instances must not start from the same entropy"); err != nil {
			return err
		}
	}
	return nil
}

func planCredentialSecret(p *planner) error {
	return p.removePath("var/lib/systemd/credential.secret", "host key of systemd-creds: shared, one instance decrypts another's credentials")
}

var compressed = []string{".gz", ".xz", ".bz2", ".zst", ".lz4", ".lzma", ".Z"}

// rotated reports whether a name under /var/log is a rotated or compressed
// old log: NAME.N, NAME.old, NAME-YYYYMMDD[HH] (logrotate dateext), or any
// compressed file.
func rotated(name string) bool {
	if suffixes(name, compressed...) || strings.HasSuffix(name, ".old") {
		return true
	}
	digits := func(s string) bool {
		return s != "" && strings.Trim(s, "0123456789") == ""
	}
	if i := strings.LastIndexByte(name, '.'); i > 0 && digits(name[i+1:]) {
		return true
	}
	if i := strings.LastIndexByte(name, '-'); i > 0 && digits(name[i+1:]) && (len(name)-i-1 == 8 || len(name)-i-1 == 10) {
		return true
	}
	return false
}

func planLogfiles(p *planner) error {
	return walkLogs(p, "var/log")
}

func walkLogs(p *planner, dir string) error {
	ents, err := p.entries(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		rel := path.Join(dir, e.Name())
		switch {
		case rel == "var/log/journal" && e.IsDir():
			// The directory stays (its existence and ACLs select
			// persistent journald storage); its machine-ID
			// subdirectories and journal files go.
			if err := p.removeEntries(rel, nil, "journal of the build machine"); err != nil {
				return err
			}
		case e.IsDir():
			if err := walkLogs(p, rel); err != nil {
				return err
			}
		case e.Type().IsRegular() && rotated(e.Name()):
			if err := p.remove(rel, false, "rotated log"); err != nil {
				return err
			}
		case e.Type().IsRegular():
			if err := p.truncate(rel, "log of the build machine; the file stays with its mode and owner"); err != nil {
				return err
			}
		default:
			// Symbolic links (Debian's README -> systemd's doc), sockets
			// and FIFOs are left alone.
		}
	}
	return nil
}

func planPackageManagerCache(p *planner) error {
	const why = "package manager cache"
	steps := []struct {
		dir   string
		match func(fs.DirEntry) bool
	}{
		{"var/cache/apt/archives", files(func(n string) bool { return strings.HasSuffix(n, ".deb") })},
		{"var/cache/apt/archives/partial", nil},
		{"var/cache/apt", files(func(n string) bool { return strings.HasSuffix(n, ".bin") })},
		// apt's lists: `apt-get update` rebuilds them; lock and the
		// partial directory stay, like apt-get clean leaves them.
		{"var/lib/apt/lists", func(e fs.DirEntry) bool {
			return e.Name() != "lock" && !(e.Name() == "partial" && e.IsDir())
		}},
		{"var/lib/apt/lists/partial", nil},
		{"var/cache/dnf", nil},
		{"var/cache/libdnf5", nil},
		{"var/cache/yum", nil},
		{"var/cache/zypp", nil},
		{"var/cache/apk", nil},
	}
	for _, s := range steps {
		if err := p.removeEntries(s.dir, s.match, why); err != nil {
			return err
		}
	}
	return nil
}

func planTmpFiles(p *planner) error {
	for _, d := range []string{"tmp", "var/tmp"} {
		if err := p.removeEntries(d, nil, "temporary file of the build"); err != nil {
			return err
		}
	}
	return nil
}

var histories = []string{
	".bash_history", ".zsh_history", ".zhistory", ".histfile", ".sh_history", ".ash_history", ".history",
	".python_history", ".lesshst", ".mysql_history", ".psql_history", ".sqlite_history", ".node_repl_history",
}

func planShellHistory(p *planner) error {
	homes := []string{"root"}
	ents, err := p.entries("home")
	if err != nil {
		return err
	}
	for _, e := range ents {
		switch {
		case e.IsDir():
			homes = append(homes, path.Join("home", e.Name()))
		case e.Type()&fs.ModeSymlink != 0:
			_ = p.ignore(&skipError{path.Join("home", e.Name()), p.t.linkReason(path.Join("home", e.Name()))})
		}
	}
	for _, h := range homes {
		if err := p.removeEntries(h, files(func(n string) bool { return slices.Contains(histories, n) }), "shell history"); err != nil {
			return err
		}
	}
	return nil
}
