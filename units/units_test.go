// Package units holds the systemd units zguest ships in images; this test
// checks the properties the boot order depends on.
package units

import (
	"os"
	"strings"
	"testing"

	"github.com/coreos/go-systemd/v22/unit"
)

func load(t *testing.T, name string) map[string][]string {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	opts, err := unit.DeserializeOptions(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	m := map[string][]string{}
	for _, o := range opts {
		k := o.Section + "." + o.Name
		m[k] = append(m[k], strings.Fields(o.Value)...)
	}
	return m
}

func has(m map[string][]string, key, val string) bool {
	for _, v := range m[key] {
		if v == val {
			return true
		}
	}
	return false
}

func TestActivateUnit(t *testing.T) {
	m := load(t, "zguest-activate.service")
	for _, c := range []struct{ key, val string }{
		{"Unit.DefaultDependencies", "no"},
		{"Unit.Before", "cloud-init-local.service"},
		{"Unit.Before", "network-pre.target"},
		{"Unit.Wants", "network-pre.target"},
		{"Unit.After", "local-fs.target"},
		{"Unit.After", "systemd-remount-fs.service"},
		{"Unit.After", "systemd-udevd.service"},
		{"Service.Type", "oneshot"},
		{"Service.RemainAfterExit", "yes"},
		{"Service.NotifyAccess", "main"},
		{"Service.ExecStart", AgentPath},
		{"Service.ExecStart", "activate"},
		{"Install.WantedBy", "sysinit.target"},
	} {
		if !has(m, c.key, c.val) {
			t.Errorf("zguest-activate.service: %s lacks %s (has %v)", c.key, c.val, m[c.key])
		}
	}
	// sysinit.target is ordered before basic.target, which cloud-init-local
	// does not wait for; being wanted by it gets us started early enough.
	if has(m, "Unit.After", "network-pre.target") || has(m, "Unit.After", "cloud-init-local.service") {
		t.Error("ordering cycle: must not be After= what it is Before=")
	}
}

func TestSetmacTemplate(t *testing.T) {
	m := load(t, "zguest-setmac@.service")
	for _, c := range []struct{ key, val string }{
		{"Unit.DefaultDependencies", "no"},
		{"Unit.After", "zguest-activate.service"},
		{"Service.Type", "oneshot"},
		{"Service.ExecStart", AgentPath},
		{"Service.ExecStart", "setmac"},
		{"Service.ExecStart", "%I"},
	} {
		if !has(m, c.key, c.val) {
			t.Errorf("zguest-setmac@.service: %s lacks %s (has %v)", c.key, c.val, m[c.key])
		}
	}
}

func TestReaderUnit(t *testing.T) {
	m := load(t, "zguest-reader.service")
	for _, c := range []struct{ key, val string }{
		{"Unit.DefaultDependencies", "no"},
		{"Unit.After", "zguest-activate.service"},
		{"Unit.After", "local-fs.target"},
		{"Service.Type", "oneshot"},
		{"Service.ExecStart", AgentPath},
		{"Service.ExecStart", "reader"},
	} {
		if !has(m, c.key, c.val) {
			t.Errorf("zguest-reader.service: %s lacks %s (has %v)", c.key, c.val, m[c.key])
		}
	}
	// The host re-triggers it with systemctl start: it must not stay active.
	if has(m, "Service.RemainAfterExit", "yes") {
		t.Error("zguest-reader.service must not RemainAfterExit")
	}
}
