package spool

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

func fixedClock() time.Time { return time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC) }

func newSys(t *testing.T, opts Options) *System {
	t.Helper()
	if opts.Clock == nil {
		opts.Clock = fixedClock
	}
	s := New(opts)
	for _, u := range []string{"LINUX01", "linux02"} {
		if err := s.AddUser(u, LoggedOn); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func TestNormalizeCard(t *testing.T) {
	for _, tc := range []struct{ in, want []byte }{
		{[]byte("AB\x40\x40"), []byte("AB")},
		{[]byte("\x40\x40"), []byte("\x40")},
		{[]byte("A\x40B\x00"), []byte("A\x40B\x00")},
		{[]byte{}, []byte{}},
	} {
		if got := NormalizeCard(tc.in); !bytes.Equal(got, tc.want) {
			t.Errorf("NormalizeCard(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestAddUser(t *testing.T) {
	s := newSys(t, Options{})
	if err := s.AddUser("linux01", LoggedOff); !errors.Is(err, ErrUserExists) {
		t.Errorf("duplicate: %v", err)
	}
	if err := s.AddUser("TOOLONGID", LoggedOn); !errors.Is(err, ErrInvalidUserID) {
		t.Errorf("long id: %v", err)
	}
	if _, err := s.QueryUser("NOBODY"); !errors.Is(err, ErrNoSuchUser) {
		t.Errorf("query: %v", err)
	}
	if got := s.Users(); fmt.Sprint(got) != "[LINUX01 LINUX02 OPNCLOUD]" {
		t.Errorf("Users = %v", got)
	}
}

func TestPunchAndList(t *testing.T) {
	s := newSys(t, Options{})
	data := append(bytes.Repeat([]byte{'x'}, 80), 'y', 0x40)
	id, err := s.Punch("linux01", data, "cfgdrive", "iso", 'X')
	if err != nil {
		t.Fatal(err)
	}
	files, err := s.List("LINUX01")
	if err != nil || len(files) != 1 {
		t.Fatalf("List = %v, %v", files, err)
	}
	f := files[0]
	if f.ID != id || f.Origin != "OPNCLOUD" || f.Owner != "LINUX01" || f.Class != 'X' ||
		f.Name != "cfgdrive" || f.Type != "iso" || len(f.Records) != 2 || f.Hold != HoldNone ||
		f.DevType != "PUN" || f.RecLen != 80 || f.Copies != 1 || !f.Created.Equal(fixedClock()) {
		t.Errorf("file = %+v", f)
	}
	// The NUL padding of the last card stays; 0x40 before it too.
	if want := append([]byte{'y', 0x40}, make([]byte, 78)...); !bytes.Equal(f.Records[1], want) {
		t.Errorf("record 2 = %q", f.Records[1])
	}
	for _, tc := range []struct {
		user, name, typ string
		class           byte
		data            []byte
		want            error
	}{
		{"NOBODY", "a", "b", 'A', data, ErrNoSuchUser},
		{"LINUX01", "", "b", 'A', data, ErrInvalidName},
		{"LINUX01", "123456789", "b", 'A', data, ErrInvalidName},
		{"LINUX01", "a", "b c", 'A', data, ErrInvalidName},
		{"LINUX01", "a", "b", '*', data, ErrInvalidClass},
		{"LINUX01", "a", "b", 'A', nil, ErrEmpty},
	} {
		if _, err := s.Punch(tc.user, tc.data, tc.name, tc.typ, tc.class); !errors.Is(err, tc.want) {
			t.Errorf("Punch(%s,%q,%q,%c) = %v, want %v", tc.user, tc.name, tc.typ, tc.class, err, tc.want)
		}
	}
}

func TestQueueFull(t *testing.T) {
	s := newSys(t, Options{MaxQueue: 2})
	for range 2 {
		if _, err := s.Punch("LINUX01", []byte("a"), "a", "b", 'A'); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Punch("LINUX01", []byte("a"), "a", "b", 'A'); !errors.Is(err, ErrQueueFull) {
		t.Errorf("third punch: %v", err)
	}
	if err := s.InjectQueueFull("LINUX02", true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Punch("LINUX02", []byte("a"), "a", "b", 'A'); !errors.Is(err, ErrQueueFull) {
		t.Errorf("injected: %v", err)
	}
	files, _ := s.List("LINUX01")
	if _, err := s.Transfer("LINUX01", QueueRDR, files[0].ID, "LINUX02"); !errors.Is(err, ErrQueueFull) {
		t.Errorf("transfer: %v", err)
	}
}

func TestSpoolIDsWrapAndExhaust(t *testing.T) {
	s := newSys(t, Options{})
	s.lastID = MaxSpoolID - 1
	a, _ := s.Punch("LINUX01", []byte("a"), "a", "", 'A')
	b, _ := s.Punch("LINUX01", []byte("a"), "a", "", 'A')
	if a != MaxSpoolID || b != 1 {
		t.Errorf("ids %d %d", a, b)
	}
	for id := 1; id <= MaxSpoolID; id++ {
		s.files[id] = &file{}
	}
	if _, err := s.Punch("LINUX02", []byte("a"), "a", "", 'A'); !errors.Is(err, ErrSpoolFull) {
		t.Errorf("exhausted: %v", err)
	}
}

func TestTransferChangePurgeOrder(t *testing.T) {
	s := newSys(t, Options{})
	var ids []int
	for i := range 3 {
		id, err := s.Punch("LINUX01", []byte{byte('a' + i)}, fmt.Sprint("f", i), "sh", 'A')
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	x := byte('X')
	if _, err := s.Change("LINUX01", QueueRDR, ids[1], Change{Class: &x}); err != nil {
		t.Fatal(err)
	}
	f, err := s.Transfer("LINUX01", QueueRDR, ids[1], "linux02")
	if err != nil || f.Owner != "LINUX02" || f.Class != 'X' || f.ID != ids[1] || f.Origin != "OPNCLOUD" {
		t.Fatalf("Transfer = %+v, %v", f, err)
	}
	if _, err := s.Get("LINUX01", QueueRDR, ids[1]); !errors.Is(err, ErrNoSuchFile) {
		t.Errorf("old owner still has it: %v", err)
	}
	if err := s.Order("LINUX01", QueueRDR, ids[2]); err != nil {
		t.Fatal(err)
	}
	files, _ := s.List("LINUX01")
	if len(files) != 2 || files[0].ID != ids[2] || files[1].ID != ids[0] {
		t.Errorf("order: %+v", files)
	}
	if err := s.Order("LINUX01", QueueRDR, ids[0], 4242); !errors.Is(err, ErrNoSuchFile) {
		t.Errorf("order missing: %v", err)
	}
	if err := s.Purge("LINUX01", QueueRDR, ids[0]); err != nil {
		t.Fatal(err)
	}
	if err := s.Purge("LINUX01", QueueRDR, ids[0]); !errors.Is(err, ErrNoSuchFile) {
		t.Errorf("purge twice: %v", err)
	}
	bad := byte('*')
	if _, err := s.Change("LINUX01", QueueRDR, ids[2], Change{Class: &bad}); !errors.Is(err, ErrInvalidClass) {
		t.Errorf("change class *: %v", err)
	}
}

func TestHolds(t *testing.T) {
	s := newSys(t, Options{})
	id, _ := s.Punch("LINUX01", []byte("a"), "a", "", 'A')
	on, off := true, false
	if err := s.SetSystemHold("LINUX01", QueueRDR, id, true); err != nil {
		t.Fatal(err)
	}
	f, _ := s.Change("LINUX01", QueueRDR, id, Change{Hold: &on})
	if f.Hold.String() != "USYS" {
		t.Errorf("hold = %s", f.Hold)
	}
	f, _ = s.Change("LINUX01", QueueRDR, id, Change{Hold: &off})
	if f.Hold.String() != "SYS" {
		t.Errorf("NOHOLD released a system hold: %s", f.Hold)
	}
	if _, err := s.OpenReader("LINUX01"); !errors.Is(err, ErrHeld) {
		t.Errorf("open held: %v", err)
	}
	if got := Hold(9).String(); got != "unknown(9)" {
		t.Errorf("bad hold string %q", got)
	}
}

func TestReaderDevice(t *testing.T) {
	s := newSys(t, Options{})
	if _, err := s.OpenReader("LINUX01"); !errors.Is(err, ErrNoReaderFile) {
		t.Errorf("empty: %v", err)
	}
	a, _ := s.Punch("LINUX01", []byte("a"), "a", "", 'A')
	x, _ := s.Punch("LINUX01", []byte("x"), "x", "", 'X')
	if err := s.UpdateReader("LINUX01", func(d *ReaderDev) error { d.Class = 'X'; return nil }); err != nil {
		t.Fatal(err)
	}
	f, err := s.OpenReader("LINUX01")
	if err != nil || f.ID != x {
		t.Fatalf("class X open = %d, %v", f.ID, err)
	}
	if _, err := s.OpenReader("LINUX01"); !errors.Is(err, ErrBusy) {
		t.Errorf("second open: %v", err)
	}
	s.ReleaseReader("LINUX01")
	if act, _ := s.ActiveReader("LINUX01"); act != x {
		t.Errorf("active after release = %d", act)
	}
	// Reopen keeps the active file even though the class changed.
	_ = s.UpdateReader("LINUX01", func(d *ReaderDev) error { d.Class = '*'; return nil })
	if f, _ := s.OpenReader("LINUX01"); f.ID != x {
		t.Errorf("reopen picked %d", f.ID)
	}
	s.ReleaseReader("LINUX01")
	on := true
	if _, was, _ := s.CloseReader("LINUX01", ReaderClose{Hold: &on}); !was {
		t.Error("no active file closed")
	}
	if f, _ := s.Get("LINUX01", QueueRDR, x); f.Hold != HoldUser {
		t.Errorf("CLOSE HOLD: %s", f.Hold)
	}
	f, err = s.OpenReader("LINUX01")
	if err != nil || f.ID != a {
		t.Fatalf("open after hold = %d, %v", f.ID, err)
	}
	s.ReleaseReader("LINUX01")
	if _, _, err := s.CloseReader("LINUX01", ReaderClose{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("LINUX01", QueueRDR, a); !errors.Is(err, ErrNoSuchFile) {
		t.Errorf("CLOSE NOHOLD NOKEEP kept the file: %v", err)
	}
	if err := s.UpdateReader("LINUX01", func(d *ReaderDev) error { d.Class = '!'; return nil }); !errors.Is(err, ErrInvalidClass) {
		t.Errorf("class !: %v", err)
	}
}

func TestPunchDeviceClose(t *testing.T) {
	s := newSys(t, Options{})
	if _, err := s.ClosePunch("LINUX01", PunchClose{}); !errors.Is(err, ErrNoOpenFile) {
		t.Errorf("close nothing: %v", err)
	}
	card := bytes.Repeat([]byte{0x40}, 80)
	if err := s.PunchWrite("LINUX01", [][]byte{card, card}); err != nil {
		t.Fatal(err)
	}
	d, _ := s.PunchDevice("LINUX01")
	if d.OpenFile == 0 || d.OpenRecs != 2 {
		t.Errorf("device %+v", d)
	}
	if _, err := s.ClosePunch("LINUX01", PunchClose{To: "NOBODY"}); !errors.Is(err, ErrNoSuchUser) {
		t.Errorf("close to nobody: %v", err)
	}
	cl, err := s.ClosePunch("LINUX01", PunchClose{To: "linux02", SetName: true, Name: "Hello", Type: "sh"})
	if err != nil || !cl.Sent || cl.File.Owner != "LINUX02" || cl.File.ID != d.OpenFile || cl.File.Name != "Hello" {
		t.Fatalf("close = %+v, %v", cl, err)
	}
	if !bytes.Equal(cl.File.Records[0], []byte{0x40}) {
		t.Errorf("blank card stored as %q", cl.File.Records[0])
	}
	_ = s.PunchWrite("LINUX01", [][]byte{card})
	_ = s.InjectQueueFull("LINUX02", true)
	cl, err = s.ClosePunch("LINUX01", PunchClose{To: "LINUX02"})
	if !errors.Is(err, ErrQueueFull) || cl.File.Queue != QueuePUN || cl.File.Owner != "LINUX01" {
		t.Errorf("queue full close = %+v, %v", cl, err)
	}
	_ = s.InjectPunchFailure("LINUX01", true)
	if err := s.PunchWrite("LINUX01", [][]byte{card}); !errors.Is(err, ErrSpoolFull) {
		t.Errorf("injected failure: %v", err)
	}
	if err := s.PunchWrite("LINUX02", [][]byte{make([]byte, 81)}); !errors.Is(err, ErrInvalidRecord) {
		t.Errorf("long record: %v", err)
	}
}

func TestConcurrentPunch(t *testing.T) {
	s := newSys(t, Options{})
	var wg sync.WaitGroup
	seen := sync.Map{}
	for i := range 50 {
		wg.Go(func() {
			id, err := s.Punch("LINUX01", []byte{byte(i)}, "n", "t", 'A')
			if err != nil {
				t.Error(err)
				return
			}
			if _, dup := seen.LoadOrStore(id, true); dup {
				t.Errorf("duplicate id %d", id)
			}
			_, _ = s.List("LINUX01")
		})
	}
	wg.Wait()
	if files, _ := s.List("LINUX01"); len(files) != 50 {
		t.Errorf("%d files", len(files))
	}
}

func TestRemoveUser(t *testing.T) {
	s := newSys(t, Options{})
	if err := s.AddUser("GONE", LoggedOn); err != nil {
		t.Fatal(err)
	}
	id, err := s.Punch("GONE", []byte("x"), "a", "b", 'X')
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveUser("gone"); err != nil {
		t.Fatal(err)
	}
	if s.HasUser("GONE") {
		t.Error("still in the directory")
	}
	if _, err := s.Get(s.HostID(), QueueRDR, id); err == nil {
		t.Error("file survived")
	}
	if err := s.RemoveUser(s.HostID()); err == nil {
		t.Error("host user removed")
	}
}
