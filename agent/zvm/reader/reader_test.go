package reader

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/zguest/zguest/agent/zvm/vmcp"
	"github.com/zguest/zguest/internal/zvm/cp"
	"github.com/zguest/zguest/internal/zvm/splink"
	"github.com/zguest/zguest/internal/zvm/spool"
	"github.com/zguest/zguest/internal/zvm/vmdev"
)

func TestParseQueryGolden(t *testing.T) {
	b, err := os.ReadFile("../../../internal/zvm/cp/testdata/query_rdr_all.golden")
	if err != nil {
		t.Fatal(err)
	}
	es, probs, err := ParseQuery(string(b))
	if err != nil || len(probs) != 0 || len(es) != 3 {
		t.Fatalf("%+v %v %v", es, probs, err)
	}
	want := []Entry{
		{Origin: "OPNCLOUD", ID: 1, Class: 'A', DevType: "PUN", Records: 2, Hold: "NONE", Name: "cfgdrive", Type: "iso", Dist: "OPNCLOUD"},
		{Origin: "LINUX01", ID: 2, Class: 'X', DevType: "PUN", Records: 1, Hold: "USYS", Dist: "LINUX01"},
		{Origin: "OPNCLOUD", ID: 3, Class: '9', DevType: "PUN", Records: 12345, Hold: "NONE", Name: "A", Dist: "OPNCLOUD"},
	}
	for i := range want {
		if es[i] != want[i] {
			t.Errorf("line %d: %+v, want %+v", i, es[i], want[i])
		}
	}
	if es[1].FileName() != "" || es[0].FileName() != "cfgdrive.iso" || es[2].FileName() != "A" {
		t.Error("FileName")
	}
	if es, _, err := ParseQuery("NO RDR FILES\n"); err != nil || len(es) != 0 {
		t.Errorf("empty reader: %v %v", es, err)
	}
	if _, _, err := ParseQuery("HCPCQV003E Invalid option - X\n"); !errors.Is(err, ErrListing) {
		t.Errorf("error response: %v", err)
	}
}

func FuzzParseQuery(f *testing.F) {
	f.Add(Header + "\nOPNCLOUD 0001 X PUN 00000002 001 NONE 03/04 05:06:07 cfgdrive  iso      OPNCLOUD\n")
	f.Add("NO RDR FILES\n")
	f.Add(Header + "\nX 12\n")
	f.Fuzz(func(t *testing.T, s string) {
		es, _, err := ParseQuery(s)
		if err != nil {
			return
		}
		for _, e := range es {
			if e.ID < 0 || e.ID > 9999 || len(e.Name) > 8 || len(e.Type) > 8 {
				t.Fatalf("entry %+v", e)
			}
		}
	})
}

// The agent's decoder agrees with the emulator's encoder for every
// layout knob, and with the test oracle.
func TestDecodeAgainstEncoder(t *testing.T) {
	var recs [][]byte
	var want []byte
	for i := 0; i < 200; i++ {
		card := bytes.Repeat([]byte{byte(i)}, 80)
		card[79] = 0x40
		stored := spool.NormalizeCard(card)
		recs = append(recs, stored)
		want = append(want, card...)
	}
	for _, opt := range []splink.Options{{}, {NOPEvery: 3}, {ImmediateEvery: 2}, {FixedStride: true}, {RecLenOnAllPages: true}, {NOPEvery: 1, ImmediateEvery: 1, FixedStride: true}} {
		pages, err := splink.Encode(77, 80, recs, opt)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(pages, 77)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%+v: %d bytes, %v", opt, len(got), err)
		}
		oracle, err := splink.ReceiveBinary(pages, 77)
		if err == nil && !bytes.Equal(oracle, got) {
			t.Errorf("%+v: differs from the oracle", opt)
		}
		if _, err := Decode(pages, 78); !errors.Is(err, ErrFormat) {
			t.Errorf("spool id mismatch not detected: %v", err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	p, _ := splink.Encode(1, 80, [][]byte{[]byte("hello"), {0x40}}, splink.Options{NOPEvery: 2})
	f.Add(p, 1)
	f.Add(make([]byte, PageSize), 0)
	f.Fuzz(func(t *testing.T, pages []byte, id int) {
		out, err := Decode(pages, id)
		if err == nil && len(out) > len(pages)/entryHead*0x7fff {
			t.Fatalf("%d bytes out of %d", len(out), len(pages))
		}
	})
}

// fakeCP runs the CP model in process: the fake behind vmcp.Runner.
type fakeCP struct {
	c    *cp.CP
	user string
	log  []string
}

func (f *fakeCP) Run(cmd string) (vmcp.Response, error) {
	f.log = append(f.log, cmd)
	out, rc := f.c.Exec(f.user, cmd)
	return vmcp.Response{Text: string(out), RC: rc}, nil
}

type fakeDev struct{ d *vmdev.ReaderDevice }

type rc struct{ h *vmdev.ReaderHandle }

func (r rc) Read(p []byte) (int, error) {
	n, err := r.h.ReadStream(p)
	if n == 0 && err == nil {
		return 0, io.EOF
	}
	return n, err
}
func (r rc) Close() error { return r.h.Close() }

func (f fakeDev) Open() (io.ReadCloser, error) {
	h, err := f.d.Open(context.Background(), os.O_RDONLY)
	if err != nil {
		return nil, err
	}
	return rc{h}, nil
}

func session(t *testing.T, opt splink.Options) (*spool.System, *Session, *fakeCP) {
	t.Helper()
	sys := spool.New(spool.Options{})
	if err := sys.AddUser("LINUX01", spool.LoggedOn); err != nil {
		t.Fatal(err)
	}
	f := &fakeCP{c: cp.New(sys), user: "LINUX01"}
	return sys, &Session{CP: f, Dev: fakeDev{vmdev.NewReaderDevice(sys, "LINUX01", opt)}}, f
}

// Every padding 0..79: received = sent + NULs to a card boundary, as
// vmur receive in binary mode gives, and TrimPadding restores text.
func TestReceivePadding(t *testing.T) {
	sys, s, _ := session(t, splink.Options{NOPEvery: 5})
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	for pad := 0; pad < 80; pad++ {
		data := bytes.Repeat([]byte("ab \x40"), 100)
		data = append(data, []byte("end\n")...)
		data = data[:len(data)-(len(data)+pad)%80+80*((len(data)+pad)%80/80)]
		for (len(data)+pad)%80 != 0 {
			data = append([]byte("x"), data...)
		}
		id, err := sys.Punch("LINUX01", data, "pad", "sh", 'X')
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Receive(context.Background(), id)
		if err != nil {
			t.Fatalf("pad %d: %v", pad, err)
		}
		want := append(append([]byte(nil), data...), make([]byte, pad)...)
		if !bytes.Equal(got, want) {
			t.Fatalf("pad %d: got %d bytes, want %d", pad, len(got), len(want))
		}
		if !bytes.Equal(TrimPadding(got), data) {
			t.Fatalf("pad %d: TrimPadding", pad)
		}
		if fs, _ := sys.List("LINUX01"); len(fs) != 0 {
			t.Fatalf("pad %d: file not purged", pad)
		}
	}
}

func TestReceiveSequenceAndHold(t *testing.T) {
	sys, s, f := session(t, splink.Options{})
	if err := sys.UpdateReader("LINUX01", func(r *spool.ReaderDev) error { r.Class = 'A'; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	a, _ := sys.Punch("LINUX01", []byte("first\n"), "a", "txt", 'X')
	b, _ := sys.Punch("LINUX01", []byte("second\n"), "b", "txt", 'X')
	if err := sys.SetSystemHold("LINUX01", spool.QueueRDR, a, true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Receive(context.Background(), a); err == nil {
		t.Error("a file in system hold was received")
	}
	got, err := s.Receive(context.Background(), b)
	if err != nil || !bytes.HasPrefix(got, []byte("second\n")) {
		t.Fatalf("%q %v", got, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if r, _ := sys.ReaderDevice("LINUX01"); r.Class != 'A' {
		t.Errorf("reader class not restored: %c", r.Class)
	}
	t.Logf("CP commands: %q", f.log)
}

// A file over the limit is not read to its end: reading stops within one
// read (80 pages) past the limit, the file stays in the reader, held,
// and Purge removes it unread.
func TestReceiveLimitAndPurge(t *testing.T) {
	sys, s, _ := session(t, splink.Options{})
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	id, err := sys.Punch("LINUX01", bytes.Repeat([]byte{0xee}, 4<<20), "big", "iso", 'X')
	if err != nil {
		t.Fatal(err)
	}
	counter := &countingDev{Opener: s.Dev}
	s.Dev = counter
	_, err = s.ReceiveLimit(context.Background(), id, 64<<10)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	if counter.n > 64<<10+2*80*PageSize {
		t.Errorf("read %d bytes of a 4 MiB file with a 64 KiB limit", counter.n)
	}
	if fs, _ := sys.List("LINUX01"); len(fs) != 1 || fs[0].Hold == spool.HoldNone {
		t.Fatalf("the refused file should stay held: %+v", fs)
	}
	if err := s.Purge(id); err != nil {
		t.Fatal(err)
	}
	if fs, _ := sys.List("LINUX01"); len(fs) != 0 {
		t.Errorf("not purged: %+v", fs)
	}
}

type countingDev struct {
	Opener
	n int
}

func (c *countingDev) Open() (io.ReadCloser, error) {
	f, err := c.Opener.Open()
	if err != nil {
		return nil, err
	}
	return &countingReader{f, c}, nil
}

type countingReader struct {
	io.ReadCloser
	c *countingDev
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.c.n += n
	return n, err
}
