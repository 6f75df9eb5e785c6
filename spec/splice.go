package spec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
)

// change is what one owned member of an object becomes.
type change struct {
	name string
	// val is the new value as compact JSON; nil removes the member.
	val []byte
	// obj: the member is an object, and sub changes its members. When the
	// member is absent, the object is added if it gets a member, or always
	// when create is set; a null member is replaced by the object.
	obj    bool
	sub    []change
	create bool
}

// setTo is the change storing v under name, or removing name when v encodes
// as null, false or "": like omitempty, as runtimes read absent and zero alike.
func setTo(name string, v any) (change, error) {
	b, err := marshal(v)
	if err != nil {
		return change{}, err
	}
	switch string(b) {
	case "null", "false", `""`:
		b = nil
	}
	return change{name: name, val: b}, nil
}

// present reports whether c leaves a member in a new object.
func (c *change) present() bool {
	if !c.obj {
		return c.val != nil
	}
	return c.create || slices.ContainsFunc(c.sub, func(s change) bool { return s.present() })
}

type edit struct {
	start, end int // bytes of the original replaced by text
	text       []byte
}

// splicer turns changes into edits of the original bytes, writing what it
// adds in the style around it: indented like its neighbours in a
// pretty-printed document (`runc spec`), compact in a compact one
// (containerd), with the document's line ends.
type splicer struct {
	data   []byte
	indent bool   // pretty-printed: new members of an empty object go on lines
	nl     string // "\n" or "\r\n"
	unit   string // one level of indentation
	edits  []edit
}

func newSplicer(data []byte, top *span, indent bool) *splicer {
	s := &splicer{data: data, indent: indent, nl: "\n", unit: "\t"}
	if i := bytes.IndexByte(data, '\n'); i > 0 && data[i-1] == '\r' {
		s.nl = "\r\n"
	}
	if len(top.members) > 0 {
		m := top.members[0]
		if ml, ind := lineStyle(data[m.lead:m.keyStart]); ml {
			base := lineIndent(data, top.open)
			if len(ind) > len(base) && ind[:len(base)] == base && isBlank(ind[len(base):]) {
				s.unit = ind[len(base):]
			}
		}
	}
	return s
}

func (s *splicer) add(start, end int, text []byte) {
	s.edits = append(s.edits, edit{start, end, text})
}

// object applies cs to the members of o.
func (s *splicer) object(o *span, cs []change) error {
	d := s.data
	n := len(o.members)
	var removed []bool
	var adds []change
	for _, c := range cs {
		i := o.find(c.name)
		if i < 0 {
			if c.present() {
				adds = append(adds, c)
			}
			continue
		}
		m := &o.members[i]
		switch {
		case c.obj && m.obj != nil:
			if err := s.object(m.obj, c.sub); err != nil {
				return err
			}
		case c.obj:
			if string(d[m.valStart:m.valEnd]) != "null" {
				return fmt.Errorf("%q is not an object", c.name)
			}
			ml, ind := s.memberStyle(m)
			s.add(m.valStart, m.valEnd, s.newObject(c.sub, ml, ind))
		case c.val == nil:
			if removed == nil {
				removed = make([]bool, n)
			}
			removed[i] = true
		case !sameJSON(d[m.valStart:m.valEnd], c.val):
			ml, ind := s.memberStyle(m)
			s.add(m.valStart, m.valEnd, s.value(c.val, ml, ind))
		}
	}
	if n == 0 {
		if len(adds) > 0 {
			s.add(o.open, o.close+1, s.newObject(adds, s.indent, lineIndent(d, o.open)))
		}
		return nil
	}
	first, last := -1, -1 // surviving members
	for i := range n {
		if removed == nil || !removed[i] {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		// Every member goes: rewrite the inside in the first one's style.
		m := &o.members[0]
		var b []byte
		for k := range adds {
			if k > 0 {
				b = append(b, ',')
			}
			b = s.appendMember(b, m, &adds[k])
		}
		if len(b) > 0 {
			b = append(b, d[o.members[n-1].valEnd:o.close]...)
		}
		s.add(o.open+1, o.close, b)
		return nil
	}
	// A removed member takes the separator before it, or the one after
	// it when no member before it stays.
	if first > 0 {
		s.add(o.members[0].keyStart, o.members[first].keyStart, nil)
	}
	for i := first + 1; i < n; i++ {
		if removed != nil && removed[i] {
			s.add(o.members[i-1].valEnd, o.members[i].valEnd, nil)
		}
	}
	if len(adds) > 0 {
		var b []byte
		for k := range adds {
			b = append(b, ',')
			b = s.appendMember(b, &o.members[last], &adds[k])
		}
		end := o.members[n-1].valEnd
		s.add(end, end, b)
	}
	return nil
}

// appendMember appends c as a member laid out like like: the same
// whitespace before the key and around the colon.
func (s *splicer) appendMember(b []byte, like *member, c *change) []byte {
	sep := s.data[like.lead:like.keyStart]
	ml, ind := s.lineStyle(sep)
	b = append(b, sep...)
	b = appendName(b, c.name)
	b = append(b, s.data[like.keyEnd:like.valStart]...)
	return append(b, s.format(c, ml, ind)...)
}

// memberStyle says whether m's value is laid out on lines (m starts a line
// of a pretty-printed document), and m's indentation.
func (s *splicer) memberStyle(m *member) (bool, string) {
	return s.lineStyle(s.data[m.lead:m.keyStart])
}

// lineStyle reads the whitespace before a key: whether the key starts a
// line of a pretty-printed document (a compact one may be wrapped), and
// the indentation it has there.
func (s *splicer) lineStyle(sep []byte) (bool, string) {
	ml, ind := lineStyle(sep)
	return ml && s.indent, ind
}

// format returns the value c adds, for a member at indentation ind.
func (s *splicer) format(c *change, ml bool, ind string) []byte {
	if c.obj {
		return s.newObject(c.sub, ml, ind)
	}
	return s.value(c.val, ml, ind)
}

// value indents a compact value for a member on its own line at ind.
func (s *splicer) value(v []byte, ml bool, ind string) []byte {
	if !ml || (v[0] != '{' && v[0] != '[') {
		return v
	}
	var buf bytes.Buffer
	buf.Grow(len(v) + len(v)/2)
	if err := json.Indent(&buf, v, ind, s.unit); err != nil {
		return v // cannot happen: v comes from json.Marshal
	}
	if s.nl != "\n" {
		return bytes.ReplaceAll(buf.Bytes(), []byte("\n"), []byte(s.nl))
	}
	return buf.Bytes()
}

// newObject returns an object holding the members cs leave, for a member
// at indentation ind.
func (s *splicer) newObject(cs []change, ml bool, ind string) []byte {
	b := []byte{'{'}
	inner := ind + s.unit
	k := 0
	for i := range cs {
		c := &cs[i]
		if !c.present() {
			continue
		}
		if k > 0 {
			b = append(b, ',')
		}
		k++
		if ml {
			b = append(b, s.nl...)
			b = append(b, inner...)
			b = appendName(b, c.name)
			b = append(b, ": "...)
			b = append(b, s.format(c, true, inner)...)
		} else {
			b = appendName(b, c.name)
			b = append(b, ':')
			b = append(b, s.format(c, false, "")...)
		}
	}
	if ml && k > 0 {
		b = append(b, s.nl...)
		b = append(b, ind...)
	}
	return append(b, '}')
}

// result applies the edits; with none, it is the original itself.
func (s *splicer) result() ([]byte, error) {
	if len(s.edits) == 0 {
		return s.data[:len(s.data):len(s.data)], nil
	}
	slices.SortStableFunc(s.edits, func(a, b edit) int { return a.start - b.start })
	size := len(s.data)
	for _, e := range s.edits {
		size += len(e.text) - (e.end - e.start)
	}
	out := make([]byte, 0, size)
	at := 0
	for _, e := range s.edits {
		if e.start < at {
			return nil, fmt.Errorf("internal error: overlapping edits at offset %d", e.start)
		}
		out = append(out, s.data[at:e.start]...)
		out = append(out, e.text...)
		at = e.end
	}
	return append(out, s.data[at:]...), nil
}

func appendName(b []byte, name string) []byte {
	k, _ := marshal(name)
	return append(b, k...)
}

// lineStyle reads the whitespace before a key: whether the key starts a
// line, and the indentation it has there.
func lineStyle(sep []byte) (bool, string) {
	i := bytes.LastIndexByte(sep, '\n')
	if i < 0 {
		return false, ""
	}
	return true, string(sep[i+1:])
}

// lineIndent is the indentation of the line holding pos.
func lineIndent(d []byte, pos int) string {
	start := bytes.LastIndexByte(d[:pos], '\n') + 1
	end := start
	for end < pos && (d[end] == ' ' || d[end] == '\t') {
		end++
	}
	return string(d[start:end])
}

func isBlank(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != ' ' && s[i] != '\t' {
			return false
		}
	}
	return true
}

// sameJSON reports whether raw is compact once the whitespace between its
// tokens is dropped: the owned value is already what secrun would write, so
// its bytes (and the file) can stay as they are.
func sameJSON(raw, compact []byte) bool {
	j := 0
	inStr, esc := false, false
	for _, c := range raw {
		if !inStr && (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			continue
		}
		if j >= len(compact) || compact[j] != c {
			return false
		}
		j++
		switch {
		case esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case c == '"':
			inStr = !inStr
		}
	}
	return j == len(compact)
}
