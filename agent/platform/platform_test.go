package platform

import (
	"testing"
)

func TestParseSysinfo(t *testing.T) {
	for _, c := range []struct {
		text string
		want Platform
		name string
	}{
		{"Manufacturer: IBM\nLPAR Name: LP02\n", DPM, ""},
		{"LPAR Name: LP\nVM00 Name:            LINUX01\nVM00 Control Program: z/VM    7.3.0\n", ZVM, "LINUX01"},
		{"VM00 Name: guest\nVM00 Control Program: KVM/Linux\n", KVM, "guest"},
	} {
		got, err := ParseSysinfo(c.text)
		if err != nil || got.Platform != c.want || got.GuestName != c.name {
			t.Errorf("ParseSysinfo(%q) = %+v, %v; want %s %q", c.text, got, err, c.want, c.name)
		}
	}
	if _, err := ParseSysinfo("VM00 Control Program: PR/SM-ish\n"); err == nil {
		t.Error("unknown hypervisor accepted")
	}
}

func TestParse(t *testing.T) {
	if p, err := Parse("ZVM"); err != nil || p != ZVM {
		t.Errorf("Parse(ZVM) = %q, %v", p, err)
	}
	if p, err := Parse("auto"); err != nil || p != "" {
		t.Errorf("Parse(auto) = %q, %v", p, err)
	}
	if _, err := Parse("lpar2"); err == nil {
		t.Error("Parse(lpar2) accepted")
	}
}

func FuzzParseSysinfo(f *testing.F) {
	f.Add("VM00 Name: X\nVM00 Control Program: z/VM 7.3.0\n")
	f.Add("VM00 Control Program: KVM/Linux\n")
	f.Add("LPAR Name: A\n")
	f.Fuzz(func(t *testing.T, s string) {
		info, err := ParseSysinfo(s)
		if err == nil && info.Platform != ZVM && info.Platform != DPM && info.Platform != KVM {
			t.Fatalf("platform %q", info.Platform)
		}
	})
}
