// Package version holds the version string of zguest's programs. The
// Makefile sets it at link time from git (the tag, else `git describe
// --always --dirty`):
//
//	go build -ldflags "-X github.com/zguest/zguest/internal/version.Version=v1.2.0" ./cmd/...
//
// A binary built without it says "unknown". FromBinary reads the version
// back out of a built executable without running it (zguest-image reads
// the s390x agent it installs this way on an amd64 build host).
package version

import (
	"debug/buildinfo"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Version is the program's version; set with -ldflags -X (see Symbol).
var Version = Unknown

// Unknown is the version of a binary built without -X.
const Unknown = "unknown"

// Symbol is the name -ldflags -X sets.
const Symbol = "github.com/zguest/zguest/internal/version.Version"

// String returns "<program> <version>", the --version line.
func String(program string) string { return program + " " + Version }

// ErrNoVersion says an executable carries no version set with -X.
var ErrNoVersion = errors.New("no version in the executable's build information (built without -ldflags -X " + Symbol + "=...)")

// FromBinary returns the version an executable was linked with, read from
// the -ldflags setting of its Go build information.
func FromBinary(r io.ReaderAt) (string, error) {
	bi, err := buildinfo.Read(r)
	if err != nil {
		return "", fmt.Errorf("read Go build information: %w", err)
	}
	for _, s := range bi.Settings {
		if s.Key == "-ldflags" {
			if v, ok := FromLDFlags(s.Value); ok {
				return v, nil
			}
		}
	}
	return "", ErrNoVersion
}

// FromLDFlags finds "-X <Symbol>=<version>" (also "-X=<Symbol>=..." and
// quoted forms) in a linker flags string.
func FromLDFlags(flags string) (string, bool) {
	i := strings.LastIndex(flags, Symbol+"=")
	if i < 0 {
		return "", false
	}
	v := flags[i+len(Symbol)+1:]
	if j := strings.IndexAny(v, " \t'\""); j >= 0 {
		v = v[:j]
	}
	if v == "" {
		return "", false
	}
	return v, true
}
