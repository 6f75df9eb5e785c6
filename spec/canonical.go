package spec

import (
	"bytes"
	"reflect"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"
)

// edit sets one member of an object: to value, or, when sub is set, to the
// object holding sub's edits (created when absent and an edit has something
// to add).
type edit struct {
	name  string
	value any
	sub   []edit
}

// adds reports whether the edit writes something into an object that lacks
// the member: a zero value (false, "") is what an absent member means.
func (e *edit) adds() bool {
	if e.sub != nil {
		for i := range e.sub {
			if e.sub[i].adds() {
				return true
			}
		}
		return false
	}
	return e.value != nil && !reflect.ValueOf(e.value).IsZero()
}

// rewrite re-encodes a document already accepted by decode, applying edits
// to its top-level object. Every member keeps its place and content; the
// encoder gives strings, whitespace and literals one canonical spelling
// (compact, minimal escapes), so the runtime reads the bytes secrun read.
func rewrite(orig []byte, edits []edit) ([]byte, error) {
	dec := jsontext.NewDecoder(bytes.NewReader(orig))
	var out bytes.Buffer
	out.Grow(len(orig) + 16<<10)
	enc := jsontext.NewEncoder(&out, jsontext.EscapeForHTML(false))
	if _, err := dec.ReadToken(); err != nil { // '{', checked by decode
		return nil, err
	}
	if err := rewriteObject(dec, enc, edits); err != nil {
		return nil, err
	}
	return bytes.TrimRight(out.Bytes(), "\n"), nil
}

// rewriteObject copies the members of the object whose '{' dec just read,
// applying edits, and the closing '}'.
func rewriteObject(dec *jsontext.Decoder, enc *jsontext.Encoder, edits []edit) error {
	if err := enc.WriteToken(jsontext.BeginObject); err != nil {
		return err
	}
	done := make([]bool, len(edits))
	for dec.PeekKind() != '}' {
		name, err := dec.ReadToken()
		if err != nil {
			return err
		}
		i := find(edits, name.String())
		if i < 0 {
			if err := enc.WriteToken(name); err != nil {
				return err
			}
			v, err := dec.ReadValue()
			if err != nil {
				return err
			}
			if err := enc.WriteValue(v); err != nil {
				return err
			}
			continue
		}
		done[i] = true
		e := &edits[i]
		if err := enc.WriteToken(name); err != nil {
			return err
		}
		if e.sub != nil && dec.PeekKind() == '{' {
			dec.ReadToken()
			if err := rewriteObject(dec, enc, e.sub); err != nil {
				return err
			}
			continue
		}
		if err := dec.SkipValue(); err != nil {
			return err
		}
		if err := writeEdit(enc, e); err != nil {
			return err
		}
	}
	for i := range edits {
		if done[i] || !edits[i].adds() {
			continue
		}
		if err := enc.WriteToken(jsontext.String(edits[i].name)); err != nil {
			return err
		}
		if err := writeEdit(enc, &edits[i]); err != nil {
			return err
		}
	}
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	return enc.WriteToken(jsontext.EndObject)
}

// writeEdit writes an edit's value: a new object for sub edits (the member
// was absent or not an object, such as null).
func writeEdit(enc *jsontext.Encoder, e *edit) error {
	if e.sub == nil {
		// Encoded as runc's encoding/json v1 would, so that it decodes
		// to what secrun decided: omitempty as v1 means it (a zero number
		// is omitted: seccomp's valueTwo), and a nil slice or map is null,
		// not an empty one.
		return json.MarshalEncode(enc, e.value, jsonv1.OmitEmptyWithLegacySemantics(true),
			json.FormatNilSliceAsNull(true), json.FormatNilMapAsNull(true))
	}
	if err := enc.WriteToken(jsontext.BeginObject); err != nil {
		return err
	}
	for i := range e.sub {
		if !e.sub[i].adds() {
			continue
		}
		if err := enc.WriteToken(jsontext.String(e.sub[i].name)); err != nil {
			return err
		}
		if err := writeEdit(enc, &e.sub[i]); err != nil {
			return err
		}
	}
	return enc.WriteToken(jsontext.EndObject)
}

func find(edits []edit, name string) int {
	for i := range edits {
		if edits[i].name == name {
			return i
		}
	}
	return -1
}
