package main_test

// Black-box tests of the z/VM guest's trust model (agent/zvm/README.md):
// each attack another z/VM user can make through the guest's reader, on
// the emulated guest in its default configuration (no
// /etc/zguest/authorized-senders) unless a test says otherwise.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zguest/zguest/agent/cfgdrive"
	"github.com/zguest/zguest/agent/state"
	"github.com/zguest/zguest/agent/zvm/trust"
	"github.com/zguest/zguest/internal/zkernel/zkerneltest"
	"github.com/zguest/zguest/internal/zvm/spool"
)

const evil = "EVIL01"

// sendFrom sends a class X file to the guest as another z/VM user does:
// punched on its own virtual punch and closed TO the guest, so that the
// file's ORIGINID is that user.
func sendFrom(t *testing.T, env *zkerneltest.Env, user string, data []byte, name, typ string) int {
	t.Helper()
	if !env.Spool.HasUser(user) {
		if err := env.Spool.AddUser(user, spool.LoggedOn); err != nil {
			t.Fatal(err)
		}
	}
	if err := env.Spool.UpdatePunch(user, func(d *spool.PunchDev) error { d.Class = 'X'; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := env.Spool.PunchWrite(user, spool.Cards(data)); err != nil {
		t.Fatal(err)
	}
	c, err := env.Spool.ClosePunch(user, spool.PunchClose{To: guest, SetName: true, Name: name, Type: typ})
	if err != nil || !c.Sent {
		t.Fatalf("close punch of %s to %s: %+v %v", user, guest, c, err)
	}
	return c.File.ID
}

func writeSenders(t *testing.T, env *zkerneltest.Env, body string) {
	t.Helper()
	writeRootFile(t, env, "etc/zguest/authorized-senders", body)
}

func writeRootFile(t *testing.T, env *zkerneltest.Env, rel, body string) {
	t.Helper()
	p := filepath.Join(env.Root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func exists(t *testing.T, p string) bool {
	t.Helper()
	_, err := os.Lstat(p)
	return err == nil
}

// evilDrive is an attacker's config drive: another uuid, its SSH key and
// a runcmd that cloud-init would run as root on a "first boot".
func evilDrive(t *testing.T, uuid string) []byte {
	f := driveFiles(uuid, "owned", 0)
	f["openstack/latest/user_data"] = "#cloud-config\nssh_authorized_keys: [\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEvilEvilEvil evil@evil01\"]\nruncmd: [\"touch /owned\"]\n"
	return makeISO(t, f)
}

// refusedOnce checks that id was refused, purged and logged at WARN once.
func refusedOnce(t *testing.T, r run, id int, why string) {
	t.Helper()
	f := fileOutcome(t, r, id)
	if f.Outcome != state.ReaderRefused || !strings.Contains(f.Reason, why) || !f.Purged {
		t.Errorf("%04d: want refused (%q) and purged, got %+v", id, why, f)
	}
	line := regexp.MustCompile(fmt.Sprintf(`(?m)^.*level=WARN msg="reader file refused" spoolid=%04d .*$`, id))
	if n := len(line.FindAllString(r.stderr, -1)); n != 1 {
		t.Errorf("%04d: %d WARN lines, want 1", id, n)
	}
}

const uuidA, uuidB = "aaaaaaaa-1111-4222-8333-444444444444", "bbbbbbbb-1111-4222-8333-444444444444"

// Attack 1: root takeover through a second cfgdrive.iso.
func TestZVMAttackSecondConfigDrive(t *testing.T) {
	env := zvmEnv(t, nil)
	send(t, env, makeISO(t, driveFiles(uuidA, "vm-a", 0)), "cfgdrive", "iso")
	r := runAgent(t, env, "activate")
	if r.code != 0 || !strings.Contains(r.stderr, `msg="guest identity pinned" uuid=`+uuidA+" sender="+env.Spool.HostID()) {
		t.Fatalf("first boot: exit %d", r.code)
	}
	pin, err := trust.Load(env.Root)
	if err != nil || pin == nil || pin.UUID != uuidA || pin.Sender != env.Spool.HostID() {
		t.Fatalf("pin %+v %v", pin, err)
	}

	// EVIL01 sends its drive: refused (not the pinned sender), purged.
	id := sendFrom(t, env, evil, evilDrive(t, uuidB), "cfgdrive", "iso")
	r = runAgent(t, env, "reader")
	if r.code != 1 {
		t.Errorf("exit %d, want 1", r.code)
	}
	refusedOnce(t, r, id, "is not "+env.Spool.HostID()+", the sender this guest pinned")
	if !strings.Contains(r.stderr, "reader: 1 files, 1 refused") {
		t.Error("the status line does not count the refused file")
	}
	// The same drive with the connector's ORIGINID (sent by the connector,
	// or transferred by a user CP keeps the origin for): another uuid,
	// refused by the pinned identity.
	id = send(t, env, evilDrive(t, uuidB), "cfgdrive", "iso")
	r = runAgent(t, env, "reader")
	refusedOnce(t, r, id, "config drive uuid "+uuidB+" is not this guest's uuid "+uuidA)
	if m := cloudInitRead(t, env.Root); m["uuid"] != uuidA {
		t.Errorf("cloud-init sees %v", m)
	}
	if len(readerFiles(t, env)) != 0 {
		t.Error("refused files left in the reader")
	}
	// A re-send with the same uuid is fine.
	id = send(t, env, makeISO(t, driveFiles(uuidA, "vm-a2", 0)), "cfgdrive", "iso")
	if r = runAgent(t, env, "reader"); r.code != 0 || fileOutcome(t, r, id).Outcome != state.ReaderApplied {
		t.Fatalf("re-send of uuid A: exit %d", r.code)
	}
	if m := cloudInitRead(t, env.Root); m["uuid"] != uuidA || m["hostname"] != "vm-a2" {
		t.Errorf("cloud-init sees %v", m)
	}

	// A reboot keeps the pin: it is on the root file system.
	env2 := zvmEnv(t, nil)
	if out, err := exec.Command("cp", "-a", filepath.Join(env.Root, "var"), env2.Root+"/").CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	id = send(t, env2, evilDrive(t, uuidB), "cfgdrive", "iso")
	r = runAgent(t, env2, "activate")
	refusedOnce(t, r, id, "is not this guest's uuid")
	if m := cloudInitRead(t, env2.Root); m["uuid"] != uuidA {
		t.Errorf("after reboot cloud-init sees %v", m)
	}

	// Re-provisioning is an operator's act.
	out, err := exec.Command(agent(t), "--root", env2.Root, "reprovision").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "removed /"+trust.Path) {
		t.Fatalf("reprovision: %v %s", err, out)
	}
	send(t, env2, makeISO(t, driveFiles(uuidB, "vm-b", 0)), "cfgdrive", "iso")
	if r = runAgent(t, env2, "reader"); r.code != 0 {
		t.Fatalf("after reprovision: exit %d", r.code)
	}
	if m := cloudInitRead(t, env2.Root); m["uuid"] != uuidB {
		t.Errorf("after reprovision cloud-init sees %v", m)
	}
}

// Attack 1, first boot: the reader holds drives that disagree.
func TestZVMFirstBootConflictingDrives(t *testing.T) {
	for _, tc := range []struct {
		name string
		from string // the second drive's sender; "" the connector
		uuid string
	}{
		{"other sender", evil, uuidA},
		{"other uuid", "", uuidB},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := zvmEnv(t, nil)
			a := send(t, env, makeISO(t, driveFiles(uuidA, "vm-a", 0)), "cfgdrive", "iso")
			var b int
			if tc.from == "" {
				b = send(t, env, evilDrive(t, tc.uuid), "cfgdrive", "iso")
			} else {
				b = sendFrom(t, env, tc.from, evilDrive(t, tc.uuid), "cfgdrive", "iso")
			}
			r := runAgent(t, env, "activate")
			if r.code != 1 {
				t.Errorf("exit %d, want 1", r.code)
			}
			for _, id := range []int{a, b} {
				refusedOnce(t, r, id, "the reader held 2 config drives that disagree")
			}
			if exists(t, filepath.Join(env.Root, cfgdrive.SeedDir)) || exists(t, filepath.Join(env.Root, trust.Path)) || exists(t, filepath.Join(env.Root, cfgdrive.ISOPath)) {
				t.Error("a drive was accepted or pinned")
			}
		})
	}
}

// Attack 5: a guest of the same cloud TRANSFERs a drive the connector
// sent it; the emulated CP keeps the ORIGINID (the case in which the
// sender check cannot help), and the pinned identity refuses it.
func TestZVMTransferredDriveOfAnotherGuest(t *testing.T) {
	env := zvmEnv(t, nil)
	send(t, env, makeISO(t, driveFiles(uuidA, "vm-a", 0)), "cfgdrive", "iso")
	if r := runAgent(t, env, "activate"); r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	if err := env.Spool.AddUser("LINUX02", spool.LoggedOn); err != nil {
		t.Fatal(err)
	}
	id, err := env.Spool.Punch("LINUX02", evilDrive(t, uuidB), "cfgdrive", "iso", 'X')
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Spool.Transfer("LINUX02", spool.QueueRDR, id, guest); err != nil {
		t.Fatal(err)
	}
	r := runAgent(t, env, "reader")
	refusedOnce(t, r, id, "is not this guest's uuid "+uuidA)
	if m := cloudInitRead(t, env.Root); m["uuid"] != uuidA {
		t.Errorf("cloud-init sees %v", m)
	}
}

// Attack 2: NIC changes on a running guest.
func TestZVMAttackNICChange(t *testing.T) {
	env := zvmEnv(t, nil, append(vnic(t, "0.0.1000"), vnic(t, "0.0.2000")...)...)
	send(t, env, makeISO(t, driveFiles(uuidA, "vm-a", 0)), "cfgdrive", "iso")
	send(t, env, nicList(`{"read": "0.0.1000", "mac": "02:00:00:ab:10:00"}`), "nics", "json")
	if r := runAgent(t, env, "activate"); r.code != 0 {
		t.Fatalf("boot: exit %d", r.code)
	}
	checkUp(t, env, map[string]string{"0.0.1000": "02:00:00:ab:10:00"})

	attack := nicList(`{"read": "0.0.1000", "mac": "02:00:00:ee:ee:01"}`, `{"read": "0.0.2000", "mac": "02:00:00:ee:ee:02", "ifname": "evil0"}`)
	id := sendFrom(t, env, evil, attack, "nics", "json")
	r := runAgent(t, env, "reader")
	refusedOnce(t, r, id, "is not "+env.Spool.HostID())
	checkUp(t, env, map[string]string{"0.0.1000": "02:00:00:ab:10:00"})
	if g, ok := env.Kernel.Group("0.0.2000"); ok {
		t.Errorf("EVIL01's NIC was grouped: %+v", g)
	}

	// With "*" in the senders file (the old behaviour) EVIL01 may add a
	// NIC, but not change the one that is up.
	writeSenders(t, env, "*\n")
	id = sendFrom(t, env, evil, attack, "nics", "json")
	r = runAgent(t, env, "reader")
	refusedOnce(t, r, id, "changes NICs that are up (0.0.1000 (enc1000): MAC 02:00:00:ab:10:00 -> 02:00:00:ee:ee:01)")
	checkUp(t, env, map[string]string{"0.0.1000": "02:00:00:ab:10:00"})
	add := sendFrom(t, env, evil, nicList(`{"read": "0.0.2000", "mac": "02:00:00:ab:20:00"}`), "nics", "json")
	if r = runAgent(t, env, "reader"); r.code != 0 || fileOutcome(t, r, add).Outcome != state.ReaderApplied {
		t.Fatalf("adding a NIC: exit %d", r.code)
	}
	checkUp(t, env, map[string]string{"0.0.1000": "02:00:00:ab:10:00", "0.0.2000": "02:00:00:ab:20:00"})

	// The pinned sender may change it, reported at WARN with before and after.
	os.Remove(filepath.Join(env.Root, "etc/zguest/authorized-senders"))
	id = send(t, env, nicList(`{"read": "0.0.1000", "mac": "02:00:00:ab:10:01"}`), "nics", "json")
	r = runAgent(t, env, "reader")
	if r.code != 0 || fileOutcome(t, r, id).Outcome != state.ReaderApplied {
		t.Fatalf("change by the connector: exit %d", r.code)
	}
	if !strings.Contains(r.stderr, `level=WARN msg="NIC list changes a NIC that is up" spoolid=`+fmt.Sprintf("%04d", id)+` origin=`+env.Spool.HostID()+` change="0.0.1000 (enc1000): MAC 02:00:00:ab:10:00 -> 02:00:00:ab:10:01"`) {
		t.Error("no WARN line with before and after")
	}
	checkUp(t, env, map[string]string{"0.0.1000": "02:00:00:ab:10:01"})
}

// Attack 3: root commands in compatibility mode.
func TestZVMAttackCompatScripts(t *testing.T) {
	script := func(marker string) []byte {
		return []byte("echo " + evil + " > \"$ZGUEST_ROOT/" + marker + "\"\n")
	}
	doscript := func(t *testing.T, marker string) []byte {
		return tarOf(t, map[string]string{"invokeScript.sh": string(script(marker))}, nil)
	}
	t.Run("not provisioned", func(t *testing.T) {
		env := zvmEnv(t, nil)
		writeRootFile(t, env, "etc/zguest/zvm-compat", "")
		x := sendFrom(t, env, evil, script("x-ran"), "x", "sh")
		d := sendFrom(t, env, evil, doscript(t, "do-ran"), "network", "doscript")
		r := runAgent(t, env, "activate")
		for _, id := range []int{x, d} {
			if f := fileOutcome(t, r, id); f.Outcome != state.ReaderLeft || !strings.Contains(f.Reason, "scripts do not run while any sender is accepted") {
				t.Errorf("%04d: %+v", id, f)
			}
		}
		if exists(t, filepath.Join(env.Root, "x-ran")) || exists(t, filepath.Join(env.Root, "do-ran")) {
			t.Fatal("EVIL01's script ran")
		}
		// The connector's drive pins the sender: EVIL01's scripts are
		// refused now, the connector's run.
		send(t, env, makeISO(t, driveFiles(uuidA, "vm-a", 0)), "cfgdrive", "iso")
		ok := send(t, env, script("ok-ran"), "iucvauth", "sh")
		r = runAgent(t, env, "reader")
		refusedOnce(t, r, x, "is not "+env.Spool.HostID())
		refusedOnce(t, r, d, "is not "+env.Spool.HostID())
		if f := fileOutcome(t, r, ok); f.Outcome != state.ReaderApplied {
			t.Errorf("connector's script: %+v", f)
		}
		if exists(t, filepath.Join(env.Root, "x-ran")) || exists(t, filepath.Join(env.Root, "do-ran")) || !exists(t, filepath.Join(env.Root, "ok-ran")) {
			t.Error("wrong scripts ran")
		}
	})
	t.Run("explicit star", func(t *testing.T) {
		env := zvmEnv(t, nil)
		writeRootFile(t, env, "etc/zguest/zvm-compat", "")
		writeSenders(t, env, "*\n")
		x := sendFrom(t, env, evil, script("x-ran"), "x", "sh")
		r := runAgent(t, env, "activate")
		if f := fileOutcome(t, r, x); f.Outcome != state.ReaderApplied || !exists(t, filepath.Join(env.Root, "x-ran")) {
			t.Errorf("with an explicit \"*\" scripts of any sender run, as zvmguestconfigure's did: %+v", f)
		}
	})
}

// Attack 4: resource exhaustion.
func TestZVMResourceBounds(t *testing.T) {
	env := zvmEnv(t, nil)
	send(t, env, makeISO(t, driveFiles(uuidA, "vm-a", 0)), "cfgdrive", "iso")
	if r := runAgent(t, env, "activate"); r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	// Oversize files of the connector itself: refused by the listing's
	// record count, never read, purged, no copies.
	big := send(t, env, bytes.Repeat([]byte("{ "), 1<<20), "nics", "json")
	huge := send(t, env, bytes.Repeat([]byte{0xee}, 40<<20), "cfgdrive", "iso")
	r := runAgent(t, env, "reader")
	refusedOnce(t, r, big, "more than the 1048576 bytes a NIC list may have; not read")
	refusedOnce(t, r, huge, "more than the 33554432 bytes a config drive may have; not read")
	// Bogus drives under the limit: each is read and fails; copies are
	// capped in number.
	for range 20 {
		send(t, env, bytes.Repeat([]byte("not an iso "), 20000), "cfgdrive", "iso")
	}
	r = runAgent(t, env, "reader")
	if r.code != 1 {
		t.Errorf("exit %d", r.code)
	}
	ents, err := os.ReadDir(filepath.Join(env.Root, "var/lib/zguest/rejected"))
	if err != nil || len(ents) > 16 || len(ents) == 0 {
		t.Errorf("%d rejected copies (%v), want 1..16", len(ents), err)
	}
	if len(readerFiles(t, env)) != 0 {
		t.Error("files left in the reader")
	}
	// Files left in the reader (not a payload zguest handles) are recorded
	// once each, however often the reader runs.
	for i := range 40 {
		send(t, env, []byte("note\n"), fmt.Sprintf("note%d", i), "txt")
	}
	for range 3 {
		r = runAgent(t, env, "reader")
	}
	left := 0
	seen := map[int]bool{}
	for _, f := range r.state.Reader.Files {
		if seen[f.SpoolID] {
			t.Fatalf("spool id %04d recorded twice", f.SpoolID)
		}
		seen[f.SpoolID] = true
		if f.Outcome == state.ReaderLeft {
			left++
		}
	}
	if left != 40 {
		t.Errorf("%d left files recorded, want 40", left)
	}
}

// Attack 5: refused files must not fill the reader.
func TestZVMRefusedFilesDoNotFillReader(t *testing.T) {
	env := zvmEnv(t, nil)
	writeSenders(t, env, env.Spool.HostID()+"\n")
	var ids []int
	for i := range 300 {
		ids = append(ids, sendFrom(t, env, evil, []byte("junk\n"), fmt.Sprintf("j%d", i), "sh"))
	}
	r := runAgent(t, env, "activate")
	if r.code != 1 || !strings.Contains(r.stderr, "300 reader files refused") {
		t.Errorf("exit %d, want 1 and the count", r.code)
	}
	for _, id := range ids {
		refusedOnce(t, r, id, "not in /etc/zguest/authorized-senders")
	}
	if n := len(readerFiles(t, env)); n != 0 {
		t.Fatalf("%d files still in the reader", n)
	}
	// The connector's next file still arrives and is used.
	id := send(t, env, makeISO(t, driveFiles(uuidA, "vm-a", 0)), "cfgdrive", "iso")
	if r = runAgent(t, env, "reader"); r.code != 0 || fileOutcome(t, r, id).Outcome != state.ReaderApplied {
		t.Fatalf("exit %d", r.code)
	}
}

// peakRSS is the agent's peak_rss_kib from its "activate finished" line.
func peakRSS(t *testing.T, r run) int {
	t.Helper()
	m := regexp.MustCompile(`peak_rss_kib=(\d+)`).FindStringSubmatch(r.stderr)
	if m == nil {
		t.Fatal("no peak_rss_kib in the agent's output")
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// Attacks 4 and 5 at the scale: 5000 files from EVIL01, 5000
// files left in the reader over 20 runs, a 200 MiB cfgdrive.iso. The
// figures are logged (go test -v); the test checks the bounds.
func TestZVMManyFilesBounded(t *testing.T) {
	env := zvmEnv(t, nil)
	send(t, env, makeISO(t, driveFiles(uuidA, "vm-a", 0)), "cfgdrive", "iso")
	if r := runAgent(t, env, "activate"); r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	for i := range 5000 {
		sendFrom(t, env, evil, []byte("junk\n"), fmt.Sprintf("j%d", i), "sh")
	}
	start := time.Now()
	r := runAgent(t, env, "reader")
	t.Logf("5000 files from %s: exit %d in %s, peak %d KiB", evil, r.code, time.Since(start), peakRSS(t, r))
	if r.code != 1 || len(readerFiles(t, env)) != 0 || len(r.state.Reader.Files) != state.MaxReaderFiles {
		t.Errorf("exit %d, %d files left in the reader, %d records", r.code, len(readerFiles(t, env)), len(r.state.Reader.Files))
	}
	for i := range 5000 {
		if _, err := env.Spool.Punch(guest, []byte("x\n"), fmt.Sprintf("n%d", i), "txt", 'A'); err != nil {
			t.Fatal(err)
		}
	}
	for run := 1; run <= 20; run++ {
		start := time.Now()
		r = runAgent(t, env, "reader")
		fi, err := os.Stat(filepath.Join(env.Root, state.Path))
		if err != nil {
			t.Fatal(err)
		}
		if run == 1 || run == 20 {
			t.Logf("5000 class A files left, run %d: %s, state file %d records, %d bytes, peak %d KiB", run, time.Since(start), len(r.state.Reader.Files), fi.Size(), peakRSS(t, r))
		}
		if len(r.state.Reader.Files) != state.MaxReaderFiles || fi.Size() > 1<<20 {
			t.Fatalf("run %d: %d records, %d bytes", run, len(r.state.Reader.Files), fi.Size())
		}
	}
	big := send(t, env, make([]byte, 200<<20), "cfgdrive", "iso")
	start = time.Now()
	r = runAgent(t, env, "reader")
	rss := peakRSS(t, r)
	t.Logf("200 MiB cfgdrive.iso: refused in %s, peak %d KiB", time.Since(start), rss)
	if f := fileOutcome(t, r, big); f.Outcome != state.ReaderRefused || !strings.Contains(f.Reason, "not read") || !f.Purged {
		t.Errorf("%+v", f)
	}
	// Its size is never in the agent's memory (the limit is 32 MiB).
	if rss > 32<<10 {
		t.Errorf("peak %d KiB to refuse a drive it did not need to read", rss)
	}
}
