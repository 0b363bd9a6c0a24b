package report

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/coreos/go-systemd/v22/journal"
)

func TestJournalHandlerFields(t *testing.T) {
	var gotMsg string
	var gotVars map[string]string
	var gotPri journal.Priority
	h := NewJournalHandler(slog.LevelInfo)
	h.send = func(m string, p journal.Priority, v map[string]string) error {
		gotMsg, gotPri, gotVars = m, p, v
		return nil
	}
	log := slog.New(h).With("busid", "0.0.f500")
	log.Error("NIC failed", "ifname", "encf500", "mac", "02:00:00:00:00:01", "error", "set MAC: address in use")
	if gotPri != journal.PriErr {
		t.Errorf("priority %v", gotPri)
	}
	for k, v := range map[string]string{"ZGUEST_BUSID": "0.0.f500", "ZGUEST_IFNAME": "encf500", "ZGUEST_MAC": "02:00:00:00:00:01", "SYSLOG_IDENTIFIER": "zguest-agent"} {
		if gotVars[k] != v {
			t.Errorf("%s = %q, want %q", k, gotVars[k], v)
		}
	}
	if !strings.HasPrefix(gotMsg, "NIC failed busid=0.0.f500 ifname=encf500") || !strings.Contains(gotMsg, `error="set MAC: address in use"`) {
		t.Errorf("message %q", gotMsg)
	}
}

func TestStatus(t *testing.T) {
	var got []string
	s := NewStatus(3)
	s.Interval = 0
	s.notify = func(m string) { got = append(got, m) }
	s.Waiting("0.0.f500", "udev")
	s.Waiting("0.0.f503", "subchannels")
	s.Done("0.0.f500")
	s.Final("3 of 3 NICs up")
	want := []string{
		"STATUS=0 of 3 NICs done; waiting for 0.0.f500 (udev)",
		"STATUS=0 of 3 NICs done; waiting for 0.0.f500 (udev), 0.0.f503 (subchannels)",
		"STATUS=1 of 3 NICs done; waiting for 0.0.f503 (subchannels)",
		"READY=1\nSTATUS=3 of 3 NICs up",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q", got)
	}
}
