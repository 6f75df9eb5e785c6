package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// member is one "name": value of an object, as offsets into the document:
// Encode replaces or removes an owned value in place and leaves every other
// byte as it was.
type member struct {
	name             []byte // decoded; aliases the document unless it had escapes
	lead             int    // just after the '{' or ',' before the member
	keyStart, keyEnd int    // the quoted name
	valStart, valEnd int
	obj              *span // the value's members, kept for the objects secrun edits
}

// span is a scanned object.
type span struct {
	open, close int // offsets of '{' and '}'
	members     []member
}

// find returns the index of the member called name, or -1.
func (o *span) find(name string) int {
	for i := range o.members {
		if string(o.members[i].name) == name {
			return i
		}
	}
	return -1
}

// errMalformed is returned only if the scanner meets what encoding/json
// accepted as valid and it does not understand: a bug, never user input.
var errMalformed = errors.New("internal error: JSON scanner lost its place")

// scanner walks a document already known to be valid JSON once: it refuses
// ambiguous keys in every object and records the spans of the top-level
// object and of the objects at the paths named in keep ("process",
// "process.user").
type scanner struct {
	data  []byte
	pos   int
	keep  []string
	stack []member // members of the objects being scanned, innermost last
	seen  map[uint64]int
}

// scan returns the top-level object of data, nil when data is not an
// object. data must have passed encoding/json.
func scan(data []byte, keep ...string) (*span, error) {
	s := &scanner{data: data, keep: keep, stack: make([]member, 0, 64)}
	s.ws()
	if s.peek() != '{' {
		return nil, nil
	}
	return s.object(0, "", true)
}

func (s *scanner) peek() byte {
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

func (s *scanner) ws() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\r', '\n':
			s.pos++
		default:
			return
		}
	}
}

// value skips one value; for an object it returns the span if keep is set.
// path is the value's path when its parent is kept.
func (s *scanner) value(depth int, path string, keep bool) (*span, error) {
	switch s.peek() {
	case '{':
		return s.object(depth, path, keep)
	case '[':
		return nil, s.array(depth)
	case '"':
		return nil, s.str()
	case 0:
		return nil, errMalformed
	}
	// Number, true, false or null: runs to the next delimiter.
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			return nil, nil
		}
		s.pos++
	}
	return nil, nil
}

// str skips a string.
func (s *scanner) str() error {
	start := s.pos
	i := start + 1
	for {
		j := bytes.IndexByte(s.data[i:], '"')
		if j < 0 {
			return errMalformed
		}
		i += j
		// The quote ends the string unless an odd run of backslashes
		// escapes it.
		k := i
		for k > start+1 && s.data[k-1] == '\\' {
			k--
		}
		if (i-k)%2 == 0 {
			s.pos = i + 1
			return nil
		}
		i++
	}
}

func (s *scanner) array(depth int) error {
	s.pos++ // [
	for i := 0; ; i++ {
		s.ws()
		if s.peek() == ']' {
			s.pos++
			return nil
		}
		if _, err := s.value(depth+1, "", false); err != nil {
			return within(err, fmt.Sprintf("[%d]", i))
		}
		s.ws()
		switch s.peek() {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return nil
		default:
			return errMalformed
		}
	}
}

func (s *scanner) object(depth int, path string, keep bool) (*span, error) {
	o := span{open: s.pos}
	s.pos++ // {
	base := len(s.stack)
	for {
		m := member{lead: s.pos}
		s.ws()
		if s.peek() == '}' {
			break
		}
		if s.peek() != '"' {
			return nil, errMalformed
		}
		m.keyStart = s.pos
		if err := s.str(); err != nil {
			return nil, err
		}
		m.keyEnd = s.pos
		var err error
		if m.name, err = s.name(m.keyStart, m.keyEnd); err != nil {
			return nil, err
		}
		s.ws()
		if s.peek() != ':' {
			return nil, errMalformed
		}
		s.pos++
		s.ws()
		m.valStart = s.pos
		child, keepChild := "", false
		if keep {
			child = string(m.name)
			if path != "" {
				child = path + "." + child
			}
			keepChild = s.wanted(child)
		}
		if m.obj, err = s.value(depth+1, child, keepChild); err != nil {
			return nil, within(err, pathKey(m.name))
		}
		m.valEnd = s.pos
		s.stack = append(s.stack, m)
		s.ws()
		if s.peek() == ',' {
			s.pos++
			continue
		}
		if s.peek() != '}' {
			return nil, errMalformed
		}
		break
	}
	o.close = s.pos
	s.pos++
	members := s.stack[base:]
	if err := s.distinct(members); err != nil {
		return nil, err
	}
	s.stack = s.stack[:base]
	if !keep {
		return nil, nil
	}
	o.members = append([]member(nil), members...)
	return &o, nil
}

func (s *scanner) wanted(path string) bool {
	for _, k := range s.keep {
		if path == k {
			return true
		}
	}
	return false
}

// name decodes a key as encoding/json does. Only a key with an escape or
// with bytes that are not UTF-8 (which the decoder turns into U+FFFD) needs
// decoding: "\u0070rocess" must count as "process".
func (s *scanner) name(start, end int) ([]byte, error) {
	raw := s.data[start+1 : end-1]
	plain := true
	for _, c := range raw {
		if c == '\\' || c >= utf8.RuneSelf {
			plain = false
			break
		}
	}
	if plain || (bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw)) {
		return raw, nil
	}
	var k string
	if err := json.Unmarshal(s.data[start:end], &k); err != nil {
		return nil, errMalformed
	}
	return []byte(k), nil
}

// distinct refuses two keys that are equal, or equal when case is folded the
// way encoding/json matches a key to a struct field. Go's decoder (runc,
// containerd, secrun) takes either for the field and keeps the last, yajl
// (crun) takes only the exact spelling: such a spec would mean one thing to
// secrun and another to the runtime.
func (s *scanner) distinct(ms []member) error {
	if len(ms) < 2 {
		return nil
	}
	// Comparing pairs beats hashing for the few keys most objects have.
	if len(ms) <= 16 {
		return pairwiseDistinct(ms)
	}
	if s.seen == nil {
		s.seen = make(map[uint64]int, len(ms))
	} else {
		clear(s.seen)
	}
	for j := range ms {
		h := foldHash(ms[j].name)
		i, ok := s.seen[h]
		if !ok {
			s.seen[h] = j
			continue
		}
		if sameKey(ms[i].name, ms[j].name) {
			return ambiguous(ms[i].name, ms[j].name)
		}
		return pairwiseDistinct(ms) // two names share a hash: compare them all
	}
	return nil
}

func pairwiseDistinct(ms []member) error {
	for j := 1; j < len(ms); j++ {
		for i := 0; i < j; i++ {
			if sameKey(ms[i].name, ms[j].name) {
				return ambiguous(ms[i].name, ms[j].name)
			}
		}
	}
	return nil
}

func ambiguous(prev, k []byte) error {
	if bytes.Equal(prev, k) {
		return &keyError{msg: fmt.Sprintf("key %q appears twice; runtimes disagree on which one counts (remove one)", k)}
	}
	return &keyError{msg: fmt.Sprintf("keys %q and %q differ only in case; runtimes disagree on which one counts (keep one, spelled as the OCI spec does)", prev, k)}
}

func sameKey(a, b []byte) bool { return bytes.Equal(a, b) || foldEqual(a, b) }

// foldRune maps r to what encoding/json compares when it matches a key to a
// field case-insensitively, so secrun folds exactly as the decoders it
// guards (this also catches U+017F 'ſ' for 's' and U+212A 'K' for 'k').
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'a' <= r && r <= 'z' {
			r -= 'a' - 'A'
		}
		return r
	}
	return unicode.ToUpper(unicode.ToLower(r))
}

func nextRune[T []byte | string](s T) (rune, int) {
	if s[0] < utf8.RuneSelf {
		return rune(s[0]), 1
	}
	return utf8.DecodeRuneInString(string(s[:min(len(s), utf8.UTFMax)]))
}

func foldEqual[A, B []byte | string](a A, b B) bool {
	for len(a) > 0 && len(b) > 0 {
		ra, na := nextRune(a)
		rb, nb := nextRune(b)
		if ra != rb && foldRune(ra) != foldRune(rb) {
			return false
		}
		a, b = a[na:], b[nb:]
	}
	return len(a) == 0 && len(b) == 0
}

// foldHash is FNV-1a over the folded runes: equal for names foldEqual
// calls equal.
func foldHash(k []byte) uint64 {
	h := uint64(14695981039346656037)
	for len(k) > 0 {
		r, n := nextRune(k)
		k = k[n:]
		h = (h ^ uint64(foldRune(r))) * 1099511628211
	}
	return h
}

// keyError is an ambiguous key, with the path of the object holding it.
type keyError struct {
	where []string // innermost first
	msg   string
}

func (e *keyError) Error() string {
	if len(e.where) == 0 {
		return e.msg
	}
	var b strings.Builder
	for i := len(e.where) - 1; i >= 0; i-- {
		seg := e.where[i]
		if i < len(e.where)-1 && seg[0] != '[' {
			b.WriteByte('.')
		}
		b.WriteString(seg)
	}
	return b.String() + ": " + e.msg
}

// within adds a path segment to a keyError on its way out.
func within(err error, seg string) error {
	if e, ok := err.(*keyError); ok {
		e.where = append(e.where, seg)
	}
	return err
}

// pathKey spells a key in a path: bare when it is a plain name, quoted in
// brackets otherwise (annotation keys have dots and slashes).
func pathKey(k []byte) string {
	for i, c := range k {
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9') {
			return fmt.Sprintf("[%q]", k)
		}
	}
	if len(k) == 0 {
		return `[""]`
	}
	return string(k)
}
