package spec

// The implementation this package had before Encode splices (a map of raw
// members re-encoded with sorted keys), kept as the reference the fuzz target
// compares against: the splice must decode to what it produced, and must
// refuse at least what it refused.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

type legacyObject map[string]json.RawMessage

func legacyDecodeObject(data []byte, what string) (legacyObject, error) {
	var o legacyObject
	if err := json.Unmarshal(data, &o); err != nil {
		return nil, fmt.Errorf("%s: %w", what, describeJSONError(data, err))
	}
	if o == nil {
		return nil, fmt.Errorf("%s: is JSON null, expected an object", what)
	}
	if err := legacyDistinctKeys(data); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return o, nil
}

func legacyDistinctKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil {
		return err
	}
	seen := map[string]string{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		k, _ := tok.(string)
		fold := strings.ToLower(k)
		if prev, ok := seen[fold]; ok {
			if prev == k {
				return fmt.Errorf("key %q appears twice", k)
			}
			return fmt.Errorf("keys %q and %q differ only in case", prev, k)
		}
		seen[fold] = k
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return err
		}
	}
	return nil
}

func legacyExactNames(o legacyObject, where string, names ...string) error {
	for k := range o {
		for _, n := range names {
			if k != n && strings.EqualFold(k, n) {
				return fmt.Errorf("%s: key %q must be spelled %q", where, k, n)
			}
		}
	}
	return nil
}

func (o legacyObject) set(key string, v any) error {
	b, err := marshal(v)
	if err != nil {
		return err
	}
	switch string(b) {
	case "null", "false", "\"\"":
		delete(o, key)
	default:
		o[key] = b
	}
	return nil
}

func (o legacyObject) child(key string) (legacyObject, error) {
	raw, ok := o[key]
	if !ok || string(raw) == "null" {
		return legacyObject{}, nil
	}
	return legacyDecodeObject(raw, key)
}

func (o legacyObject) encode(indent bool) ([]byte, error) {
	keys := make([]string, 0, len(o))
	for k := range o {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		kb, _ := marshal(k)
		buf.Write(kb)
		buf.WriteByte(':')
		buf.Write(o[k])
	}
	buf.WriteByte('}')
	var out bytes.Buffer
	var err error
	if indent {
		err = json.Indent(&out, buf.Bytes(), "", "\t")
	} else {
		err = json.Compact(&out, buf.Bytes())
	}
	if err != nil {
		return nil, err
	}
	if indent {
		out.WriteByte('\n')
	}
	return out.Bytes(), nil
}

// legacyParseConfig accepts or refuses data as the old ParseConfig did.
func legacyParseConfig(data []byte) (legacyObject, *specs.Spec, error) {
	raw, err := legacyDecodeObject(data, "config.json")
	if err != nil {
		return nil, nil, err
	}
	if err := legacyExactNames(raw, "", "process", "linux", "annotations", "ociVersion"); err != nil {
		return nil, nil, err
	}
	proc, err := raw.child("process")
	if err != nil {
		return nil, nil, err
	}
	if err := legacyExactNames(proc, "process", processOwned...); err != nil {
		return nil, nil, err
	}
	linux, err := raw.child("linux")
	if err != nil {
		return nil, nil, err
	}
	if _, err := raw.child("annotations"); err != nil {
		return nil, nil, err
	}
	if err := legacyExactNames(linux, "linux", "seccomp"); err != nil {
		return nil, nil, err
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, nil, err
	}
	if s.Process == nil {
		return nil, nil, fmt.Errorf("no process")
	}
	return raw, &s, nil
}

func legacyProcessFields(o legacyObject, p *specs.Process) error {
	if err := o.set("capabilities", p.Capabilities); err != nil {
		return err
	}
	if err := o.set("noNewPrivileges", p.NoNewPrivileges); err != nil {
		return err
	}
	return o.set("apparmorProfile", p.ApparmorProfile)
}

// legacyEncode is the old Config.Encode on raw as parsed and s as confined.
func legacyEncode(raw legacyObject, s *specs.Spec, indent bool) ([]byte, error) {
	proc, err := raw.child("process")
	if err != nil {
		return nil, err
	}
	if err := legacyProcessFields(proc, s.Process); err != nil {
		return nil, err
	}
	if err := raw.set("process", proc); err != nil {
		return nil, err
	}
	if v, ok := s.Annotations[AnnPolicy]; ok {
		ann, err := raw.child("annotations")
		if err != nil {
			return nil, err
		}
		if err := ann.set(AnnPolicy, v); err != nil {
			return nil, err
		}
		if err := raw.set("annotations", ann); err != nil {
			return nil, err
		}
	}
	if s.Linux != nil {
		linux, err := raw.child("linux")
		if err != nil {
			return nil, err
		}
		if err := linux.set("seccomp", s.Linux.Seccomp); err != nil {
			return nil, err
		}
		if len(linux) > 0 || raw["linux"] != nil {
			if err := raw.set("linux", linux); err != nil {
				return nil, err
			}
		}
	}
	return raw.encode(indent)
}

// legacyEncodeProcess is the old Process.Encode.
func legacyEncodeProcess(raw legacyObject, p *specs.Process, indent bool) ([]byte, error) {
	if err := legacyProcessFields(raw, p); err != nil {
		return nil, err
	}
	return raw.encode(indent)
}
