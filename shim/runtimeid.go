package shim

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"time"
)

// Which runtime is at a path, and so by which rules it reads its command
// line, is what its `--version` says ("runc version 1.1.5", "crun version
// 1.8.1"); the binary's name proves nothing (runc may be a link to crun).
// The answer is kept in runtimeFacts per binary, keyed by what changes when
// the file is replaced (inode, size, mtime, ctime), so a create costs one
// stat and one small read; the runtime runs once per new binary.

// dialectsFor returns the rules the runtime at path reads argv by: one
// dialect when secrun knows the runtime and version, all of them otherwise
// (then a line is accepted only if all read it alike).
func (f runtimeFacts) dialectsFor(path string) []dialect {
	kind, major, minor := parseVersionLine(f.version(path))
	v := major*1000 + minor
	switch {
	case kind == "runc" && v >= 1000 && v <= 1001:
		return []dialect{runc11}
	case kind == "runc" && v >= 1002 && v <= 1005:
		return []dialect{runc12}
	case kind == "crun" && v >= 1000 && v <= 1021:
		return []dialect{crunBefore}
	case kind == "crun" && v >= 1022 && v <= 1029:
		return []dialect{crunAfter}
	}
	return allDialects
}

var allDialects = []dialect{runc11, runc12, crunBefore, crunAfter}

// parseVersionLine reads "runc version 1.1.5…" or "crun version 1.8.1…":
// the runtime and its major and minor version, or "" when line is neither.
// (strings and strconv, not regexp: the wrapper starts on every container
// operation, and compiling a regexp at start-up cost 50 µs.)
func parseVersionLine(line string) (kind string, major, minor int) {
	kind, rest, ok := strings.Cut(line, " version ")
	if !ok || (kind != "runc" && kind != "crun") {
		return "", 0, 0
	}
	majS, rest, ok := strings.Cut(rest, ".")
	minS := rest[:len(rest)-len(strings.TrimLeft(rest, "0123456789"))]
	maj, err1 := strconv.Atoi(majS)
	min, err2 := strconv.Atoi(minS)
	if !ok || err1 != nil || err2 != nil || majS[0] == '+' || majS[0] == '-' {
		return "", 0, 0
	}
	return kind, maj, min
}

// version is the first line of the runtime's `--version`.
func (f runtimeFacts) version(path string) string {
	return f.fact(path, "version", func(v string) bool { return v != "" }, func() string { return probeVersion(path) })
}

// probeVersion returns the first line of `path --version`.
func probeVersion(path string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := runtimeCommand(ctx, path, Globals{}, "--version").Output()
	if err != nil {
		return ""
	}
	line, _, _ := bytes.Cut(out, []byte("\n"))
	return string(line)
}
