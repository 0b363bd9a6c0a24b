package ccw

import (
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		err      bool
	}{
		{"0.0.f500", "0.0.f500", false},
		{"0.0.F500", "0.0.f500", false},
		{"F500", "0.0.f500", false},
		{"0xf500", "0.0.f500", false},
		{"0XABCD", "0.0.abcd", false},
		{"0.1.0600", "0.1.0600", false},
		{"0.3.ffff", "0.3.ffff", false},
		{"0.4.0600", "", true},
		{"1.0.0600", "", true},
		{"0.0.600", "", true},
		{"0.0.06000", "", true},
		{"12345", "", true},
		{"g000", "", true},
		{"", "", true},
		{"0.00.0600", "", true},
		{"0..0600", "", true},
		{"0.0", "", true},
	} {
		got, err := Parse(tc.in)
		if tc.err {
			if err == nil || !errors.Is(err, ErrBadBusID) {
				t.Errorf("Parse(%q) = %v, %v; want ErrBadBusID", tc.in, got, err)
			}
			continue
		}
		if err != nil || got.String() != tc.want {
			t.Errorf("Parse(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

func TestIfName(t *testing.T) {
	for in, want := range map[string]string{
		"0.0.f500": "encf500", "0.0.0600": "enc600", "0.0.bdf0": "encbdf0",
		"0.1.0600": "enc1.0600", "0.0.0000": "enc0", "0.0.0001": "enc1",
	} {
		if got := MustParse(in).IfName(); got != want {
			t.Errorf("IfName(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestAdd(t *testing.T) {
	if got, _ := MustParse("0.0.f500").Add(2); got.String() != "0.0.f502" {
		t.Errorf("got %s", got)
	}
	if _, err := MustParse("0.0.ffff").Add(1); err == nil {
		t.Error("want overflow error")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"0.0.f500", "F500", "0x1234", "0.3.ffff", "0.0.", "..", "0.0.0.0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := Parse(s)
		if err != nil {
			return
		}
		// Round trip: the kernel form parses to the same id.
		b2, err := Parse(b.String())
		if err != nil || b2 != b {
			t.Fatalf("round trip of %q: %v -> %v, %v", s, b, b2, err)
		}
	})
}
