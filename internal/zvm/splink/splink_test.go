package splink

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

func cards(n int, fill func(i int) []byte) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = fill(i)
	}
	return out
}

func TestEncodeLayout(t *testing.T) {
	recs := cards(45, func(i int) []byte { return bytes.Repeat([]byte{byte(i + 1)}, 80) })
	pages, err := Encode(400, 80, recs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) != 2*PageSize {
		t.Fatalf("%d bytes, want 2 pages (44 cards fit one)", len(pages))
	}
	p1, p2 := pages[:PageSize], pages[PageSize:]
	be := binary.BigEndian
	if be.Uint32(p1) != 0 || be.Uint32(p1[DataRecsOff:]) != 44 || be.Uint32(p2[DataRecsOff:]) != 1 {
		t.Errorf("magic/data_recs: %x %d %d", p1[:4], be.Uint32(p1[12:]), be.Uint32(p2[12:]))
	}
	if be.Uint16(p1[RecLenOff:]) != 80 || be.Uint16(p2[RecLenOff:]) != 0 {
		t.Errorf("reclen p1 %d p2 %d", be.Uint16(p1[RecLenOff:]), be.Uint16(p2[RecLenOff:]))
	}
	if be.Uint16(p1[SpoolIDOff:]) != 400 || be.Uint16(p2[SpoolIDOff:]) != 400 {
		t.Error("spool id trailer")
	}
	e := p1[DataOff:]
	if e[0] != OpWrite || e[4] != FlagCCSLI || be.Uint16(e[6:]) != 80 || be.Uint16(e[10:]) != 92 || e[12] != 1 {
		t.Errorf("first entry % x", e[:13])
	}
}

func TestRoundTripKnobs(t *testing.T) {
	recs := cards(200, func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, 1+i%80) })
	for _, opt := range []Options{
		{}, {NOPEvery: 3}, {ImmediateEvery: 2}, {FixedStride: true}, {RecLenOnAllPages: true},
		{NOPEvery: 1, ImmediateEvery: 1, FixedStride: true},
	} {
		pages, err := Encode(7, 80, recs, opt)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodePages(pages, 7)
		if err != nil {
			t.Fatalf("%+v: %v", opt, err)
		}
		if len(got) != len(recs) {
			t.Fatalf("%+v: %d records", opt, len(got))
		}
		for i := range recs {
			if !bytes.Equal(got[i], recs[i]) {
				t.Fatalf("%+v: record %d differs", opt, i)
			}
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	pages, _ := Encode(5, 80, [][]byte{[]byte("a")}, Options{})
	if _, err := DecodePages(pages, 6); !errors.Is(err, ErrSpoolMismatch) {
		t.Errorf("mismatch: %v", err)
	}
	if _, err := DecodePages(pages[:100], 5); !errors.Is(err, ErrShortPage) {
		t.Errorf("short: %v", err)
	}
	dump := bytes.Clone(pages)
	dump[3] = 1
	if _, err := DecodePages(dump, 5); !errors.Is(err, ErrVMDump) {
		t.Errorf("vmdump: %v", err)
	}
	if _, err := Encode(5, 80, [][]byte{make([]byte, DataSize)}, Options{}); !errors.Is(err, ErrRecordTooLong) {
		t.Errorf("too long: %v", err)
	}
	empty, _ := Encode(5, 80, nil, Options{})
	if len(empty) != PageSize {
		t.Errorf("empty file: %d bytes", len(empty))
	}
}

func TestReceiveBinary(t *testing.T) {
	pages, _ := Encode(9, 80, [][]byte{[]byte("ab"), {0x40}}, Options{})
	got, err := ReceiveBinary(pages, 9)
	if err != nil {
		t.Fatal(err)
	}
	want := append(append([]byte("ab"), bytes.Repeat([]byte{0x40}, 78)...), bytes.Repeat([]byte{0x40}, 80)...)
	if !bytes.Equal(got, want) {
		t.Errorf("got %q", got)
	}
}

// FuzzEncode: any records of 1..80 bytes round-trip, in whole pages.
func FuzzEncode(f *testing.F) {
	f.Add([]byte("hello world"), uint8(7), uint8(0), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, size, nop, imm uint8) {
		n := int(size%80) + 1
		var recs [][]byte
		for len(data) > 0 {
			k := min(n, len(data))
			recs = append(recs, data[:k])
			data = data[k:]
		}
		pages, err := Encode(1, 80, recs, Options{NOPEvery: int(nop % 5), ImmediateEvery: int(imm % 5)})
		if err != nil {
			t.Fatal(err)
		}
		if len(pages)%PageSize != 0 {
			t.Fatal("partial page")
		}
		got, err := DecodePages(pages, 1)
		if err != nil || len(got) != len(recs) {
			t.Fatalf("%d records, %v", len(got), err)
		}
		for i := range recs {
			if !bytes.Equal(got[i], recs[i]) {
				t.Fatalf("record %d", i)
			}
		}
	})
}
