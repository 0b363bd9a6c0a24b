package smapi

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"
)

// be builds big-endian wire bytes by hand, field by field, as the
// layouts in zthin's vmapi*.h tables describe them.
type be []byte

func (b be) i4(v int32) be     { return binary.BigEndian.AppendUint32(b, uint32(v)) }
func (b be) i1(v byte) be      { return append(b, v) }
func (b be) str(s string) be   { return append(b.i4(int32(len(s))), s...) }
func (b be) raw(p []byte) be   { return append(b, p...) }
func (b be) sized(p []byte) be { return append(b.i4(int32(len(p))), p...) }

func TestDecodeActiveConfigDocumentedLayout(t *testing.T) {
	// Image_Active_Configuration_Query_Layout: memory size (int4), memory
	// unit (int1), share type (int1), share value (string 1-5), number of
	// CPUs (int4), CPU array (length; per entry structure length, cpu
	// number int4, cpu id string 1-16, status int1), device array (length;
	// per entry structure length, type int1, address string 4-16).
	cpu := be{}.i4(0).str("FF01917729640000").i1(1)
	cpus := be{}.sized(cpu)
	var devs be
	for _, d := range []struct {
		typ  byte
		addr string
	}{{1, "0009"}, {2, "000C"}, {5, "0100"}} {
		devs = devs.sized(be{}.i1(d.typ).str(d.addr))
	}
	data := be{}.i4(1).i1(3).i1(1).str("100").i4(1).sized(cpus).sized(devs)
	got, err := DecodeActiveConfig(data)
	if err != nil {
		t.Fatal(err)
	}
	want := ActiveConfig{Memory: 1, MemoryUnit: UnitGB, ShareType: ShareRelative, ShareValue: "100", NumCPUs: 1,
		CPUs:    []CPU{{Number: 0, ID: "FF01917729640000", Status: CPUBase}},
		Devices: []Device{{DevConsole, "0009"}, {DevReader, "000C"}, {DevDASD, "0100"}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded %+v\nwant    %+v", got, want)
	}
	if got.MemoryKB() != 1<<20 {
		t.Errorf("MemoryKB %d", got.MemoryKB())
	}
	if enc := want.Encode(); !bytes.Equal(enc, data) {
		t.Errorf("Encode differs from the documented layout:\n%x\n%x", enc, []byte(data))
	}
	bad := []struct {
		name string
		b    []byte
	}{
		{"share value of 6", be{}.i4(1).i1(3).i1(1).str("123456").i4(0).i4(0).i4(0)},
		{"device address of 3", be{}.i4(1).i1(3).i1(1).str("1").i4(0).i4(0).sized(be{}.sized(be{}.i1(5).str("100")))},
		{"cpu id of 17", be{}.i4(1).i1(3).i1(1).str("1").i4(1).sized(be{}.sized(be{}.i4(0).str(strings.Repeat("F", 17)).i1(1))).i4(0)},
		{"structure longer than its fields", be{}.i4(1).i1(3).i1(1).str("1").i4(0).i4(0).sized(be{}.sized(be{}.i1(5).str("0100").i1(0)))},
		{"array past the end", be{}.i4(1).i1(3).i1(1).str("1").i4(0).i4(99)},
		{"truncated", be{}.i4(1).i1(3)},
	}
	for _, c := range bad {
		if _, err := DecodeActiveConfig(c.b); !errors.Is(err, ErrFrame) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

func TestDecodeActivationDocumentedLayout(t *testing.T) {
	// Image_Activate_Layout: activated (int4), not activated (int4),
	// failing array (length; per entry structure length, image name 1-8,
	// return code int4, reason code int4).
	fail := be{}.str("LINUX02").i4(200).i4(4)
	data := be{}.i4(1).i4(1).sized(be{}.sized(fail))
	a, err := DecodeActivation(data)
	want := Activation{Done: 1, NotDone: 1, Failing: []Failure{{"LINUX02", 200, 4}}}
	if err != nil || !reflect.DeepEqual(a, want) {
		t.Fatalf("%+v %v", a, err)
	}
	if !bytes.Equal(want.Encode(), data) {
		t.Errorf("Encode: %x", want.Encode())
	}
	// A single image that was activated: SMAPI ends the output after rc
	// and rs (output length 12), the counts stay zero.
	if a, err := DecodeActivation(nil); err != nil || a.Done != 0 || a.Failing != nil {
		t.Errorf("%+v %v", a, err)
	}
	for _, b := range [][]byte{
		be{}.i4(1),
		be{}.i4(0).i4(1).sized(be{}.sized(be{}.str("").i4(1).i4(2))),
		be{}.i4(0).i4(1).sized(be{}.sized(be{}.str("TOOLONGNAME").i4(1).i4(2))),
		be{}.i4(0).i4(1).sized(be{}.sized(be{}.str("A").i4(1))),
	} {
		if _, err := DecodeActivation(b); !errors.Is(err, ErrFrame) {
			t.Errorf("%x: %v", b, err)
		}
	}
}

func TestDecodeNames(t *testing.T) {
	// Image_Status_Query_Layout: an array of image names, each an int4
	// length and 1-8 characters, no structure length in between.
	data := be{}.sized(be{}.str("LINUX01").str("ZGUEST"))
	got, err := DecodeNames(data, 8)
	if err != nil || !reflect.DeepEqual(got, []string{"LINUX01", "ZGUEST"}) {
		t.Fatalf("%q %v", got, err)
	}
	if !bytes.Equal(EncodeNames(got), data) {
		t.Error("EncodeNames differs")
	}
	if _, err := DecodeNames(be{}.sized(be{}.str("NINECHARS")), 8); !errors.Is(err, ErrFrame) {
		t.Errorf("%v", err)
	}
}

// card makes an 80-byte card image: text padded to column 72, then the
// sequence number.
func card(text string, seq int) string { return fmt.Sprintf("%-72s%08d", text, seq) }

func TestParseDirectory(t *testing.T) {
	long := "MDISK 0100 3390 0001 3338 POOL01 MR READPASS WRITEPAS MULTIPAS" // 63 characters
	cases := []struct {
		name string
		in   []string
		want []string
	}{
		{"DirMaint card images", []string{
			card("USER LINUX01 LBYONLY 2G 4G G", 1),
			card("INCLUDE OSDFLT", 2),
			card("  MDISK 0100 3390 0001 3338 POOL01 MR", 3),
			card("*DVHOPT LNK0 LOG1 RCM1 SMS0 NPW1 LNGAMENG PWC20180808 CRC\xf3:", 4),
		}, []string{"USER LINUX01 LBYONLY 2G 4G G", "INCLUDE OSDFLT", "MDISK 0100 3390 0001 3338 POOL01 MR"}},
		{"statement up to column 72", []string{card(long+"         X", 10)}, []string{long + "         X"}},
		{"72-column records keep their last columns", []string{
			fmt.Sprintf("%-72s", "USER GT@PONG @SM8PI@  1G 1G ABCDEFG"),
			fmt.Sprintf("%-64s%s", "IPL CMS", "COLUMN65"),
		}, []string{"USER GT@PONG @SM8PI@  1G 1G ABCDEFG", fmt.Sprintf("%-64s%s", "IPL CMS", "COLUMN65")}},
		{"blank cards dropped", []string{card("", 1), card("USER X", 2)}, []string{"USER X"}},
		{"empty", nil, nil},
	}
	for _, c := range cases {
		got, err := ParseDirectory(c.in)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %q %v, want %q", c.name, got, err, c.want)
		}
	}
	if _, err := ParseDirectory([]string{strings.Repeat("X", 81)}); !errors.Is(err, ErrFrame) {
		t.Errorf("81-byte record: %v", err)
	}
}

// TestClientReadsRealLayouts answers the client's calls with replies
// built byte by byte from the documented layouts.
func TestClientReadsRealLayouts(t *testing.T) {
	replies := map[string][]byte{}
	var cards be
	for i, s := range []string{"USER LINUX01 LBYONLY 2G 4G G", "COMMAND DEFINE CPU 00 TYPE IFL", "*DVHOPT LNK0 LOG1 RCM1 SMS0 NPW1 LNGAMENG PWC20260101 CRCAB"} {
		cards = cards.str(card(s, i+1))
	}
	replies[FnImageQueryDM] = be{}.i4(0).i4(0).sized(cards)
	replies[FnQueryAPIFunctionalLevel] = be{}.i4(0).i4(720)
	replies[FnImageStatusQuery] = be{}.i4(0).i4(0).sized(be{}.str("LINUX01"))
	replies[FnImageActivate] = be{}.i4(200).i4(28).i4(1).i4(1).sized(be{}.sized(be{}.str("LINUX02").i4(200).i4(4)))
	replies[FnImageDeactivate] = be{}.i4(0).i4(0)
	addr := serve(t, func(_ int, c net.Conn) {
		req, err := ReadRequest(c)
		if err != nil {
			return
		}
		WriteRequestID(c, 5)
		body := be{}.i4(5).raw(replies[req.Function])
		c.Write(be{}.sized(body))
	})
	cl := &Client{Addr: addr, Backoff: time.Millisecond, LockRetries: -1}
	ctx := context.Background()
	recs, err := cl.ImageQueryDM(ctx, "LINUX01")
	if err != nil || !reflect.DeepEqual(recs, []string{"USER LINUX01 LBYONLY 2G 4G G", "COMMAND DEFINE CPU 00 TYPE IFL"}) {
		t.Errorf("Image_Query_DM: %q %v", recs, err)
	}
	if lvl, err := cl.QueryAPIFunctionalLevel(ctx, "LINUX01"); err != nil || lvl != 720 || LevelName(lvl) != "z/VM V7.2" {
		t.Errorf("level %d %v", lvl, err)
	}
	if n, err := cl.ImageStatusQuery(ctx, "LINUX01"); err != nil || !reflect.DeepEqual(n, []string{"LINUX01"}) {
		t.Errorf("status %q %v", n, err)
	}
	a, err := cl.Activate(ctx, "LIST1")
	if !errors.Is(err, Code(200, 28)) || a.Done != 1 || a.NotDone != 1 || len(a.Failing) != 1 || a.Failing[0].Image != "LINUX02" {
		t.Errorf("activate list: %+v %v", a, err)
	}
	if a, err := cl.Deactivate(ctx, "LINUX01", "IMMED"); err != nil || a.Done != 0 {
		t.Errorf("deactivate: %+v %v", a, err)
	}
}

func TestLevelName(t *testing.T) {
	for lvl, want := range map[int]string{0: "z/VM V5.3", 540: "z/VM V5.4", 612: "the updated z/VM V6.1 SPE release", 631: "z/VM V6.3", 650: "z/VM V6.4", 711: "z/VM V7.1", 730: "z/VM V7.2", 100: "unknown level 100"} {
		if got := LevelName(lvl); got != want {
			t.Errorf("%d: %q, want %q", lvl, got, want)
		}
	}
}

func FuzzDecodeReplies(f *testing.F) {
	f.Add(ActiveConfig{Memory: 2, MemoryUnit: 3, ShareType: 1, ShareValue: "100", NumCPUs: 1, CPUs: []CPU{{0, "FF00", 1}}, Devices: []Device{{5, "0100"}}}.Encode())
	f.Add(Activation{Done: 1, Failing: []Failure{{"A", 200, 4}}}.Encode())
	f.Add(EncodeNames([]string{"LINUX01"}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if a, err := DecodeActiveConfig(b); err == nil {
			back, err := DecodeActiveConfig(a.Encode())
			if err != nil || !reflect.DeepEqual(back, a) {
				t.Fatalf("active config does not round-trip: %+v %v", back, err)
			}
		}
		if a, err := DecodeActivation(b); err == nil && len(b) > 0 {
			back, err := DecodeActivation(a.Encode())
			if err != nil || !reflect.DeepEqual(back, a) {
				t.Fatalf("activation does not round-trip: %+v %v", back, err)
			}
		}
		DecodeNames(b, 8)
		if recs, err := NewParamReader(b).Array(); err == nil {
			out, err := ParseDirectory(recs)
			for _, r := range out {
				if err != nil || len(r) > CardLen || r == "" || r[0] <= ' ' || r[len(r)-1] <= ' ' || strings.HasPrefix(r, DirMaintControl) {
					t.Fatalf("statement %q from %q", r, recs)
				}
			}
		}
	})
}
