// Command mkpkg builds zguest's .deb and .rpm packages (package
// packaging) from the binaries `make build build-s390x` leaves in bin/:
//
//	mkpkg -version "$(git describe --tags --always --dirty)" -bin bin -o dist
//
// bin/<program> is taken as amd64 and bin/s390x/<program> as s390x. It
// prints the path of every package it writes.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/zguest/zguest/packaging"
)

func main() {
	ver := flag.String("version", "", "version from git (default: git describe of the current directory)")
	bin := flag.String("bin", "bin", "directory with the amd64 binaries and s390x/ with the s390x ones")
	out := flag.String("o", "dist", "output directory")
	flag.Parse()
	if *ver == "" {
		*ver = packaging.GitVersion(".")
	}
	if err := run(*ver, *bin, *out); err != nil {
		fmt.Fprintf(os.Stderr, "mkpkg: %v\n", err)
		os.Exit(1)
	}
}

func run(ver, bin, out string) error {
	dirs := map[string]string{"amd64": bin, "s390x": filepath.Join(bin, "s390x")}
	for _, p := range packaging.Packages {
		for _, arch := range p.Arches {
			o := packaging.Options{Version: ver, Arch: arch, Binary: filepath.Join(dirs[arch], p.Program)}
			for _, f := range p.Formats {
				path, err := p.Build(o, f, out)
				if err != nil {
					return err
				}
				fmt.Println(path)
			}
		}
	}
	return nil
}
