package zvmcp_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/zguest/zguest/hostside/zvmcp"
	"github.com/zguest/zguest/internal/testutil"
	"github.com/zguest/zguest/internal/zkernel/zkerneltest"
	"github.com/zguest/zguest/internal/zvm/spool"
)

// connector boots an emulated z/VM guest that is the cloud connector's
// own userid (the spool's host, OPNCLOUD) with its punch 0.0.000d online,
// adds LINUX01 (logged on) and LINUX02 (logged off) to the directory, and
// returns Native pointed at the guest's file tree.
func connector(t *testing.T) (*zkerneltest.Env, *zvmcp.Native) {
	t.Helper()
	testutil.RequireRoot(t, "zvmcp: Native against the emulated z/VM devices (FUSE)")
	cfg := zkerneltest.ZVMConfig("OPNCLOUD", zkerneltest.ZVMPunch())
	env := zkerneltest.Start(t, cfg)
	if env.UserID != env.Spool.HostID() {
		t.Fatalf("guest %s is not the spool's host %s", env.UserID, env.Spool.HostID())
	}
	for u, st := range map[string]spool.State{"LINUX01": spool.LoggedOn, "LINUX02": spool.LoggedOff} {
		if err := env.Spool.AddUser(u, st); err != nil {
			t.Fatal(err)
		}
	}
	setOnline(t, env, "0.0.000d", true)
	return env, &zvmcp.Native{Root: env.Root}
}

func setOnline(t *testing.T, env *zkerneltest.Env, busID string, on bool) {
	t.Helper()
	v := "0"
	if on {
		v = "1"
	}
	if err := os.WriteFile(filepath.Join(env.Root, "sys/bus/ccw/devices", busID, "online"), []byte(v), 0); err != nil {
		t.Fatalf("set %s online=%s: %v", busID, v, err)
	}
}

// received is what vmur receive would write for a reader file in binary
// mode: each stored record re-padded with 0x40 to 80 bytes.
func received(f spool.File) []byte {
	var b []byte
	for _, r := range f.Records {
		b = append(b, r...)
		b = append(b, bytes.Repeat([]byte{0x40}, spool.PunchRecLen-len(r))...)
	}
	return b
}

// assertClean checks that the connector has nothing open in its punch and
// no file in its reader or punch queue.
func assertClean(t *testing.T, env *zkerneltest.Env) {
	t.Helper()
	d, err := env.Spool.PunchDevice(env.UserID)
	if err != nil || d.OpenFile != 0 || d.OpenRecs != 0 {
		t.Errorf("punch device: %+v %v", d, err)
	}
	for _, q := range []spool.Queue{spool.QueueRDR, spool.QueuePUN} {
		fs, err := env.Spool.Files(env.UserID, q)
		if err != nil {
			t.Errorf("%s queue of %s: %v", q, env.UserID, err)
		}
		for _, f := range fs {
			t.Errorf("left in the %s queue of %s: %04d %s %s, %d records", q, env.UserID, f.ID, f.Name, f.Type, len(f.Records))
		}
	}
}

// TestNativeQueryUser: QUERY USER through /dev/vmcp for a logged-on and a
// logged-off user.
func TestNativeQueryUser(t *testing.T) {
	_, n := connector(t)
	ctx := context.Background()
	r, err := n.Exec(ctx, "QUERY USER LINUX01")
	if err != nil || r.RC != 0 || r.Text != "LINUX01  - DSC\n" {
		t.Errorf("logged on: %+v %v", r, err)
	}
	r, err = n.Exec(ctx, "QUERY USER LINUX02")
	if err != nil || r.RC != 45 || r.Text != "HCPCQU045E LINUX02 not logged on\n" {
		t.Errorf("logged off: %+v %v", r, err)
	}
}

// TestNativePunchTransfer: the deploy flow of the original connector
// through the devices: punch to its own reader, CHANGE CLASS X, TRANSFER
// to the guest.
func TestNativePunchTransfer(t *testing.T) {
	env, n := connector(t)
	ctx := context.Background()
	// 203 bytes: card 1 ends in blanks, the data ends in a blank before
	// the NUL padding of card 3.
	data := bytes.Repeat([]byte("config-drive "), 16)[:203]
	copy(data[70:80], bytes.Repeat([]byte{0x40}, 10))
	data[202] = 0x40
	id, err := n.Punch(ctx, bytes.NewReader(data), "cfgdrive", "iso")
	if err != nil {
		t.Fatal(err)
	}
	f, err := env.Spool.Get(env.UserID, spool.QueueRDR, id)
	if err != nil {
		t.Fatalf("spool id %d from CP's response is not in %s's reader: %v", id, env.UserID, err)
	}
	if f.Name != "cfgdrive" || f.Type != "iso" || f.Origin != env.UserID || f.Class != 'A' || len(f.Records) != 3 {
		t.Errorf("reader file: %+v", f)
	}
	want := append(bytes.Clone(data), make([]byte, 240-203)...)
	if got := received(f); !bytes.Equal(got, want) {
		t.Errorf("received %q\nwant %q", got, want)
	}
	assertCP := func(cmd string) {
		t.Helper()
		r, err := n.Exec(ctx, cmd)
		if err != nil || r.RC != 0 {
			t.Fatalf("%s: %+v %v", cmd, r, err)
		}
	}
	assertCP(fmt.Sprintf("CHANGE RDR %04d CLASS X", id))
	assertCP(fmt.Sprintf("TRANSFER * RDR %04d TO LINUX01 RDR", id))
	assertClean(t, env)
	got, err := env.Spool.Files("LINUX01", spool.QueueRDR)
	if err != nil || len(got) != 1 {
		t.Fatalf("LINUX01's reader: %+v %v", got, err)
	}
	if g := got[0]; g.ID != id || g.Name != "cfgdrive" || g.Type != "iso" || g.Class != 'X' || !bytes.Equal(received(g), want) {
		t.Errorf("LINUX01's reader file: %+v", g)
	}
	// A second punch reuses the device (the first opener was released).
	id2, err := n.Punch(ctx, strings.NewReader("eth0 1000\n"), "nics", "")
	if err != nil {
		t.Fatal(err)
	}
	if f, err := env.Spool.Get(env.UserID, spool.QueueRDR, id2); err != nil || id2 == id || f.Name != "nics" || f.Type != "" {
		t.Errorf("second punch %d: %+v %v", id2, f, err)
	}
}

// TestNativePunchFailures: each failure is reported and leaves nothing in
// the connector's punch or queues; the punch works again afterwards.
func TestNativePunchFailures(t *testing.T) {
	env, n := connector(t)
	ctx := context.Background()
	data := bytes.Repeat([]byte{0xF1}, 1000)
	mustExec := func(cmd string) {
		t.Helper()
		if r, err := n.Exec(ctx, cmd); err != nil || r.RC != 0 {
			t.Fatalf("%s: %+v %v", cmd, r, err)
		}
	}

	t.Run("spooled CONT", func(t *testing.T) {
		mustExec("SPOOL D CONT")
		defer mustExec("SPOOL D NOCONT")
		if _, err := n.Punch(ctx, bytes.NewReader(data), "f", "t"); err == nil || !strings.Contains(err.Error(), "CONT") {
			t.Errorf("punch: %v", err)
		}
		assertClean(t, env)
	})

	t.Run("spool full (EIO)", func(t *testing.T) {
		if err := env.Spool.InjectPunchFailure(env.UserID, true); err != nil {
			t.Fatal(err)
		}
		defer env.Spool.InjectPunchFailure(env.UserID, false)
		if _, err := n.Punch(ctx, bytes.NewReader(data), "f", "t"); !errors.Is(err, syscall.EIO) {
			t.Errorf("punch: %v", err)
		}
		assertClean(t, env)
	})

	t.Run("reader full (HCP439)", func(t *testing.T) {
		if err := env.Spool.InjectQueueFull(env.UserID, true); err != nil {
			t.Fatal(err)
		}
		defer env.Spool.InjectQueueFull(env.UserID, false)
		if _, err := n.Punch(ctx, bytes.NewReader(data), "f", "t"); err == nil || !strings.Contains(err.Error(), "HCPCSL439E") {
			t.Errorf("punch: %v", err)
		}
		assertClean(t, env)
	})

	t.Run("punch offline", func(t *testing.T) {
		setOnline(t, env, "0.0.000d", false)
		defer setOnline(t, env, "0.0.000d", true)
		if _, err := n.Punch(ctx, bytes.NewReader(data), "f", "t"); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "online") {
			t.Errorf("punch: %v", err)
		}
		assertClean(t, env)
	})

	id, err := n.Punch(ctx, bytes.NewReader(data), "f", "t")
	if err != nil {
		t.Fatal(err)
	}
	if f, err := env.Spool.Get(env.UserID, spool.QueueRDR, id); err != nil || len(f.Records) != 13 {
		t.Errorf("punch after the failures: %+v %v", f, err)
	}
}
