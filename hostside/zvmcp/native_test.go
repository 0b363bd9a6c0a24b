package zvmcp

import (
	"bytes"
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
	if err := WriteCards(&w, data); err != nil {
		t.Fatal(err)
	}
	if w.Len() != 80*(CardsPerWrite+1) || !bytes.HasPrefix(w.Bytes(), data) || w.Bytes()[w.Len()-1] != 0 {
		t.Errorf("%d bytes", w.Len())
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
