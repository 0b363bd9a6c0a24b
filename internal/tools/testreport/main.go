// Command testreport reads `go test -json` output on standard input, prints
// failures in full, lists every skipped test with its reason, and ends with
// one summary line "N passed, N failed, N skipped".
//
// It exits non-zero when a test or a package failed, and also when a test
// skipped for a reason this run should have satisfied: a skip whose message
// starts with "needs root:" while running as root, or (with -strict, which
// the Makefile sets in CI) a skip whose message starts with "needs tool:".
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

type key struct{ pkg, test string }

func main() {
	strict := flag.Bool("strict", false, "fail on skips for missing tools, not only on root skips while root")
	verbose := flag.Bool("v", false, "echo every test's output, not only failures")
	flag.Parse()
	os.Exit(run(os.Stdin, os.Stdout, os.Geteuid() == 0, *strict, *verbose))
}

func run(in io.Reader, out io.Writer, isRoot, strict, verbose bool) int {
	outputs := map[key]*strings.Builder{}
	var passed, failed, skipped int
	var failures []key
	skips := map[key]string{}
	var pkgFail []string
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var ev event
		if err := json.Unmarshal(line, &ev); err != nil {
			// Build errors and other non-JSON lines are printed as they are.
			fmt.Fprintln(out, string(line))
			continue
		}
		k := key{ev.Package, ev.Test}
		switch ev.Action {
		case "output":
			b := outputs[k]
			if b == nil {
				b = &strings.Builder{}
				outputs[k] = b
			}
			b.WriteString(ev.Output)
			if verbose {
				fmt.Fprint(out, ev.Output)
			}
		case "pass":
			if ev.Test != "" {
				passed++
			}
		case "fail":
			if ev.Test != "" {
				failed++
				failures = append(failures, k)
			} else {
				pkgFail = append(pkgFail, ev.Package)
			}
		case "skip":
			if ev.Test != "" {
				skipped++
				skips[k] = skipReason(outputs[k])
			}
		}
	}
	for _, k := range failures {
		fmt.Fprintf(out, "--- FAIL: %s %s\n%s\n", k.pkg, k.test, indent(outputs[k]))
	}
	for _, p := range pkgFail {
		if b := outputs[key{p, ""}]; b != nil && !verbose {
			fmt.Fprintf(out, "--- package %s:\n%s\n", p, indent(b))
		}
	}
	bad := 0
	if len(skips) > 0 {
		fmt.Fprintf(out, "skipped tests:\n")
		keys := make([]key, 0, len(skips))
		for k := range skips {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			if keys[i].pkg != keys[j].pkg {
				return keys[i].pkg < keys[j].pkg
			}
			return keys[i].test < keys[j].test
		})
		for _, k := range keys {
			r := skips[k]
			mark := ""
			if (isRoot && strings.HasPrefix(r, "needs root:")) || (strict && (strings.HasPrefix(r, "needs tool:") || strings.HasPrefix(r, "needs root:"))) {
				mark = "  <-- not allowed in this run"
				bad++
			}
			fmt.Fprintf(out, "  %s %s: %s%s\n", k.pkg, k.test, r, mark)
		}
	}
	fmt.Fprintf(out, "%d passed, %d failed, %d skipped\n", passed, failed, skipped)
	switch {
	case failed > 0 || len(pkgFail) > 0:
		return 1
	case bad > 0:
		fmt.Fprintf(out, "%d skip(s) not allowed: this run is root or strict, so those tests must run\n", bad)
		return 1
	}
	return 0
}

// skipReason finds the t.Skip message in a test's output.
func skipReason(b *strings.Builder) string {
	if b == nil {
		return "(no reason given)"
	}
	lines := strings.Split(b.String(), "\n")
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if i := strings.Index(l, ".go:"); i >= 0 {
			if j := strings.Index(l[i:], ": "); j >= 0 {
				msg := strings.TrimSpace(l[i+j+2:])
				if msg != "" {
					return msg
				}
			}
		}
	}
	return "(no reason given)"
}

func indent(b *strings.Builder) string {
	if b == nil {
		return ""
	}
	return "    " + strings.ReplaceAll(strings.TrimRight(b.String(), "\n"), "\n", "\n    ")
}
