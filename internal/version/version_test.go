package version

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/zguest/zguest/internal/testutil"
)

func TestFromLDFlags(t *testing.T) {
	for flags, want := range map[string]string{
		"-X " + Symbol + "=v1.2.0":                                    "v1.2.0",
		"-s -w -X " + Symbol + "=v0.3.0-4-gabc1234-dirty -X main.x=y": "v0.3.0-4-gabc1234-dirty",
		"-X '" + Symbol + "=abc1234'":                                 "abc1234",
		"-X=" + Symbol + "=1.0":                                       "1.0",
		"-s -w":                                                       "",
		"-X " + Symbol + "=":                                          "",
	} {
		got, ok := FromLDFlags(flags)
		if got != want || ok != (want != "") {
			t.Errorf("FromLDFlags(%q) = %q, %v; want %q", flags, got, ok, want)
		}
	}
}

// TestFromBinary links a program with -X and reads the version back; a
// program without it gives ErrNoVersion, and a file that is not an
// executable an error.
func TestFromBinary(t *testing.T) {
	dir := t.TempDir()
	with := testutil.GoBuild(t, filepath.Join(dir, "with"), "github.com/zguest/zguest/internal/version/testdata/prog", "",
		"CGO_ENABLED=0", "GOARCH=s390x", "GOFLAGS=-buildvcs=false -ldflags=-X="+Symbol+"=v9.8.7-1-gdeadbee")
	without := testutil.GoBuild(t, filepath.Join(dir, "without"), "github.com/zguest/zguest/internal/version/testdata/prog", "",
		"CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
	f, err := os.Open(with)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if v, err := FromBinary(f); err != nil || v != "v9.8.7-1-gdeadbee" {
		t.Errorf("FromBinary(s390x program linked with -X) = %q, %v", v, err)
	}
	g, err := os.Open(without)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if v, err := FromBinary(g); !errors.Is(err, ErrNoVersion) {
		t.Errorf("FromBinary(program without -X) = %q, %v; want ErrNoVersion", v, err)
	}
	if _, err := FromBinary(bytes.NewReader([]byte("#!/bin/sh\necho hi\n"))); err == nil {
		t.Error("FromBinary(shell script): no error")
	}
}

func TestString(t *testing.T) {
	if got := String("zguest-agent"); got != "zguest-agent "+Version {
		t.Errorf("String = %q", got)
	}
}
