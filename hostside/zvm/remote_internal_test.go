package zvm

import (
	"strings"
	"testing"
)

func TestCheckRemote(t *testing.T) {
	for _, ok := range []string{"nova@192.168.99.1", "root@127.0.0.1", "stack@compute-1.example.com", "u@[fd00::1]"} {
		if err := checkRemote(ok, "/var/lib/nova/images/x"); err != nil {
			t.Errorf("%s refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "host", "@host", "-oProxyCommand=x@h", "u@-h", "u@h h", "u@h:/etc", "u@h\n", "a b@h"} {
		if err := checkRemote(bad, "/x"); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	for _, bad := range []string{"", "relative", "/a\nb"} {
		if err := checkRemote("u@h", bad); err == nil {
			t.Errorf("path %q accepted", bad)
		}
	}
}

// FuzzCheckRemote: whatever checkRemote accepts cannot reach scp as an
// option or as more than one operand.
func FuzzCheckRemote(f *testing.F) {
	f.Add("nova@192.168.99.1", "/var/lib/nova/images/x")
	f.Add("-o@x", "/x")
	f.Fuzz(func(t *testing.T, remote, path string) {
		if checkRemote(remote, path) != nil {
			return
		}
		if strings.HasPrefix(remote, "-") || strings.ContainsAny(remote, " \t\n\x00:/") && !strings.Contains(remote, "[") {
			t.Errorf("accepted %q", remote)
		}
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, "\n\x00") {
			t.Errorf("accepted path %q", path)
		}
	})
}
