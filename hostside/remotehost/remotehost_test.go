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
	for _, ok := range []string{"nova@compute-1.example.com", "root@10.0.0.2", "root@127.0.0.1", "stack@[fd00::2]", "a_b@h"} {
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

func TestGetArgvPath(t *testing.T) {
	argv, err := remotehost.GetArgv("/bin/scp", 2222, "nova@h", "/var/lib/nova/images/x", "/tmp/y")
	if err != nil || strings.Join(argv, " ") != "/bin/scp -B -P 2222 -o StrictHostKeyChecking=no -- nova@h:/var/lib/nova/images/x /tmp/y" {
		t.Errorf("%q %v", argv, err)
	}
	for _, bad := range []string{"", "relative", "/a\nb", "/a\x00b"} {
		if _, err := remotehost.GetArgv("", 0, "u@h", bad, "/tmp/y"); err == nil {
			t.Errorf("path %q accepted", bad)
		}
	}
}

func FuzzCheckPath(f *testing.F) {
	f.Add("nova@192.168.99.1", "/var/lib/nova/images/x")
	f.Add("-o@x", "/x")
	f.Fuzz(func(t *testing.T, remote, path string) {
		if remotehost.CheckPath(remote, path) != nil {
			return
		}
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, "\n\x00") {
			t.Errorf("accepted path %q", path)
		}
	})
}

func FuzzCheck(f *testing.F) {
	f.Add("nova@192.0.2.7")
	f.Fuzz(func(t *testing.T, s string) {
		if remotehost.Check(s) == nil && (strings.HasPrefix(s, "-") || strings.ContainsAny(s, " :/\n")) && !strings.Contains(s, "[") {
			t.Fatalf("%q accepted", s)
		}
	})
}
