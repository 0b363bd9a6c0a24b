package zkernel

import (
	"syscall"
	"testing"
)

func TestKstrtoull(t *testing.T) {
	tests := []struct {
		in   string
		base int
		want uint64
		err  syscall.Errno
	}{
		{"1", 0, 1, 0},
		{"1\n", 0, 1, 0},
		{"+1", 0, 1, 0},
		{"0x1", 0, 1, 0},
		{"0X1f", 0, 31, 0},
		{"010", 0, 8, 0},
		{"0", 0, 0, 0},
		{"0x", 0, 0, syscall.EINVAL},
		{"0xg", 0, 0, syscall.EINVAL},
		{"09", 0, 0, syscall.EINVAL},
		{"", 0, 0, syscall.EINVAL},
		{"\n", 0, 0, syscall.EINVAL},
		{"1\n\n", 0, 0, syscall.EINVAL},
		{" 1", 0, 0, syscall.EINVAL},
		{"1 ", 0, 0, syscall.EINVAL},
		{"-1", 0, 0, syscall.EINVAL},
		{"18446744073709551615", 10, 1<<64 - 1, 0},
		{"18446744073709551616", 10, 0, syscall.ERANGE},
		{"10", 16, 16, 0},
		{"0x10", 16, 16, 0},
		{"0x", 16, 0, syscall.EINVAL},
		{"f", 16, 15, 0},
		{"f", 10, 0, syscall.EINVAL},
	}
	for _, tt := range tests {
		got, err := kstrtoull(tt.in, tt.base)
		if err != tt.err || (err == 0 && got != tt.want) {
			t.Errorf("kstrtoull(%q, %d) = %d, %v; want %d, %v", tt.in, tt.base, got, err, tt.want, tt.err)
		}
	}
	if _, err := kstrtouint("100000000", 16); err != syscall.ERANGE {
		t.Errorf("kstrtouint overflow: %v, want ERANGE", err)
	}
}

func TestSystemdName(t *testing.T) {
	for in, want := range map[string]string{
		"0.0.f500": "encf500",
		"0.0.0600": "enc600",
		"0.0.bdf0": "encbdf0",
		"0.1.0600": "enc1.0600",
		"0.0.0000": "enc0",
		"0.0.1000": "enc1000",
	} {
		if got := SystemdName(in); got != want {
			t.Errorf("SystemdName(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestNormalizeBusID(t *testing.T) {
	if got, err := NormalizeBusID("0.0.F500"); err != nil || got != "0.0.f500" {
		t.Errorf("NormalizeBusID(0.0.F500) = %q, %v", got, err)
	}
	for _, bad := range []string{"f500", "0.4.f500", "0.0.f50", "1.0.f500", "0.0.f5000", "0.0.g500", ""} {
		if _, err := NormalizeBusID(bad); err == nil {
			t.Errorf("NormalizeBusID(%q) succeeded", bad)
		}
	}
}
