package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/zguest/zguest/internal/version"
)

// TestVersionFlag: --version prints the linked version and exits 0
// without a command.
func TestVersionFlag(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"--version"}, &out, &errb); err != nil {
		t.Fatalf("--version: %v (%s)", err, errb.String())
	}
	if got, want := out.String(), "zguest-agent "+version.Version+"\n"; got != want {
		t.Errorf("--version printed %q, want %q", got, want)
	}
}
