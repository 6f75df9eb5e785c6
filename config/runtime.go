package config

import (
	"regexp"
	"sync"
)

// Compiled only when a broken config has to be scanned.
var (
	runtimeLine = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?m)^\s*runtime\s*=\s*"([^"]+)"`) })
	tableHeader = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?m)^\s*\[`) })
)

// RuntimeOnly returns the runtime list for passthrough commands. It must work
// even when the rest of the config is broken, so that state, kill and delete
// keep reaching the runtime that created the container: it decodes only the
// runtime key, and falls back to a line scan when the TOML does not parse.
// A config that others can write is not trusted, not even for this.
func RuntimeOnly(path string) Runtimes {
	data, err := readTrusted(path)
	if err != nil {
		return Runtimes{"runc"}
	}
	var c struct {
		Runtime Runtimes `toml:"runtime"`
	}
	if err := decodeTOML(data, &c, false); err == nil {
		if len(c.Runtime) > 0 {
			return c.Runtime
		}
		return Runtimes{"runc"}
	}
	// The first table header ends the top-level keys.
	top := data
	if loc := tableHeader().FindIndex(data); loc != nil {
		top = data[:loc[0]]
	}
	if m := runtimeLine().FindSubmatch(top); m != nil {
		return Runtimes{string(m[1])}
	}
	return Runtimes{"runc"}
}
