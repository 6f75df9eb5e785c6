// Package spec loads, modifies and atomically saves OCI runtime specs.
//
// A spec is decoded once into runtime-spec types for reading, and scanned
// once for the byte spans of its members. Encode splices the values of the
// fields a policy step owns into the original bytes: everything else (key
// order, whitespace, fields this program does not know) survives
// byte-for-byte, and a spec that is already compliant comes back unchanged,
// so Save does not rewrite it.
package spec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/secrun/secrun/profiles"
)

// exactNames refuses keys of o that are case variants of the fields secrun
// reads at this level: Go's decoder would take "Capabilities" for
// "capabilities", crun would ignore it. where (and sub, when set) locate o.
func exactNames(o *span, where, sub string, names ...string) error {
	if o == nil {
		return nil
	}
	for i := range o.members {
		k := o.members[i].name
		for _, n := range names {
			if string(k) != n && (foldEqual(k, n) || bytes.EqualFold(k, []byte(n))) {
				if sub != "" {
					where += ": " + sub
				}
				return fmt.Errorf("%s: key %q must be spelled %q", where, k, n)
			}
		}
	}
	return nil
}

// marshal encodes v as compact JSON without escaping <, > and &, which
// runtimes do not need and people reading the spec would.
func marshal(v any) ([]byte, error) {
	// What a create writes, encoded without encoding/json's cold-start
	// cost in a process that lives milliseconds (same bytes).
	switch v := v.(type) {
	case *specs.LinuxSeccomp:
		return profiles.AppendSeccompJSON(nil, v), nil
	case *specs.LinuxCapabilities:
		return profiles.AppendCapabilitiesJSON(nil, v), nil
	case string:
		return profiles.AppendJSONString(nil, v), nil
	case bool:
		return strconv.AppendBool(nil, v), nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// describeJSONError turns a decoding error into one that says where it is.
func describeJSONError(data []byte, err error) error {
	var off int64 = -1
	switch e := err.(type) {
	case *json.SyntaxError:
		off = e.Offset
	case *json.UnmarshalTypeError:
		off = e.Offset
		if e.Field != "" {
			return fmt.Errorf("field %q has the wrong type: got JSON %s, want %s (line %d)", e.Field, e.Value, e.Type, lineOf(data, off))
		}
		if first := bytes.TrimLeft(data, " \t\r\n"); len(first) > 0 && first[0] != '{' {
			return fmt.Errorf("is a JSON %s, expected an object", e.Value)
		}
	}
	if off >= 0 {
		return fmt.Errorf("invalid JSON at line %d: %v", lineOf(data, off), err)
	}
	if err.Error() == "unexpected end of JSON input" {
		return fmt.Errorf("invalid JSON: truncated (unexpected end of input)")
	}
	return err
}

func lineOf(data []byte, off int64) int {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	return bytes.Count(data[:off], []byte("\n")) + 1
}
