package zkernel

import (
	"testing"
)

func TestParseGroupWrite(t *testing.T) {
	type ids = [3]uint64
	tests := []struct {
		in     string
		ok     bool
		devnos ids
	}{
		{"0.0.f500,0.0.f501,0.0.f502", true, ids{0xf500, 0xf501, 0xf502}},
		{"0.0.f500,0.0.f501,0.0.f502\n", true, ids{0xf500, 0xf501, 0xf502}},
		{"0.0.F500,0.0.F501,0.0.F502", true, ids{0xf500, 0xf501, 0xf502}},
		// A trailing comma leaves an empty remainder: accepted.
		{"0.0.f500,0.0.f501,0.0.f502,", true, ids{0xf500, 0xf501, 0xf502}},
		// Whatever follows the newline of the last token is cut off.
		{"0.0.f500,0.0.f501,0.0.f502\ngarbage", true, ids{0xf500, 0xf501, 0xf502}},
		// sscanf ignores what follows the devno and skips leading blanks.
		{"0.0.f5001,0.0.f501,0.0.f502", true, ids{0xf500, 0xf501, 0xf502}},
		{" 0.0.f500,0.0.f501,0.0.f502", true, ids{0xf500, 0xf501, 0xf502}},
		{"0.0.f5,0.0.f501,0.0.f502", true, ids{0xf5, 0xf501, 0xf502}},
		{"0.0.f500,0.0.f501,0.0.f502,0.0.f503", false, ids{}},
		{"0.0.f500,0.0.f501", false, ids{}},
		{"0.0.f500,0.0.f501,", false, ids{}},
		{"f500,f501,f502", false, ids{}},
		{"0.0.f500 0.0.f501 0.0.f502", false, ids{}},
		{"0.0.f500;0.0.f501;0.0.f502", false, ids{}},
		{"0.0.0xf500,0.0.f501,0.0.f502", false, ids{}},
		{"", false, ids{}},
		{"\n", false, ids{}},
		{",,", false, ids{}},
	}
	for _, tt := range tests {
		got, ok := parseGroupWrite(tt.in)
		if ok != tt.ok {
			t.Errorf("parseGroupWrite(%q) ok = %v, want %v", tt.in, ok, tt.ok)
			continue
		}
		if ok {
			for i := range got {
				if got[i].devno != tt.devnos[i] || got[i].ssid != 0 {
					t.Errorf("parseGroupWrite(%q)[%d] = %x.%x, want 0.%x", tt.in, i, got[i].ssid, got[i].devno, tt.devnos[i])
				}
			}
		}
	}
}

func FuzzParseGroupWrite(f *testing.F) {
	for _, s := range []string{
		"0.0.f500,0.0.f501,0.0.f502\n", "0.0.f500,0.0.f501", ",,,", "0x.0x.0x,1,2",
		"ff.f.ffff,0.0.0,0.0.0\x00", " \t0. 0. f500,a,b", "0.0.f500,0.0.f501,0.0.f502,\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ids, ok := parseGroupWrite(cString(data))
		if ok {
			for _, id := range ids {
				if id.devno > maxDevno || id.ssid > 0xf {
					t.Fatalf("out of range id %x.%x from %q", id.ssid, id.devno, data)
				}
			}
		}
		// The full write path must not panic either.
		k, err := New(Config{Devices: append(triplet(t, KindOSD, 1, "0.0.f500", nil), triplet(t, KindIQD, 2, "0.0.f503", nil)...)})
		if err != nil {
			t.Fatal(err)
		}
		defer k.Close()
		_ = k.WriteFile(groupFile, data)
	})
}
