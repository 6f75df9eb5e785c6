package integration

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// tapRun is one run of a runtime-tools validation program: its TAP
// assertions (top level only; nested TAP sits in indented YAML
// diagnostics) and how it exited.
type tapRun struct {
	Exit           int
	Stdout, Stderr string
	Asserts        []tapAssert
}

type tapAssert struct {
	Desc    string // normalized: no number, no temp-name digits, no UUIDs
	Outcome string // "pass", "fail" or "skip" (also TODO)
	Diag    string // the YAML block after it
}

// exitAssertion is the pseudo-assertion "the program exited 0": the _fail
// programs and crashes report through their exit status alone.
const exitAssertion = "(program exited 0)"

var (
	tapLine = regexp.MustCompile(`^(not ok|ok)\b(?:\s+\d+)?(?:\s*-)?\s*(.*)$`)
	// Temp names (/target348456609), PIDs and UUIDs differ from run to run.
	tapUUID   = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	tapDigits = regexp.MustCompile(`[0-9]{5,}`)
)

// parseTAP reads the top-level assertions of a TAP stream. Their numbers
// are dropped: validation programs walk Go maps (the default /dev
// symlinks), so the same assertion gets another number in another run.
func parseTAP(out string) []tapAssert {
	var as []tapAssert
	inDiag := false
	for _, line := range strings.Split(out, "\n") {
		if inDiag {
			if strings.TrimSpace(line) == "..." {
				inDiag = false
			} else if len(as) > 0 {
				as[len(as)-1].Diag += line + "\n"
			}
			continue
		}
		if strings.TrimSpace(line) == "---" && strings.HasPrefix(line, " ") {
			inDiag = true
			continue
		}
		m := tapLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		a := tapAssert{Outcome: "pass"}
		if m[1] == "not ok" {
			a.Outcome = "fail"
		}
		desc := m[2]
		if d, dir, ok := strings.Cut(desc, "# "); ok {
			if u := strings.ToUpper(dir); strings.HasPrefix(u, "SKIP") || strings.HasPrefix(u, "TODO") {
				a.Outcome, desc = "skip", strings.TrimSpace(strings.TrimSpace(d)+" # "+dir)
			}
		}
		desc = tapUUID.ReplaceAllString(desc, "<uuid>")
		a.Desc = tapDigits.ReplaceAllString(desc, "<n>")
		as = append(as, a)
	}
	return as
}

// passed is the multiset of passing assertions, the exit status included.
func (r *tapRun) passed() map[string]int {
	m := map[string]int{}
	for _, a := range r.Asserts {
		if a.Outcome == "pass" {
			m[a.Desc]++
		}
	}
	if r.Exit == 0 {
		m[exitAssertion]++
	}
	return m
}

func (r *tapRun) count(outcome string) int {
	n := 0
	for _, a := range r.Asserts {
		if a.Outcome == outcome {
			n++
		}
	}
	return n
}

// tapDiff lists the assertions that pass in one run and not (as often) in
// the other.
type tapDiff struct{ OnlyPlain, OnlySecrun []string }

func (d tapDiff) empty() bool { return len(d.OnlyPlain) == 0 && len(d.OnlySecrun) == 0 }

func diffPassed(plain, sec *tapRun) tapDiff { return diffCounts(plain.passed(), sec.passed()) }

func diffCounts(p, s map[string]int) tapDiff {
	var d tapDiff
	for _, k := range slices.Sorted(maps.Keys(p)) {
		for range p[k] - s[k] {
			d.OnlyPlain = append(d.OnlyPlain, k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(s)) {
		for range s[k] - p[k] {
			d.OnlySecrun = append(d.OnlySecrun, k)
		}
	}
	return d
}

// mergePassed adds a run's passes to everPassed: each assertion as many
// times as it passed in the run where it passed most.
func mergePassed(everPassed map[string]int, r *tapRun) {
	for k, n := range r.passed() {
		everPassed[k] = max(everPassed[k], n)
	}
}

// failure is the diagnostic of the first failing assertion named desc.
func (r *tapRun) failure(desc string) string {
	for _, a := range r.Asserts {
		if a.Desc == desc && a.Outcome == "fail" {
			return a.Diag
		}
	}
	return ""
}

func (r *tapRun) summary() string {
	return fmt.Sprintf("exit %d, %d passed, %d failed, %d skipped", r.Exit, r.count("pass"), r.count("fail"), r.count("skip"))
}

func TestParseTAP(t *testing.T) {
	out := `TAP version 13
ok 1 - has expected hostname
  ---
  {
    "actual": "x"
  }
  ...
not ok 2 - shared root propagation exposes "/target348456609/mount892511628"
  ---
  not ok 7 - nested, ignored
  ...
ok 3 # SKIP linux.maskedPaths not set
ok 4 - id 1bc3c677-baef-47fa-90ee-d0abacefc0a9 works
1..4
`
	got := parseTAP(out)
	want := []tapAssert{
		{Desc: "has expected hostname", Outcome: "pass", Diag: "  {\n    \"actual\": \"x\"\n  }\n"},
		{Desc: `shared root propagation exposes "/target<n>/mount<n>"`, Outcome: "fail", Diag: "  not ok 7 - nested, ignored\n"},
		{Desc: "# SKIP linux.maskedPaths not set", Outcome: "skip"},
		{Desc: "id <uuid> works", Outcome: "pass"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("parseTAP:\n got %q\nwant %q", got, want)
	}
	plain := &tapRun{Exit: 0, Asserts: got}
	sec := &tapRun{Exit: 1, Asserts: got[:3]}
	d := diffPassed(plain, sec)
	if !slices.Equal(d.OnlyPlain, []string{exitAssertion, "id <uuid> works"}) || len(d.OnlySecrun) != 0 {
		t.Fatalf("diffPassed: %+v", d)
	}
}
