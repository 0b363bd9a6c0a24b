package smapi

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

func TestRequestGoldenLayout(t *testing.T) {
	var p Params
	p.String("").String("").String("").Array([]string{"USER X"})
	req := Request{Function: "Image_Create_DM", UserID: "ADM", Password: "pw", Target: "X", Params: p.Bytes()}
	got := hex.EncodeToString(req.Encode())
	want := "0000003f" + // total length after this field: 63
		"0000000f" + hex.EncodeToString([]byte("Image_Create_DM")) +
		"00000003" + hex.EncodeToString([]byte("ADM")) +
		"00000002" + hex.EncodeToString([]byte("pw")) +
		"00000001" + "58" +
		"00000000" + "00000000" + "00000000" + // prototype, password, account
		"0000000a" + "00000006" + hex.EncodeToString([]byte("USER X"))
	if got != want {
		t.Fatalf("frame\n got %s\nwant %s", got, want)
	}
	back, err := DecodeRequest(req.Encode()[4:])
	if err != nil || back.Function != req.Function || back.Password != "pw" || back.Target != "X" || !bytes.Equal(back.Params, req.Params) {
		t.Fatalf("round trip: %+v %v", back, err)
	}
	if bytes.Contains([]byte(req.String()), []byte("pw")) {
		t.Error("String shows the password")
	}
}

func TestKeywordLayout(t *testing.T) {
	var p Params
	p.Keywords("image_device_number=1000", "mac_id=123456")
	want := append([]byte{0, 0, 0, 39}, "image_device_number=1000\x00mac_id=123456\x00"...)
	if !bytes.Equal(p.Bytes(), want) {
		t.Fatalf("%q", p.Bytes())
	}
	m, keys, err := NewParamReader(p.Bytes()).Keywords()
	if err != nil || m["mac_id"] != "123456" || len(keys) != 2 {
		t.Fatalf("%v %v %v", m, keys, err)
	}
}

func TestResponseRoundTrip(t *testing.T) {
	// pysmapi's Image_Create_DM success: len 16, rc 0, rs 0, opid -1.
	r := Response{RequestID: 7, Data: []byte{0xff, 0xff, 0xff, 0xff}}
	out := r.EncodeOutput()
	if hex.EncodeToString(out) != "00000010"+"00000007"+"00000000"+"00000000"+"ffffffff" {
		t.Fatalf("%x", out)
	}
	back, err := ReadOutput(bytes.NewReader(out))
	if err != nil || back.RequestID != 7 || !bytes.Equal(back.Data, r.Data) {
		t.Fatalf("%+v %v", back, err)
	}
	if _, err := ReadOutput(bytes.NewReader(out[:10])); err == nil {
		t.Error("short output accepted")
	}
	if _, err := DecodeOutput([]byte{1, 2}); !errors.Is(err, ErrFrame) {
		t.Errorf("%v", err)
	}
}

func TestDiskCreateRoundTrip(t *testing.T) {
	d := DiskCreate{Vdev: "0100", DevType: "3390", AllocType: "AUTOG", Area: "POOL1", Unit: UnitCylinders, Size: 3338, Mode: "MR"}
	var p Params
	p.String(d.Vdev).String(d.DevType).String(d.AllocType).String(d.Area).Byte(d.Unit).Int(d.Size).String(d.Mode).Byte(d.Format).String(d.Label).String("").String("").String("")
	back, err := DecodeDiskCreate(p.Bytes())
	if err != nil || back != d {
		t.Fatalf("%+v %v", back, err)
	}
}

func FuzzDecodeRequest(f *testing.F) {
	f.Add(Request{Function: "Image_Query_DM", Target: "X"}.Encode()[4:])
	f.Add([]byte{0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRequest(b)
		if err != nil {
			return
		}
		back, err := DecodeRequest(r.Encode()[4:])
		if err != nil || back.Function != r.Function || !bytes.Equal(back.Params, r.Params) {
			t.Fatalf("re-encode: %v", err)
		}
	})
}

func FuzzParamReader(f *testing.F) {
	var p Params
	p.Array([]string{"a", "bc"}).Keywords("k=v")
	f.Add(p.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewParamReader(b)
		r.Array()
		r.Keywords()
		r.Int()
		r.Byte()
		r.String()
		DecodeDiskCreate(b)
		DecodeOutput(b)
		ReadOutput(bytes.NewReader(b))
		ReadRequest(bytes.NewReader(b))
	})
}
