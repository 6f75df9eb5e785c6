package config

import (
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// RuntimeOnly returns the runtime list for passthrough commands. It must work
// even when the rest of the config is broken, so that state, kill and delete
// keep reaching the runtime that created the container: it decodes only the
// runtime key, and when the TOML does not parse, reads the top-level keys
// before the breakage.
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
	// Broken somewhere. go-toml's parser reads the expressions before the
	// breakage (a list over several lines included); past it, each
	// top-level line is read on its own, as the line scan this replaced
	// did. The first table header ends the top-level keys either way.
	var p unstable.Parser
	p.Reset(data)
	for p.NextExpression() {
		e := p.Expression()
		if e.Kind != unstable.KeyValue {
			return Runtimes{"runc"}
		}
		if r, ok := runtimeValue(e); ok {
			return r
		}
	}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") {
			break
		}
		if !strings.HasPrefix(line, "runtime") {
			continue
		}
		p.Reset([]byte(line))
		if p.NextExpression() && p.Expression().Kind == unstable.KeyValue {
			if r, ok := runtimeValue(p.Expression()); ok {
				return r
			}
		}
	}
	return Runtimes{"runc"}
}

// runtimeValue reads a top-level `runtime = ...` expression.
func runtimeValue(e *unstable.Node) (Runtimes, bool) {
	k := e.Key()
	if !k.Next() || string(k.Node().Data) != "runtime" || k.Next() {
		return nil, false
	}
	var r Runtimes
	if r.UnmarshalTOML(e.Value()) != nil || len(r) == 0 {
		return nil, false
	}
	return r, true
}
