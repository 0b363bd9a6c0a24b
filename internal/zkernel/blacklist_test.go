package zkernel

import (
	"errors"
	"strings"
	"syscall"
	"testing"
)

func TestCIOIgnoreGrammar(t *testing.T) {
	tests := []struct {
		name   string
		boot   string // cio_ignore= value at boot ("" none)
		writes []string
		errno  syscall.Errno // of the last write
		want   string        // /proc/cio_ignore afterwards
	}{
		{"empty", "", nil, 0, ""},
		{"add one", "", []string{"add 0.0.f500"}, 0, "0.0.f500\n"},
		{"add range", "", []string{"add 0.0.f500-0.0.f502"}, 0, "0.0.f500-0.0.f502\n"},
		{"adjacent singles merge", "", []string{"add 0.0.f500,0.0.f501,0.0.f502"}, 0, "0.0.f500-0.0.f502\n"},
		{"old style hex", "", []string{"add f500,0xf502"}, 0, "0.0.f500\n0.0.f502\n"},
		{"uppercase", "", []string{"add 0.0.F500"}, 0, "0.0.f500\n"},
		{"two digit cssid", "", []string{"add 00.0.f500"}, 0, "0.0.f500\n"},
		{"trailing newline and blanks", "", []string{"add 0.0.f500 \n\n"}, 0, "0.0.f500\n"},
		{"free part of range", "0.0.f500-0.0.f502", []string{"free 0.0.f501"}, 0, "0.0.f500\n0.0.f502\n"},
		{"free all", "all", []string{"free all"}, 0, ""},
		{"boot all except", "all,!0.0.f500-0.1.0001", nil, 0, "0.0.0000-0.0.f4ff\n0.1.0002-0.1.ffff\n0.2.0000-0.2.ffff\n0.3.0000-0.3.ffff\n"},
		{"range across ssids", "", []string{"add 0.0.fffe-0.1.0001"}, 0, "0.0.fffe-0.0.ffff\n0.1.0000-0.1.0001\n"},
		{"bang inverts add", "0.0.f500-0.0.f502", []string{"add !0.0.f501"}, 0, "0.0.f500\n0.0.f502\n"},
		{"bang inverts free", "", []string{"free !0.0.f501"}, 0, "0.0.f501\n"},
		{"free without list", "0.0.f500", []string{"free"}, 0, "0.0.f500\n"},
		{"condev ipldev are no-ops", "", []string{"add condev,ipldev"}, 0, ""},
		{"unknown verb", "", []string{"remove 0.0.f500"}, syscall.EINVAL, ""},
		{"empty write", "", []string{""}, syscall.EINVAL, ""},
		{"verb only blanks", "", []string{"  \n"}, syscall.EINVAL, ""},
		{"partial application", "", []string{"add 0.0.f500,bogus,0.0.f502"}, syscall.EINVAL, "0.0.f500\n0.0.f502\n"},
		{"partial free", "all", []string{"free 0.0.f500,0.0.zzzz,0.0.f502"}, syscall.EINVAL,
			"0.0.0000-0.0.f4ff\n0.0.f501\n0.0.f503-0.0.ffff\n0.1.0000-0.1.ffff\n0.2.0000-0.2.ffff\n0.3.0000-0.3.ffff\n"},
		{"inverted range", "", []string{"add 0.0.f502-0.0.f500,0.0.0001"}, syscall.EINVAL, "0.0.0001\n"},
		{"bad ssid", "", []string{"add 0.4.f500"}, syscall.EINVAL, ""},
		{"bad cssid", "", []string{"add 1.0.f500"}, syscall.EINVAL, ""},
		{"short devno", "", []string{"add 0.0.f50"}, syscall.EINVAL, ""},
		{"long devno", "", []string{"add 0.0.f5000"}, syscall.EINVAL, ""},
		{"old style too big", "", []string{"add 10000"}, syscall.EINVAL, ""},
		{"empty element", "", []string{"add 0.0.f500,"}, syscall.EINVAL, "0.0.f500\n"},
		{"double space", "", []string{"add  0.0.f500"}, syscall.EINVAL, ""},
		{"open range", "", []string{"add 0.0.f500-"}, syscall.EINVAL, ""},
		{"double dash", "", []string{"add 0.0.f500-0.0.f501-0.0.f502"}, syscall.EINVAL, ""},
		{"nul ends the buffer", "", []string{"add 0.0.f500\x00,bogus"}, 0, "0.0.f500\n"},
		{"purge", "", []string{"purge"}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := ""
			if tt.boot != "" {
				cmd = "cio_ignore=" + tt.boot
			}
			k := newKernel(t, Config{Cmdline: cmd})
			var err error
			for _, w := range tt.writes {
				err = k.WriteFile("proc/cio_ignore", []byte(w))
			}
			wantErrno(t, "last write", err, tt.errno)
			if got := mustRead(t, k, "proc/cio_ignore"); got != tt.want {
				t.Errorf("cio_ignore = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCIOIgnoreOffset(t *testing.T) {
	k := newKernel(t, Config{})
	err := k.WriteFileAt("proc/cio_ignore", []byte("add 0.0.f500"), 3)
	wantErrno(t, "write at offset 3", err, syscall.EINVAL)
	if got := mustRead(t, k, "proc/cio_ignore"); got != "" {
		t.Errorf("cio_ignore = %q after a rejected write", got)
	}
}

func TestCIOIgnoreFreeRegisters(t *testing.T) {
	sink := &recordSink{}
	cfg := baseConfig(t)
	cfg.Events = sink
	k := newKernel(t, cfg)
	if _, err := k.Stat("sys/bus/ccw/devices/0.0.f500"); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("ignored device visible: %v", err)
	}
	// An invalid element does not stop the valid ones.
	err := k.WriteFile("proc/cio_ignore", []byte("free 0.0.f500,nonsense,0.0.f501-0.0.f502\n"))
	wantErrno(t, "free with a bad element", err, syscall.EINVAL)
	for _, id := range []string{"0.0.f500", "0.0.f501", "0.0.f502"} {
		st, _ := k.Device(id)
		if !st.Registered || st.Driver != "qeth" {
			t.Errorf("%s after free: %+v", id, st)
		}
		if got := mustRead(t, k, "sys/bus/ccw/devices/"+id+"/cutype"); got != "1731/01\n" {
			t.Errorf("%s cutype %q", id, got)
		}
	}
	if got := mustRead(t, k, "proc/cio_ignore"); strings.Contains(got, "0.0.f500") || strings.Contains(got, "0.0.f502") {
		t.Errorf("cio_ignore still lists f500-f502: %q", got)
	}
}

func FuzzCIOIgnoreWrite(f *testing.F) {
	for _, s := range []string{
		"free 0.0.f500-0.0.f502", "add all", "free !0.0.f500,all", "purge", "add 0x,0xffff,ffff",
		"free 0.0.f500,,", "add 00.3.ffff-0.0.0000", "add 0.0.f500-0.1.0001\n", "free \xa0",
		"add 10000f500", "add 0.0.f500-", "add -", "free !!all",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := Config{Devices: triplet(t, KindOSD, 1, "0.0.f500", func(d *Device) { d.Ignored = true })}
		k, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer k.Close()
		_ = k.WriteFile("proc/cio_ignore", data)
		out := mustRead(t, k, "proc/cio_ignore")
		// The read-back must parse again and reproduce itself.
		var bl blacklist
		for _, line := range splitLines(out) {
			if e := bl.applyList(line, true); e != 0 {
				t.Fatalf("read-back line %q does not parse", line)
			}
		}
		if bl.String() != out {
			t.Fatalf("read-back not stable: %q vs %q", bl.String(), out)
		}
	})
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}
