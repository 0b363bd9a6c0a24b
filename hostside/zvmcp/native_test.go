package zvmcp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"
)

func TestParseSpoolID(t *testing.T) {
	id, err := ParseSpoolID("RDR FILE 0125 SENT FROM OPNCLOUD PUN WAS 0125 RECS 0012 CPY  001 A NOHOLD NOKEEP\n")
	if err != nil || id != 125 {
		t.Fatalf("%d %v", id, err)
	}
	if _, err := ParseSpoolID("HCPCSL007E Invalid userid - X\n"); err == nil {
		t.Error("no id accepted")
	}
}

func TestWriteCards(t *testing.T) {
	var w bytes.Buffer
	data := bytes.Repeat([]byte{1}, 80*CardsPerWrite+5)
	if n, err := WriteCards(context.Background(), &w, bytes.NewReader(data)); err != nil || n != int64(len(data)) {
		t.Fatal(n, err)
	}
	if w.Len() != 80*(CardsPerWrite+1) || !bytes.HasPrefix(w.Bytes(), data) || w.Bytes()[w.Len()-1] != 0 {
		t.Errorf("%d bytes", w.Len())
	}
}

// cardSink checks every write is whole cards of at most one write's
// worth and hashes them; it keeps nothing.
type cardSink struct {
	t      *testing.T
	h      io.Writer
	n      int64
	writes int
}

func (c *cardSink) Write(p []byte) (int, error) {
	if len(p)%80 != 0 || len(p) > CardsPerWrite*80 {
		c.t.Errorf("write of %d bytes: not whole cards of one write", len(p))
	}
	c.writes++
	c.n += int64(len(p))
	return c.h.Write(p)
}

// TestWriteCardsStreams: 12 MiB (and a ragged tail) are punched as they
// are read, with bounded memory, byte for byte plus the NUL padding.
func TestWriteCardsStreams(t *testing.T) {
	const size = 12<<20 + 37
	src := func() io.Reader {
		return io.LimitReader(rand.NewChaCha8([32]byte{17}), size)
	}
	want := sha256.New()
	io.Copy(want, src())
	want.Write(make([]byte, 80-size%80))

	got := sha256.New()
	sink := &cardSink{t: t, h: got}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	n, err := WriteCards(context.Background(), sink, src())
	runtime.ReadMemStats(&after)
	if err != nil || n != size {
		t.Fatalf("WriteCards = %d, %v; want %d bytes", n, err, size)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Errorf("punching %d bytes allocated %d bytes: the data is held, not streamed", size, alloc)
	}
	if sink.n != (size+79)/80*80 || sink.writes < size/(CardsPerWrite*80) {
		t.Errorf("%d bytes in %d writes", sink.n, sink.writes)
	}
	if !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Error("the cards differ from the data")
	}
}

type failingReader struct{ after int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.after <= 0 {
		return 0, errors.ErrUnsupported
	}
	k := min(len(p), f.after)
	f.after -= k
	return k, nil
}

// TestWriteCardsErrors: a read error and a cancelled context stop the
// punch with an error naming the byte reached.
func TestWriteCardsErrors(t *testing.T) {
	if _, err := WriteCards(context.Background(), io.Discard, &failingReader{after: 100000}); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("read error: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if n, err := WriteCards(ctx, io.Discard, bytes.NewReader(make([]byte, 1000))); !errors.Is(err, context.Canceled) || n != 0 {
		t.Errorf("cancelled: %d %v", n, err)
	}
	if n, err := WriteCards(context.Background(), io.Discard, bytes.NewReader(nil)); err != nil || n != 0 {
		t.Errorf("empty: %d %v", n, err)
	}
}

func FuzzParseSpoolID(f *testing.F) {
	f.Add("RDR FILE 0001 SENT FROM X")
	f.Fuzz(func(t *testing.T, s string) {
		if id, err := ParseSpoolID(s); err == nil && (id < 0 || id > 9999) {
			t.Fatal(id)
		}
	})
}
