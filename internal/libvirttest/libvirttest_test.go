package libvirttest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEnsureQemuConf(t *testing.T) {
	tests := []struct {
		name, before, after, log string
	}{
		{"absent", "", "# added by zguest's libvirt test harness (internal/libvirttest)\nuser = \"root\"\ngroup = \"root\"\nstdio_handler = \"file\"\n", "added"},
		{"complete", "user = \"root\"\ngroup = \"root\"\nstdio_handler = \"file\"\n", "user = \"root\"\ngroup = \"root\"\nstdio_handler = \"file\"\n", ""},
		{"partial", "# mine\nuser = \"root\"", "# mine\nuser = \"root\"\n# added by zguest's libvirt test harness (internal/libvirttest)\ngroup = \"root\"\nstdio_handler = \"file\"\n", "added group"},
		{"other value kept", "user = \"qemu\"\ngroup = \"root\"\n#stdio_handler = \"logd\"\n", "user = \"qemu\"\ngroup = \"root\"\n#stdio_handler = \"logd\"\n# added by zguest's libvirt test harness (internal/libvirttest)\nstdio_handler = \"file\"\n", "sets user = \"qemu\""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "libvirt", "qemu.conf")
			if tc.before != "" {
				os.MkdirAll(filepath.Dir(p), 0o755)
				os.WriteFile(p, []byte(tc.before), 0o644)
			}
			var logs []string
			if err := ensureQemuConf(p, func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) }); err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(p)
			if string(got) != tc.after {
				t.Errorf("got\n%s\nwant\n%s", got, tc.after)
			}
			joined := strings.Join(logs, "\n")
			if (tc.log == "") != (joined == "") || !strings.Contains(joined, tc.log) {
				t.Errorf("logged %q, want %q", joined, tc.log)
			}
		})
	}
}
