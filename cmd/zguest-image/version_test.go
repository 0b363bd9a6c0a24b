package main

import (
	"bytes"
	"testing"

	"github.com/zguest/zguest/internal/version"
)

// TestVersion: --version and the version command print the linked version.
func TestVersion(t *testing.T) {
	for _, arg := range []string{"--version", "version"} {
		var out, errb bytes.Buffer
		if code := run([]string{arg}, &out, &errb); code != exitOK {
			t.Fatalf("%s: exit %d (%s)", arg, code, errb.String())
		}
		if got, want := out.String(), "zguest-image "+version.Version+"\n"; got != want {
			t.Errorf("%s printed %q, want %q", arg, got, want)
		}
	}
}
