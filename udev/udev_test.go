// The rules must start the agent's template unit for qeth interfaces.
package udev

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// rule is one udev rule: its match keys and its assignments.
type rule struct {
	match  map[string]string // key (with operator) -> value
	assign []string
}

var keyRe = regexp.MustCompile(`^\s*([A-Z_]+(?:\{[^}]*\})?)\s*(==|!=|\+=|-=|:=|=)\s*"([^"]*)"\s*$`)

func parse(t *testing.T, name string) []rule {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var rules []rule
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		r := rule{match: map[string]string{}}
		for _, part := range strings.Split(line, ",") {
			m := keyRe.FindStringSubmatch(part)
			if m == nil {
				t.Fatalf("%s:%d: cannot parse %q", name, i+1, part)
			}
			if m[2] == "==" || m[2] == "!=" {
				r.match[m[1]+m[2]] = m[3]
			} else {
				r.assign = append(r.assign, m[1]+m[2]+m[3])
			}
		}
		rules = append(rules, r)
	}
	return rules
}

func TestQethRule(t *testing.T) {
	rules := parse(t, "81-zguest-qeth.rules")
	var found bool
	for _, r := range rules {
		for _, a := range r.assign {
			if strings.HasPrefix(a, "ENV{SYSTEMD_WANTS}") {
				found = true
				if a != "ENV{SYSTEMD_WANTS}+=zguest-setmac@%b.service" {
					t.Errorf("SYSTEMD_WANTS = %q", a)
				}
				if r.match["SUBSYSTEMS=="] != "ccwgroup" || r.match["DRIVERS=="] != "qeth" {
					t.Errorf("the unit must be started only below a qeth ccwgroup device: %v", r.match)
				}
				if !contains(r.assign, `TAG+=systemd`) {
					t.Error("SYSTEMD_WANTS needs TAG+=\"systemd\"")
				}
			}
			if strings.HasPrefix(a, "RUN") {
				t.Errorf("no RUN+= programs: udev kills long ones (%s)", a)
			}
		}
	}
	if !found {
		t.Fatal("no rule sets SYSTEMD_WANTS")
	}
	// The guards: only add events of net devices reach the rule.
	if rules[0].match["ACTION!="] != "add" || rules[1].match["SUBSYSTEM!="] != "net" {
		t.Errorf("guards: %+v %+v", rules[0], rules[1])
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func TestReaderRule(t *testing.T) {
	rules := parse(t, "82-zguest-reader.rules")
	// The event the reader raises, as the emulated kernel emits it.
	ev := map[string]string{"ACTION": "change", "SUBSYSTEM": "ccw", "KERNEL": "0.0.000c", "ENV{EVENT}": "unsol_de"}
	other := map[string]string{"ACTION": "change", "SUBSYSTEM": "ccw", "KERNEL": "0.0.000c", "ENV{EVENT}": ""}
	matches := func(r rule, ev map[string]string) bool {
		for k, v := range r.match {
			key, neg := strings.CutSuffix(k, "!=")
			if !neg {
				key = strings.TrimSuffix(k, "==")
			}
			if (ev[key] == v) == neg {
				return false
			}
		}
		return true
	}
	var wants int
	for _, r := range rules {
		for _, a := range r.assign {
			if strings.HasPrefix(a, "RUN") {
				t.Errorf("no RUN+= programs: %s", a)
			}
			if a != "ENV{SYSTEMD_WANTS}+=zguest-reader.service" {
				continue
			}
			wants++
			if !contains(r.assign, "TAG+=systemd") {
				t.Error("SYSTEMD_WANTS needs TAG+=\"systemd\"")
			}
			if !matches(r, ev) {
				t.Errorf("rule %v does not match the unsol_de event", r.match)
			}
			if matches(r, other) {
				t.Errorf("rule %v matches a change event without EVENT=unsol_de", r.match)
			}
		}
	}
	if wants != 1 {
		t.Fatalf("%d rules start zguest-reader.service, want 1", wants)
	}
}
