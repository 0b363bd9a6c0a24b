package zkernel

import (
	"io/fs"
	"slices"
	"syscall"
	"testing"
)

func TestTreeLinksAndModes(t *testing.T) {
	cfg := baseConfig(t)
	k := newKernel(t, cfg)
	freeAndGroup(t, k)
	mustWrite(t, k, "sys/bus/ccwgroup/devices/0.0.f500/online", "1")

	links := map[string]string{
		"sys/bus/ccw/devices/0.0.f500":                    "../../../devices/css0/0.0.0000/0.0.f500",
		"sys/bus/ccw/devices/0.0.7001":                    "../../../devices/css0/0.0.0004/0.0.7001",
		"sys/bus/ccw/drivers/qeth/0.0.f501":               "../../../../devices/css0/0.0.0001/0.0.f501",
		"sys/bus/ccwgroup/devices/0.0.f500":               "../../../devices/qeth/0.0.f500",
		"sys/bus/ccwgroup/drivers/qeth/0.0.f500":          "../../../../devices/qeth/0.0.f500",
		"sys/devices/qeth/0.0.f500/cdev0":                 "../../css0/0.0.0000/0.0.f500",
		"sys/devices/qeth/0.0.f500/cdev2":                 "../../css0/0.0.0002/0.0.f502",
		"sys/devices/qeth/0.0.f500/driver":                "../../../bus/ccwgroup/drivers/qeth",
		"sys/devices/css0/0.0.0000/0.0.f500/driver":       "../../../../bus/ccw/drivers/qeth",
		"sys/devices/css0/0.0.0001/0.0.f501/group_device": "../../../qeth/0.0.f500",
		"sys/devices/qeth/0.0.f500/net/eth0/device":       "../../../0.0.f500",
		"sys/class/net/eth0":                              "../../devices/qeth/0.0.f500/net/eth0",
	}
	for name, want := range links {
		got, err := k.Readlink(name)
		if err != nil || got != want {
			t.Errorf("Readlink(%s) = %q, %v; want %q", name, got, err, want)
		}
	}
	// Paths through links resolve like the kernel's.
	for _, name := range []string{
		"sys/bus/ccw/devices/0.0.f501/group_device/cdev0/group_device/online",
		"sys/class/net/eth0/device/online",
		"sys/bus/ccwgroup/devices/0.0.f500/net/eth0/device/cdev1/../0.0.f501/online",
		"/sys/bus/ccwgroup/devices/0.0.f500/online",
	} {
		if _, err := k.ReadFile(name); err != nil {
			t.Errorf("ReadFile(%s): %v", name, err)
		}
	}
	modes := map[string]fs.FileMode{
		"sys/bus/ccwgroup/drivers/qeth/group":     0o200,
		"sys/devices/qeth/0.0.f500/online":        0o644,
		"sys/devices/qeth/0.0.f500/card_type":     0o444,
		"sys/devices/qeth/0.0.f500/ungroup":       0o200,
		"sys/bus/ccwgroup/devices/0.0.f500/state": 0o444,
		"sys/bus/ccwgroup/devices/0.0.f500":       fs.ModeDir | 0o755,
		"proc/cio_ignore":                         0o644,
		"proc/cio_settle":                         0o200,
		"proc/cmdline":                            0o444,
	}
	for name, want := range modes {
		fi, err := k.Stat(name)
		if err != nil || fi.Mode() != want {
			t.Errorf("Stat(%s) mode = %v, %v; want %v", name, fi.Mode(), err, want)
		}
	}
	fi, err := k.Lstat("sys/bus/ccwgroup/devices/0.0.f500")
	if err != nil || fi.Mode()&fs.ModeSymlink == 0 || fi.Name() != "0.0.f500" {
		t.Errorf("Lstat = %v, %v", fi, err)
	}
	ents, err := k.ReadDir("sys/bus/ccwgroup/devices/0.0.f500")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	for _, want := range []string{"online", "layer2", "portno", "buffer_count", "card_type", "state", "if_name", "chpid", "ungroup", "cdev0", "cdev1", "cdev2", "driver", "net", "bridge_role"} {
		if !slices.Contains(names, want) {
			t.Errorf("group dir lacks %s: %v", want, names)
		}
	}
	if !slices.IsSorted(names) {
		t.Errorf("ReadDir not sorted: %v", names)
	}
	ents, _ = k.ReadDir("sys/bus/ccw/devices")
	if len(ents) != 7 { // f500-f502, 7000-7002, 0200
		t.Errorf("ccw devices: %d entries", len(ents))
	}

	errs := []struct {
		op    func() error
		errno syscall.Errno
	}{
		{func() error { _, err := k.ReadFile("sys/devices/qeth"); return err }, syscall.EISDIR},
		{func() error { return k.WriteFile("sys/devices/qeth", []byte("1")) }, syscall.EISDIR},
		{func() error { _, err := k.ReadFile("sys/devices/qeth/0.0.f500/online/x"); return err }, syscall.ENOTDIR},
		{func() error { _, err := k.ReadDir("proc/cmdline"); return err }, syscall.ENOTDIR},
		{func() error { _, err := k.Readlink("proc/cmdline"); return err }, syscall.EINVAL},
		{func() error { _, err := k.Stat("sys/nope"); return err }, syscall.ENOENT},
		{func() error { return k.CheckOpen("sys/devices/qeth/0.0.f500/ungroup", true, false) }, syscall.EACCES},
		{func() error { return k.CheckOpen("sys/devices/qeth/0.0.f500/ungroup", false, true) }, 0},
	}
	for i, e := range errs {
		wantErrno(t, "case "+string(rune('a'+i)), e.op(), e.errno)
	}
}

func TestRootListing(t *testing.T) {
	k := newKernel(t, Config{})
	ents, err := k.ReadDir("")
	if err != nil || len(ents) != 2 || ents[0].Name() != "proc" || ents[1].Name() != "sys" {
		t.Errorf("root: %v, %v", ents, err)
	}
	if _, err := k.ReadFile("proc/sysinfo"); err != nil {
		t.Error(err)
	}
}
