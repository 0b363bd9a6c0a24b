package imagebuild_test

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"

	"github.com/zguest/zguest/internal/imagefixture"
)

// doneMarker returns a line no guest prints by chance: the user data
// script echoes it last, and the boot stops when it appears.
func doneMarker() string {
	nonce := make([]byte, 6)
	_, _ = rand.Read(nonce)
	return "ZGUEST-E2E-DONE-" + hex.EncodeToString(nonce)
}

// guestFact returns what the guest printed as "ZGUEST-FACT name=value",
// or "".
func guestFact(lines []imagefixture.Line, name string) string {
	key := "ZGUEST-FACT " + name + "="
	i := imagefixture.Index(lines, key)
	if i < 0 {
		return ""
	}
	s := lines[i].Text
	return strings.TrimSpace(s[strings.Index(s, key)+len(key):])
}

// checkBootAndAgent checks what every boot of a fixture image with a
// DPM-style NIC token shows: the firmware read the disk's boot record,
// the token is on the kernel command line, and the agent reported the
// virtio NIC as not qeth and finished before cloud-init-local started
// (the guest prints the units' times as the facts activate,
// activate_done and cloud_init_local_start).
func checkBootAndAgent(t *testing.T, lines []imagefixture.Line, token string) {
	t.Helper()
	if imagefixture.Index(lines, "Using SCSI scheme") < 0 {
		t.Errorf("the firmware did not report the SCSI boot scheme (no zipl boot record read?)")
	}
	if i := imagefixture.Index(lines, "Kernel command line:"); i < 0 || !strings.Contains(lines[i].Text, token) ||
		!strings.Contains(lines[i].Text, "root=UUID=") {
		t.Errorf("kernel command line from the boot record missing or wrong: %q", lines[max(i, 0)].Text)
	}
	said := imagefixture.Index(lines, "not a qeth NIC")
	if said < 0 {
		t.Errorf("the agent did not report the listed virtio NIC as not qeth")
	}
	if got := guestFact(lines, "activate"); got != "active" {
		t.Errorf("zguest-activate.service is %q, want active", got)
	}
	done, _ := strconv.ParseInt(guestFact(lines, "activate_done"), 10, 64)
	cil, _ := strconv.ParseInt(guestFact(lines, "cloud_init_local_start"), 10, 64)
	if done == 0 || cil == 0 || done > cil {
		t.Errorf("zguest-activate finished at %d µs, cloud-init-local started at %d µs: want the agent first", done, cil)
	}
	if initLocal := imagefixture.Index(lines, "running 'init-local'"); said >= 0 && initLocal >= 0 && said > initLocal {
		t.Errorf("the agent's report (line %d) comes after cloud-init's init-local (line %d)", said, initLocal)
	}
}

// checkedLines picks the console lines that contain one of keys, for the
// test's log.
func checkedLines(lines []imagefixture.Line, keys ...string) string {
	var seen []imagefixture.Line
	for _, l := range lines {
		for _, k := range keys {
			if strings.Contains(l.Text, k) {
				seen = append(seen, l)
				break
			}
		}
	}
	return imagefixture.Tail(seen, 40)
}
