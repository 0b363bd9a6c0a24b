package remotehost_test

import (
	"strings"
	"testing"

	"github.com/zguest/zguest/hostside/remotehost"
)

func TestPutArgv(t *testing.T) {
	argv, err := remotehost.PutArgv("", 0, "/img/0100", "nova@192.0.2.7", "/var/tmp/x")
	if err != nil || strings.Join(argv, " ") != "/usr/bin/scp -B -P 22 -o StrictHostKeyChecking=no -- /img/0100 nova@192.0.2.7:/var/tmp/x" {
		t.Errorf("%q %v", argv, err)
	}
	for _, ok := range []string{"nova@compute-1.example.com", "10.0.0.2", "stack@[fd00::2]", "a_b@h"} {
		if err := remotehost.Check(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "-oProxyCommand=x", "nova@-h", "a b@h", "nova@h:22", "@h", "nova@"} {
		if err := remotehost.Check(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzCheck(f *testing.F) {
	f.Add("nova@192.0.2.7")
	f.Fuzz(func(t *testing.T, s string) {
		if remotehost.Check(s) == nil && (strings.HasPrefix(s, "-") || strings.ContainsAny(s, " :/\n")) && !strings.Contains(s, "[") {
			t.Fatalf("%q accepted", s)
		}
	})
}
