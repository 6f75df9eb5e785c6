package shim

import "testing"

func TestParseVersionLine(t *testing.T) {
	for line, want := range map[string]struct {
		kind         string
		major, minor int
	}{
		"runc version 1.1.5+ds1":   {"runc", 1, 1},
		"runc version 1.5.2":       {"runc", 1, 5},
		"crun version 1.8.1":       {"crun", 1, 8},
		"crun version 1.29":        {"crun", 1, 29},
		"runc version 1.":          {},
		"runc version +1.2.0":      {},
		"runc version v1.2.0":      {},
		"xrunc version 1.2.0":      {},
		"youki version 0.3.0":      {},
		"true (GNU coreutils) 9.1": {},
		"":                         {},
	} {
		kind, major, minor := parseVersionLine(line)
		if kind != want.kind || major != want.major || minor != want.minor {
			t.Errorf("%q: got %q %d.%d, want %q %d.%d", line, kind, major, minor, want.kind, want.major, want.minor)
		}
	}
}
