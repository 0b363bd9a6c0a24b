package sysprep

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the operations table in README.md from Ops()")

const (
	tableBegin = "<!-- ops table: generated from Ops() by TestREADME; go test -run TestREADME -update -->\n"
	tableEnd   = "<!-- end of ops table -->\n"
)

func opsTable() string {
	var b strings.Builder
	b.WriteString("| name | default | what it does |\n|---|---|---|\n")
	for _, o := range Ops() {
		def := "on"
		if !o.Default {
			def = "off"
		}
		b.WriteString("| `" + o.Name + "` | " + def + " | " + strings.NewReplacer("|", `\|`, "*", `\*`).Replace(o.Description) + " |\n")
	}
	return b.String()
}

// TestREADME keeps the user-facing list of operation names in README.md in
// sync with Ops().
func TestREADME(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i, j := strings.Index(s, tableBegin), strings.Index(s, tableEnd)
	if i < 0 || j < i {
		t.Fatalf("README.md has no %q ... %q markers", tableBegin, tableEnd)
	}
	want := s[:i+len(tableBegin)] + opsTable() + s[j:]
	if want == s {
		return
	}
	if *update {
		if err := os.WriteFile("README.md", []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README.md's operations table is out of date with Ops(); run go test ./builder/sysprep -run TestREADME -update")
}

// Names are user-facing in image specs: they must stay simple.
func TestNames(t *testing.T) {
	seen := map[string]bool{}
	for _, o := range Ops() {
		if seen[o.Name] || strings.Trim(o.Name, "abcdefghijklmnopqrstuvwxyz-") != "" || o.Description == "" || o.plan == nil {
			t.Errorf("bad op %+v", o)
		}
		seen[o.Name] = true
	}
}
