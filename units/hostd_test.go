package units

import "testing"

// HostdPath is where the host daemon is installed.
const HostdPath = "/usr/lib/zguest/zguest-hostd"

// TestHostdUnit checks what zguest-hostd relies on: sd_notify readiness
// and a watchdog, restart on failure, its state directory, and the
// hardening options.
func TestHostdUnit(t *testing.T) {
	m := load(t, "zguest-hostd.service")
	for _, c := range []struct{ key, val string }{
		{"Service.Type", "notify"},
		{"Service.NotifyAccess", "main"},
		{"Service.ExecStart", HostdPath},
		{"Service.ExecStart", "--config"},
		{"Service.Restart", "on-failure"},
		{"Service.StateDirectory", "zguest-hostd"},
		{"Service.NoNewPrivileges", "yes"},
		{"Service.ProtectSystem", "strict"},
		{"Service.PrivateTmp", "yes"},
		{"Service.MemoryDenyWriteExecute", "yes"},
		{"Service.UMask", "0077"},
		{"Unit.After", "network-online.target"},
		{"Install.WantedBy", "multi-user.target"},
	} {
		if !has(m, c.key, c.val) {
			t.Errorf("zguest-hostd.service: %s lacks %s (has %v)", c.key, c.val, m[c.key])
		}
	}
	if len(m["Service.WatchdogSec"]) != 1 || m["Service.WatchdogSec"][0] == "0" {
		t.Errorf("WatchdogSec %v", m["Service.WatchdogSec"])
	}
}
