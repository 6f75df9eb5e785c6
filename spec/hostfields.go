package spec

import (
	"encoding/json"
	"fmt"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// hostFieldNames are, per object, the keys of root and hooks the Pod
// Security checks read. Like readNames: a lone case variant is read by
// runc (Go's decoder folds case) and ignored by crun, so it is refused.
var hostFieldNames = map[string][]string{
	"":      {"root", "hooks"},
	"root":  {"path", "readonly"},
	"hooks": {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"},
	"hook":  {"path", "args", "env", "timeout"},
}

// DecodeHostFields fills c.Spec.Root and c.Spec.Hooks from the document:
// the view leaves them out, and the Pod Security checks need them (root
// and hook paths are host paths). The scan has already refused duplicate
// and case-colliding keys, so Go's decoder reads what runc reads.
func (c *Config) DecodeHostFields() error {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(c.Orig, &top); err != nil {
		return fmt.Errorf("%s: %w", c.Path, err)
	}
	if err := exactKeys(top, c.Path, "", hostFieldNames[""]); err != nil {
		return err
	}
	// Lone case variants were refused just above: the exact keys are the
	// ones runc reads.
	doc := struct{ Root, Hooks json.RawMessage }{top["root"], top["hooks"]}
	if len(doc.Root) > 0 && string(doc.Root) != "null" {
		if err := exactObject(doc.Root, c.Path, "root", hostFieldNames["root"]); err != nil {
			return err
		}
		c.Spec.Root = &specs.Root{}
		if err := json.Unmarshal(doc.Root, c.Spec.Root); err != nil {
			return fmt.Errorf("%s: root: %w", c.Path, err)
		}
	}
	if len(doc.Hooks) > 0 && string(doc.Hooks) != "null" {
		var kinds map[string]json.RawMessage
		if err := json.Unmarshal(doc.Hooks, &kinds); err != nil {
			return fmt.Errorf("%s: hooks: %w", c.Path, err)
		}
		if err := exactKeys(kinds, c.Path, "hooks", hostFieldNames["hooks"]); err != nil {
			return err
		}
		for k, list := range kinds {
			var hooks []json.RawMessage
			if err := json.Unmarshal(list, &hooks); err != nil {
				return fmt.Errorf("%s: hooks.%s: %w", c.Path, k, err)
			}
			for _, h := range hooks {
				if err := exactObject(h, c.Path, "hooks."+k, hostFieldNames["hook"]); err != nil {
					return err
				}
			}
		}
		c.Spec.Hooks = &specs.Hooks{}
		if err := json.Unmarshal(doc.Hooks, c.Spec.Hooks); err != nil {
			return fmt.Errorf("%s: hooks: %w", c.Path, err)
		}
	}
	return nil
}

func exactObject(raw json.RawMessage, path, where string, names []string) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("%s: %s: %w", path, where, err)
	}
	return exactKeys(m, path, where, names)
}

func exactKeys(m map[string]json.RawMessage, path, where string, names []string) error {
	for k := range m {
		for _, n := range names {
			if k != n && strings.EqualFold(k, n) {
				if where != "" {
					path += ": " + where
				}
				return fmt.Errorf("%s: key %q must be spelled %q", path, k, n)
			}
		}
	}
	return nil
}
