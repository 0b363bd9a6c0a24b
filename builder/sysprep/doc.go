// Package sysprep removes per-instance state from a guest root tree before
// it becomes an image: what virt-sysprep does by default that matters for
// cloud images, plus what it misses for cloud-init.
//
// # Use
//
//	ops, err := sysprep.Select(spec.Enable, spec.Disable) // defaults ± names
//	plan, err := sysprep.NewPlan(root, ops, log)          // changes nothing
//	fmt.Println(plan.Report())                            // dry run
//	report, err := plan.Apply(log)                        // or sysprep.Run(root, ops, log)
//
// A Plan is data: the list of actions (remove, truncate, rewrite a path)
// computed against the tree before anything changes. Apply carries it out in
// order, and Plan.Report is exactly what Apply reports when it succeeds. Each
// operation is idempotent: a second run plans nothing. Absent files are not
// an error.
//
// # Security
//
// The tree comes from outside (a user's tarball or image) and may contain
// symbolic links meant to redirect writes, e.g. /etc/machine-id ->
// /etc/passwd, /etc/hostname -> ../../../host/file, /var/log -> /. Every
// access goes through an os.Root, so nothing outside the root is ever
// reached. Stricter than that, no symbolic link is followed, even one that
// stays inside the root (/var/tmp -> ../etc must not empty /etc):
//
//   - each directory on a path is checked with Lstat; a directory that is a
//     link is not entered, and the operation reports it under Skipped;
//   - a file is opened only after an Lstat says it is a regular file, and
//     the opened file must be that same file (os.Root.OpenFile resolves links
//     itself and ignores O_NOFOLLOW, hence the check);
//   - removing a link removes the link; a removed directory's contents are
//     removed without following links (os.Root.RemoveAll);
//   - a file's contents are replaced by writing a new file next to it and
//     renaming it over the old one, which replaces a link rather than
//     writing through it;
//   - a log file with more than one hard link is replaced by an empty copy
//     instead of truncated, so another name for the same inode — possibly
//     outside the root — keeps its contents.
//
// Links inside directories an operation cleans (Debian's /var/log/README)
// are left alone unless the operation removes that name (an ssh host key
// that is a link: the link goes, its target stays).
//
// # Operations
//
// Ops lists them in the order they run; README.md has the table (kept in
// sync by a test). Decisions and reasons:
//
// machine-id writes "uninitialized\n" rather than truncating as virt-sysprep
// does: systemd (v247+) treats "uninitialized" as a first boot
// (ConditionFirstBoot=, presets applied, units enabled), while an empty file
// only regenerates the ID. An absent /etc/machine-id stays absent (that is
// a first boot already); a link there is replaced by a file, mode 0444.
// /var/lib/dbus/machine-id is removed when it is a regular file: libdbus
// reads it before /etc/machine-id, so a copy would keep the old ID, and
// without it libdbus falls back to /etc/machine-id (dbus-uuidgen --ensure
// recreates it on non-systemd systems). A link to /etc/machine-id (what
// newer distributions ship) stays; a link elsewhere is removed.
//
// ssh-hostkeys removes /etc/ssh/*_host_* like virt-sysprep. cloud-init's ssh
// module and RHEL/SUSE's sshd-keygen regenerate keys at boot; a Debian image
// without cloud-init needs `ssh-keygen -A` before sshd starts.
//
// net-hwaddr drops HWADDR= and MACADDR= lines from Red Hat ifcfg files
// (and SUSE's LLADDR=): they pin the build machine's NIC, and on DPM the
// zguest agent sets the MAC Neutron assigned. net-hostname empties
// /etc/hostname (mode, owner and labels kept): systemd skips an empty file
// and uses the transient or built-in hostname until cloud-init sets the
// instance's; it also drops HOSTNAME= and DHCP_HOSTNAME= from ifcfg files as
// virt-sysprep's net-hostname does. Edited files are replaced atomically
// with the old mode, owner and extended attributes (security.selinux
// included: an unlabeled /etc/hostname breaks an enforcing RHEL guest).
//
// dhcp-client-state removes client leases only: dhclient*.lease[s] in
// /var/lib/dhcp (ISC dhcpd will not start without its dhcpd.leases),
// everything in /var/lib/dhclient, *.lease[s] of NetworkManager, wicked's
// lease-*, dhcpcd's leases and DUID.
//
// cloud-init removes /var/lib/cloud/* (libguestfs has no such operation;
// users pass --delete /var/lib/cloud) because the per-instance semaphores
// there would make a clone skip host-key regeneration, user creation and
// network configuration. Like `cloud-init clean` without --seed it keeps
// /var/lib/cloud/seed: a NoCloud seed baked into an image is configuration.
// cloud-init-seed removes it too and is therefore off by default. The
// cloud-init logs are removed, not truncated.
//
// random-seed and credential-secret remove systemd's saved entropy
// (instances must not start from the same seed) and the systemd-creds host
// key (shared, one instance could decrypt credentials sealed for another).
// systemd creates both again.
//
// logfiles truncates every regular file under /var/log to zero length in
// place — the files stay with their mode, owner, group and ACLs, because
// wtmp, btmp, lastlog and per-daemon logs are expected to exist with those —
// and removes rotated and compressed logs (NAME.N, NAME.old, NAME-YYYYMMDD,
// *.gz/xz/bz2/zst/...), which nothing expects. Directories stay. In
// /var/log/journal everything goes but the directory itself: the journal
// files live in a subdirectory named after the old machine ID, and the
// directory's existence selects persistent storage.
//
// package-manager-cache removes downloaded packages and metadata caches:
// /var/cache/apt/archives/*.deb and partial/*, /var/cache/apt/*.bin,
// /var/lib/apt/lists/* except lock and partial/ (as `apt-get clean` plus
// `rm -rf /var/lib/apt/lists/*`; `apt-get update` is needed before the next
// install), and the contents of /var/cache/{dnf,libdnf5,yum,zypp,apk}.
//
// tmp-files removes the contents of /tmp and /var/tmp; the directories stay
// (mode 1777). shell-history removes shell and REPL history files in /root
// and /home/*.
package sysprep
