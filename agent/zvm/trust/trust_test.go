package trust

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPinRoundTrip(t *testing.T) {
	root := t.TempDir()
	if p, err := Load(root); p != nil || err != nil {
		t.Fatalf("no pin: %+v %v", p, err)
	}
	want := Pin{UUID: "u-1", Sender: "OPNCLOUD", At: time.Unix(1700000000, 0).UTC()}
	if err := Save(root, want); err != nil {
		t.Fatal(err)
	}
	got, err := Load(root)
	if err != nil || *got != want {
		t.Fatalf("%+v %v", got, err)
	}
	if had, err := Remove(root); !had || err != nil {
		t.Fatalf("remove: %v %v", had, err)
	}
	if had, err := Remove(root); had || err != nil {
		t.Fatalf("second remove: %v %v", had, err)
	}
}

func TestPinDamaged(t *testing.T) {
	for body, want := range map[string]string{"{": "not valid JSON", `{"sender": "X"}`: "has no uuid"} {
		root := t.TempDir()
		p := filepath.Join(root, Path)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(body), 0o600)
		if _, err := Load(root); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "reprovision") {
			t.Errorf("%q: %v", body, err)
		}
	}
}
