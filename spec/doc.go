// Package spec loads, modifies and atomically saves OCI runtime specs.
//
// A spec is kept as raw JSON and decoded into runtime-spec types only for
// reading: on save, only the fields a policy step owns are re-encoded into the
// raw document, so fields this program does not know survive byte-for-byte.
package spec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// object is a JSON object whose values stay raw until someone owns them.
type object map[string]json.RawMessage

func decodeObject(data []byte, what string) (object, error) {
	var o object
	if err := json.Unmarshal(data, &o); err != nil {
		return nil, fmt.Errorf("%s: %w", what, describeJSONError(data, err))
	}
	if o == nil {
		return nil, fmt.Errorf("%s: is JSON null, expected an object", what)
	}
	if err := distinctKeys(data); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return o, nil
}

// distinctKeys refuses an object with two keys that are equal when case is
// ignored. Go's decoder (runc, containerd, secrun) matches keys without case
// and merges repeats, yajl (crun) does neither: such a spec would mean one
// thing to secrun and another to the runtime.
func distinctKeys(data []byte) error {
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
				return fmt.Errorf("key %q appears twice; runtimes disagree on which one counts (remove one)", k)
			}
			return fmt.Errorf("keys %q and %q differ only in case; runtimes disagree on which one counts (keep one, spelled as the OCI spec does)", prev, k)
		}
		seen[fold] = k
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return err
		}
	}
	return nil
}

// exactNames refuses keys that are case variants of the fields secrun reads
// at this level: Go's decoder would take "Capabilities" for "capabilities",
// crun would ignore it.
func exactNames(o object, where string, names ...string) error {
	for k := range o {
		for _, n := range names {
			if k != n && strings.EqualFold(k, n) {
				return fmt.Errorf("%s: key %q must be spelled %q", where, k, n)
			}
		}
	}
	return nil
}

// set stores v under key, or deletes the key when v is the zero value of its
// JSON form (nil pointer, empty slice), mirroring omitempty.
func (o object) set(key string, v any) error {
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

// child returns the object stored under key (empty when absent).
func (o object) child(key string) (object, error) {
	raw, ok := o[key]
	if !ok || string(raw) == "null" {
		return object{}, nil
	}
	return decodeObject(raw, key)
}

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// encode writes the object with sorted keys, indented like `runc spec` output
// when the original was indented, compact (like containerd's) otherwise.
func (o object) encode(indent bool) ([]byte, error) {
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
