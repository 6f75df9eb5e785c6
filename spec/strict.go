package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// One reading. secrun hands the spec to a runtime that parses it with
// another parser: runc with Go's encoding/json (keys match fields
// case-insensitively, Unicode folding included: "proceſs" is "process"; the
// last duplicate wins) and crun with yajl through libocispec (keys match
// exactly, a key is cut at an embedded NUL, the first duplicate wins,
// strings are C strings). A document both do not read the way secrun does is
// refused here, before the policy looks at it:
//
//   - invalid UTF-8, invalid surrogate escapes, duplicate names at any depth
//     (the jsontext decoder's own rules);
//   - control characters in any key (crun cuts "process\u0000" to "process");
//   - NUL in any string (crun would read "/etc\u0000/../tmp" as "/etc");
//   - a key that is not a field of the runtime-spec type at its place but
//     equals one under Unicode case folding ("Capabilities", "UID").
//
// Numbers in typed fields must be plain integers in range: the typed decode
// (encoding/json v2 semantics) refuses 1e2, 1.0 and -0 for integer fields.
// What passes is then written back canonically by Encode, so the runtime
// never reads an escape, a comment or a spelling secrun did not.
func checkOneReading(data []byte, root reflect.Type) error {
	dec := jsontext.NewDecoder(bytes.NewReader(data))
	type frame struct {
		obj  bool
		typ  reflect.Type // schema of members (object) or elements (array); nil: unknown
		name bool         // object: the next token is a member name
	}
	var stack []frame
	next := root // schema of the value about to be read
	fields := map[reflect.Type]map[string]reflect.Type{}
	done := func() {
		if n := len(stack); n > 0 {
			if stack[n-1].obj {
				stack[n-1].name = true
			} else {
				next = stack[n-1].typ
			}
		}
	}
	for {
		tok, err := dec.ReadToken()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return describe(data, err)
		}
		if n := len(stack); n > 0 && stack[n-1].obj && stack[n-1].name && tok.Kind() == '"' {
			t, err := memberType(stack[n-1].typ, tok.String(), fields)
			if err != nil {
				return fmt.Errorf("key %q in the object at %s: %w", tok.String(), pointer(dec), err)
			}
			stack[n-1].name = false
			next = t
			continue
		}
		switch tok.Kind() {
		case '{':
			stack = append(stack, frame{obj: true, typ: deref(next), name: true})
		case '[':
			var elem reflect.Type
			if t := deref(next); t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
				elem = t.Elem()
			}
			stack = append(stack, frame{typ: elem})
			next = elem
		case '}', ']':
			stack = stack[:len(stack)-1]
			done()
		case '"':
			if strings.IndexByte(tok.String(), 0) >= 0 {
				return fmt.Errorf("the string at %s contains a NUL character (\\u0000); runtimes written in C end the string there and would read another value than secrun checked: remove it", dec.StackPointer())
			}
			done()
		default:
			done()
		}
	}
}

// pointer names the object being read, "/" for the top level.
func pointer(dec *jsontext.Decoder) string {
	p := string(dec.StackPointer())
	// StackPointer ends with the name just read: drop it.
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		p = p[:i]
	}
	if p == "" {
		return "/"
	}
	return p
}

// memberType returns the schema of member name of an object of type t, nil
// when secrun does not know it, and an error for a key the runtimes read
// differently.
func memberType(t reflect.Type, name string, cache map[reflect.Type]map[string]reflect.Type) (reflect.Type, error) {
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return nil, fmt.Errorf("a key with a control character (%q) is read one way by runc and another by crun (crun cuts a key at NUL): remove it", r)
		}
	}
	if t == nil {
		return nil, nil
	}
	switch t.Kind() {
	case reflect.Map:
		return t.Elem(), nil
	case reflect.Struct:
		fields := cache[t]
		if fields == nil {
			fields = jsonFields(t)
			cache[t] = fields
		}
		if ft, ok := fields[name]; ok {
			return ft, nil
		}
		for f := range fields {
			if strings.EqualFold(f, name) {
				return nil, fmt.Errorf("must be spelled %q: runc's decoder reads %q as %q, crun ignores it", f, name, f)
			}
		}
	}
	return nil, nil
}

// jsonFields maps the JSON names of a struct's fields to their types, as
// encoding/json sees them (embedded structs without a tag are flattened).
func jsonFields(t reflect.Type) map[string]reflect.Type {
	m := make(map[string]reflect.Type, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" && f.Anonymous && deref(f.Type).Kind() == reflect.Struct {
			for k, v := range jsonFields(deref(f.Type)) {
				m[k] = v
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = f.Type
	}
	return m
}

func deref(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// describe turns a decoding error into one that says where it is and what
// was expected.
func describe(data []byte, err error) error {
	var syn *jsontext.SyntacticError
	var sem *json.SemanticError
	switch {
	case errors.As(err, &syn):
		if syn.ByteOffset >= int64(len(bytes.TrimRight(data, " \t\r\n"))) {
			return fmt.Errorf("invalid JSON: truncated (unexpected end of input)")
		}
		msg := strings.TrimPrefix(syn.Error(), "jsontext: ")
		if i := strings.Index(msg, " after offset"); i >= 0 {
			msg = msg[:i]
		}
		return fmt.Errorf("invalid JSON at line %d: %s", lineOf(data, syn.ByteOffset), msg)
	case errors.As(err, &sem):
		where := string(sem.JSONPointer)
		if where == "" {
			where = "/"
		}
		what := "a value"
		if sem.GoType != nil {
			what = sem.GoType.String()
		}
		got := "value"
		if sem.JSONKind != 0 {
			got = sem.JSONKind.String()
		}
		msg := fmt.Sprintf("field %s (line %d): JSON %s does not decode as %s", where, lineOf(data, sem.ByteOffset), got, what)
		if sem.Err != nil {
			msg += ": " + sem.Err.Error()
		}
		return errors.New(msg)
	}
	return err
}

func lineOf(data []byte, off int64) int {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	return bytes.Count(data[:off], []byte("\n")) + 1
}
