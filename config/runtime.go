package config

import "github.com/pelletier/go-toml/v2/unstable"

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
	// Broken somewhere: go-toml's parser reads expressions in order, so a
	// runtime key before the breakage is still found; the first table
	// header ends the top-level keys.
	var p unstable.Parser
	p.Reset(data)
	for p.NextExpression() {
		e := p.Expression()
		if e.Kind != unstable.KeyValue {
			break
		}
		k := e.Key()
		if !k.Next() || string(k.Node().Data) != "runtime" || k.Next() {
			continue
		}
		var r Runtimes
		if r.UnmarshalTOML(e.Value()) == nil && len(r) > 0 {
			return r
		}
		break
	}
	return Runtimes{"runc"}
}
