package report

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/coreos/go-systemd/v22/journal"
)

func TestWithConsole(t *testing.T) {
	var sent []string
	jh := NewJournalHandler(slog.LevelInfo)
	jh.send = func(msg string, _ journal.Priority, _ map[string]string) error {
		sent = append(sent, msg)
		return nil
	}
	var con bytes.Buffer
	log := WithConsole(slog.New(jh), &con, slog.LevelInfo)
	log.Info("0.0.0001 is not a qeth NIC; nothing to do", "device", "0.0.0001")
	log.Debug("not shown")
	log.Warn("slow", "device", "0.0.0004")
	if len(sent) != 2 {
		t.Fatalf("journal got %q", sent)
	}
	want := "zguest-agent: msg=\"0.0.0001 is not a qeth NIC; nothing to do\" device=0.0.0001\nzguest-agent: level=WARN msg=slow device=0.0.0004\n"
	if con.String() != want {
		t.Fatalf("console:\n%s\nwant:\n%s", con.String(), want)
	}
	// A text logger on stderr already reaches the console through the unit.
	var stderr bytes.Buffer
	text := Logger(&stderr, slog.LevelInfo)
	if got := WithConsole(text, &con, slog.LevelInfo); got != text {
		t.Fatal("a stderr logger was wrapped")
	}
	if strings.Contains(con.String(), "\n\n") {
		t.Fatal("empty console lines")
	}
}
