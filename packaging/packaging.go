// Package packaging builds zguest's .deb and .rpm packages with nfpm
// (github.com/goreleaser/nfpm/v2), from binaries built by the Makefile or
// by a test:
//
//   - zguest-agent (.deb, .rpm; s390x): the agent at the path the units
//     run it from, the units, the udev rules, a systemd preset that enables
//     zguest-activate.service, maintainer scripts that enable it the
//     distribution's way (deb-systemd-helper; %systemd_post's preset), a
//     README and a man page;
//   - zguest-hostd (.deb, .rpm; s390x, amd64): the daemon, its unit, the
//     default configuration /etc/zguest/hostd.json (mode 0600, a
//     conffile) and a man page that describes every key (JSON has no
//     comments);
//   - zguest-image (.deb; s390x, amd64): the tool and the programs it runs
//     (e2fsprogs) as dependencies.
//
// Packages carry the version from git (GitVersion), made valid for dpkg
// and rpm by PackageVersion.
package packaging

import (
	"bytes"
	"compress/gzip"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the deb packager
	"github.com/goreleaser/nfpm/v2/files"
	_ "github.com/goreleaser/nfpm/v2/rpm" // registers the rpm packager

	"github.com/zguest/zguest/udev"
	"github.com/zguest/zguest/units"
)

//go:embed files
var data embed.FS

// Maintainer is the packages' Maintainer field.
const Maintainer = "zguest developers <zguest@lists.zguest.dev>"

// Homepage is the packages' Homepage field.
const Homepage = "https://github.com/zguest/zguest"

// Installed paths.
const (
	LibDir    = "/usr/lib/zguest"
	UnitDir   = "/usr/lib/systemd/system"
	UdevDir   = "/usr/lib/udev/rules.d"
	PresetDir = "/usr/lib/systemd/system-preset"
	// HostdConfig is the daemon's configuration, a conffile.
	HostdConfig = "/etc/zguest/hostd.json"
)

// Formats.
const (
	Deb = "deb"
	RPM = "rpm"
)

// Options say what to package.
type Options struct {
	// Version is the version from git (GitVersion); packages get
	// PackageVersion(Version).
	Version string
	// Arch is the Go architecture of the binaries: s390x or amd64.
	Arch string
	// Binary is the built program of the package, for Arch.
	Binary string
	// MTime stamps every file; zero means SOURCE_DATE_EPOCH or now.
	MTime time.Time
}

// Package is one of zguest's packages.
type Package struct {
	Name string
	// Arches and Formats the package is built for.
	Arches, Formats []string
	// Program is the name of the binary it ships (bin/<arch>/<Program>).
	Program string
	info    func(p *Package, o Options, format, stage string) (*nfpm.Info, error)
}

// Packages are zguest's packages.
var Packages = []*Package{
	{Name: "zguest-agent", Program: "zguest-agent", Arches: []string{"s390x"}, Formats: []string{Deb, RPM}, info: agentInfo},
	{Name: "zguest-hostd", Program: "zguest-hostd", Arches: []string{"s390x", "amd64"}, Formats: []string{Deb, RPM}, info: hostdInfo},
	{Name: "zguest-image", Program: "zguest-image", Arches: []string{"s390x", "amd64"}, Formats: []string{Deb}, info: imageInfo},
}

// Lookup returns the package named name.
func Lookup(name string) (*Package, error) {
	for _, p := range Packages {
		if p.Name == name {
			return p, nil
		}
	}
	return nil, fmt.Errorf("no package %q (have zguest-agent, zguest-hostd, zguest-image)", name)
}

// Build writes the package in format into outDir under its conventional
// file name (zguest-agent_1.2.0_s390x.deb, zguest-agent-1.2.0-1.s390x.rpm)
// and returns its path.
func (p *Package) Build(o Options, format, outDir string) (string, error) {
	if !slices.Contains(p.Formats, format) {
		return "", fmt.Errorf("%s: no %s package (formats: %s)", p.Name, format, strings.Join(p.Formats, ", "))
	}
	if !slices.Contains(p.Arches, o.Arch) {
		return "", fmt.Errorf("%s: not built for %s (architectures: %s)", p.Name, o.Arch, strings.Join(p.Arches, ", "))
	}
	if o.Version == "" {
		return "", errors.New("no version: pass the one from git (GitVersion)")
	}
	if st, err := os.Stat(o.Binary); err != nil {
		return "", fmt.Errorf("%s: binary: %w (run `make build build-s390x`)", p.Name, err)
	} else if !st.Mode().IsRegular() {
		return "", fmt.Errorf("%s: binary %s is not a regular file", p.Name, o.Binary)
	}
	if o.MTime.IsZero() {
		o.MTime = mtimeFromEnv()
	}
	stage, err := os.MkdirTemp("", "zguest-pkg-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(stage)
	info, err := p.info(p, o, format, stage)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", p.Name, format, err)
	}
	info = nfpm.WithDefaults(info)
	pk, err := nfpm.Get(format)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", err
	}
	out := filepath.Join(outDir, pk.ConventionalFileName(info))
	f, err := os.Create(out)
	if err != nil {
		return "", err
	}
	info.Target = out
	if err := pk.Package(info, f); err != nil {
		f.Close()
		os.Remove(out)
		return "", fmt.Errorf("%s %s: %w", p.Name, format, err)
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return out, nil
}

// baseInfo fills in what every package has: metadata, the copyright,
// the changelog and lintian overrides of a .deb.
func baseInfo(p *Package, o Options, format, stage, summary, long string) (*nfpm.Info, error) {
	v := PackageVersion(o.Version)
	info := &nfpm.Info{
		Name:          p.Name,
		Arch:          o.Arch,
		Platform:      "linux",
		Version:       v,
		VersionSchema: "none",
		Section:       "admin",
		Priority:      "optional",
		Maintainer:    Maintainer,
		Vendor:        "zguest",
		Homepage:      Homepage,
		License:       "UNDECIDED",
		Description:   summary + "\n" + long,
		MTime:         o.MTime,
	}
	info.Umask = 0o022
	if format == RPM {
		info.Description = long // the summary has its own tag
	}
	info.RPM.Summary = summary
	info.RPM.Group = "System Environment/Base"
	info.RPM.Packager = Maintainer
	info.RPM.BuildHost = "zguest"
	info.RPM.Compression = "gzip"
	info.Deb.Compression = "xz"
	doc := "/usr/share/doc/" + p.Name
	st := stager{stage: stage, info: info, mtime: o.MTime}
	st.add("files/copyright", doc+"/copyright", 0o644, "")
	if format == Deb {
		cl := fmt.Sprintf("%s (%s) unstable; urgency=medium\n\n  * Built from zguest %s.\n\n -- %s  %s\n",
			p.Name, v, o.Version, Maintainer, o.MTime.UTC().Format(time.RFC1123Z))
		st.addBytes(gz([]byte(cl)), doc+"/changelog.gz", 0o644, "")
		if b, err := data.ReadFile("files/" + p.Name + ".lintian-overrides"); err == nil {
			st.addBytes(b, "/usr/share/lintian/overrides/"+p.Name, 0o644, "")
		}
	}
	return info, st.err
}

func agentInfo(p *Package, o Options, format, stage string) (*nfpm.Info, error) {
	info, err := baseInfo(p, o, format, stage,
		"zguest guest agent: qeth NICs in layer 2 with their MACs before cloud-init",
		`zguest-agent runs at boot in Linux guests on IBM Z (z/VM guests, DPM
partitions, KVM guests on s390x). It brings every qeth NIC the host gave
the guest up in layer 2 with the MAC the cloud assigned, before
cloud-init's local stage, and on z/VM receives the config drive and the NIC
list from the guest's virtual reader.`)
	if err != nil {
		return nil, err
	}
	st := stager{stage: stage, info: info, mtime: o.MTime}
	st.file(o.Binary, LibDir+"/zguest-agent", 0o755)
	st.fsDir(units.Guest, UnitDir)
	st.fsDir(udev.Rules, UdevDir)
	st.add("files/80-zguest.preset", PresetDir+"/80-zguest.preset", 0o644, "")
	st.add("files/agent-README.md", "/usr/share/doc/zguest-agent/README.md", 0o644, "")
	st.man("zguest-agent.8", o.Version)
	if format == RPM {
		st.dir(LibDir)
		// libudev's soname: systemd-libs on Fedora and RHEL, libudev1
		// on SUSE provide it.
		info.Depends = []string{"libudev.so.1()(64bit)", "systemd"}
		info.RPM.Requires.Post = []string{"systemd"}
		st.scripts("agent", RPM)
	} else {
		info.Depends = []string{"libc6 (>= 2.34)", "libudev1 (>= 183)"}
		st.scripts("agent", Deb)
	}
	return info, st.err
}

func hostdInfo(p *Package, o Options, format, stage string) (*nfpm.Info, error) {
	info, err := baseInfo(p, o, format, stage,
		"zguest host daemon: the z/VM cloud connector REST API over z/VM, DPM and KVM",
		`zguest-hostd serves the REST API of the z/VM cloud connector that
OpenStack nova's z/VM driver calls, and carries the calls out on z/VM
(SMAPI and CP), on DPM partitions (the HMC Web Services API) or on KVM
(libvirt). Edit /etc/zguest/hostd.json, then enable zguest-hostd.service.`)
	if err != nil {
		return nil, err
	}
	st := stager{stage: stage, info: info, mtime: o.MTime}
	st.file(o.Binary, LibDir+"/zguest-hostd", 0o755)
	st.fsDir(units.Host, UnitDir)
	conf := files.TypeConfig
	if format == RPM {
		conf = files.TypeConfigNoReplace
		st.dir(LibDir)
		st.dir("/etc/zguest")
		info.RPM.Requires.Post = []string{"systemd"}
	}
	st.add("files/hostd.json", HostdConfig, 0o600, conf)
	st.man("zguest-hostd.8", o.Version)
	st.scripts("hostd", format)
	return info, st.err
}

func imageInfo(p *Package, o Options, format, stage string) (*nfpm.Info, error) {
	info, err := baseInfo(p, o, format, stage,
		"zguest image builder: bootable s390x guest images, config drives, qcow2",
		`zguest-image builds bootable s390x guest images for KVM, DPM and z/VM
with zguest-agent installed, writes config drives (ISO 9660 or vfat) and
converts and checks qcow2 images.`)
	if err != nil {
		return nil, err
	}
	st := stager{stage: stage, info: info, mtime: o.MTime}
	st.file(o.Binary, "/usr/bin/zguest-image", 0o755)
	st.man("zguest-image.1", o.Version)
	// build runs mke2fs -d (1.43 or later) and debugfs.
	info.Depends = []string{"e2fsprogs (>= 1.43)"}
	return info, st.err
}

// stager adds files to a package, writing embedded and generated ones
// into a staging directory first (nfpm reads contents from files). The
// first error sticks.
type stager struct {
	stage string
	info  *nfpm.Info
	mtime time.Time
	err   error
}

func (s *stager) content(src, dst string, mode os.FileMode, typ string) {
	s.info.Contents = append(s.info.Contents, &files.Content{
		Source: src, Destination: dst, Type: typ,
		FileInfo: &files.ContentFileInfo{Owner: "root", Group: "root", Mode: mode, MTime: s.mtime},
	})
}

// file adds a file from the build (a binary).
func (s *stager) file(src, dst string, mode os.FileMode) { s.content(src, dst, mode, "") }

// dir makes the package own a directory (rpm lists its directories).
func (s *stager) dir(dst string) {
	s.info.Contents = append(s.info.Contents, &files.Content{Destination: dst, Type: files.TypeDir,
		FileInfo: &files.ContentFileInfo{Owner: "root", Group: "root", Mode: 0o755, MTime: s.mtime}})
}

// addBytes stages b and adds it as dst.
func (s *stager) addBytes(b []byte, dst string, mode os.FileMode, typ string) {
	if s.err != nil {
		return
	}
	src := filepath.Join(s.stage, strings.ReplaceAll(strings.TrimPrefix(dst, "/"), "/", "_"))
	if err := os.WriteFile(src, b, 0o644); err != nil {
		s.err = err
		return
	}
	s.content(src, dst, mode, typ)
}

// add adds an embedded file.
func (s *stager) add(name, dst string, mode os.FileMode, typ string) {
	b, err := data.ReadFile(name)
	if err != nil {
		s.err = errors.Join(s.err, err)
		return
	}
	s.addBytes(b, dst, mode, typ)
}

// fsDir adds every file of fsys into dir.
func (s *stager) fsDir(fsys fs.FS, dir string) {
	ents, err := fs.ReadDir(fsys, ".")
	if err != nil {
		s.err = errors.Join(s.err, err)
		return
	}
	for _, e := range ents {
		if e.IsDir() || strings.HasSuffix(e.Name(), ".go") {
			continue
		}
		b, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			s.err = errors.Join(s.err, err)
			return
		}
		s.addBytes(b, path.Join(dir, e.Name()), 0o644, "")
	}
}

// man adds a man page, with the version filled in, compressed.
func (s *stager) man(name, version string) {
	b, err := data.ReadFile("files/" + name)
	if err != nil {
		s.err = errors.Join(s.err, err)
		return
	}
	b = bytes.ReplaceAll(b, []byte("@VERSION@"), []byte(version))
	section := name[strings.LastIndexByte(name, '.')+1:]
	s.addBytes(gz(b), "/usr/share/man/man"+section+"/"+name+".gz", 0o644, "")
}

// scripts sets the maintainer scripts of prefix (agent, hostd) for format.
func (s *stager) scripts(prefix, format string) {
	stage := func(name string) string {
		b, err := data.ReadFile("files/" + prefix + "." + name)
		if err != nil {
			s.err = errors.Join(s.err, err)
			return ""
		}
		p := filepath.Join(s.stage, prefix+"."+name)
		if err := os.WriteFile(p, b, 0o755); err != nil {
			s.err = errors.Join(s.err, err)
		}
		return p
	}
	sc := &s.info.Scripts
	if format == Deb {
		sc.PostInstall, sc.PreRemove, sc.PostRemove = stage("postinst"), stage("prerm"), stage("postrm")
		return
	}
	sc.PostInstall, sc.PreRemove, sc.PostRemove = stage("rpm-post"), stage("rpm-preun"), stage("rpm-postun")
}

// gz compresses b the way dpkg and lintian want (best compression, no
// name or time in the header, so that builds are reproducible).
func gz(b []byte) []byte {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}
