package setup

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file holds a small TOML *layout* scanner. It does not compute
// values (github.com/BurntSushi/toml does that); it finds where each
// statement of a file starts and ends, and which table it belongs to, so
// that edits can be made on whole lines without touching anything else.

type stmtKind int

const (
	stmtTable      stmtKind = iota // [a.b]
	stmtArrayTable                 // [[a.b]]
	stmtKeyValue                   // a.b = value
)

// stmt is one statement of a TOML file. Lines are 0-based and inclusive.
type stmt struct {
	kind               stmtKind
	startLine, endLine int
	// table is the path of the enclosing table (for a header, its own path).
	table []string
	// key is the key as written in a key/value statement (dotted keys
	// split), keyText the same as it appears in the file.
	key     []string
	keyText string
	indent  string
}

// fullPath is the absolute key path the statement defines.
func (s stmt) fullPath() []string {
	if s.kind != stmtKeyValue {
		return s.table
	}
	p := append([]string(nil), s.table...)
	return append(p, s.key...)
}

type scanner struct {
	src        string
	pos        int
	lineStarts []int
}

// scanLayout splits a (valid) TOML document into statements.
func scanLayout(src string) ([]stmt, error) {
	sc := &scanner{src: src, lineStarts: []int{0}}
	for i := 0; i < len(src); i++ {
		if src[i] == '\n' {
			sc.lineStarts = append(sc.lineStarts, i+1)
		}
	}
	var out []stmt
	var table []string
	inArray := false
	for {
		sc.skipSpace()
		if sc.eof() {
			return out, nil
		}
		c := sc.src[sc.pos]
		switch {
		case c == '\n' || c == '\r':
			if err := sc.newline(); err != nil {
				return nil, err
			}
			continue
		case c == '#':
			sc.skipComment()
			continue
		}
		start := sc.pos
		st := stmt{startLine: sc.lineOf(start), indent: sc.indentOf(start)}
		if c == '[' {
			st.kind = stmtTable
			sc.pos++
			if !sc.eof() && sc.src[sc.pos] == '[' {
				st.kind = stmtArrayTable
				sc.pos++
			}
			key, _, err := sc.key()
			if err != nil {
				return nil, err
			}
			closing := "]"
			if st.kind == stmtArrayTable {
				closing = "]]"
			}
			sc.skipSpace()
			if !strings.HasPrefix(sc.src[sc.pos:], closing) {
				return nil, sc.errorf("expected %q after table name", closing)
			}
			sc.pos += len(closing)
			st.table = key
			table, inArray = key, st.kind == stmtArrayTable
		} else {
			key, text, err := sc.key()
			if err != nil {
				return nil, err
			}
			sc.skipSpace()
			if sc.eof() || sc.src[sc.pos] != '=' {
				return nil, sc.errorf("expected '=' after key %q", text)
			}
			sc.pos++
			sc.skipSpace()
			if err := sc.value(); err != nil {
				return nil, err
			}
			st.kind, st.key, st.keyText = stmtKeyValue, key, text
			st.table = append([]string(nil), table...)
			if inArray {
				// Keys inside an array of tables are never ours to edit;
				// mark the path so that it cannot match a table path.
				st.table = append(st.table, "[]")
			}
		}
		st.endLine = sc.lineOf(sc.pos)
		sc.skipSpace()
		if !sc.eof() && sc.src[sc.pos] == '#' {
			sc.skipComment()
		}
		if !sc.eof() {
			if c := sc.src[sc.pos]; c != '\n' && c != '\r' {
				return nil, sc.errorf("unexpected %q after statement", c)
			}
		}
		out = append(out, st)
	}
}

func (sc *scanner) eof() bool { return sc.pos >= len(sc.src) }

func (sc *scanner) lineOf(off int) int {
	return sort.Search(len(sc.lineStarts), func(i int) bool { return sc.lineStarts[i] > off }) - 1
}

func (sc *scanner) indentOf(off int) string {
	ls := sc.lineStarts[sc.lineOf(off)]
	return sc.src[ls:off]
}

func (sc *scanner) errorf(format string, args ...any) error {
	return fmt.Errorf("line %d: %s", sc.lineOf(sc.pos)+1, fmt.Sprintf(format, args...))
}

func (sc *scanner) skipSpace() {
	for !sc.eof() && (sc.src[sc.pos] == ' ' || sc.src[sc.pos] == '\t') {
		sc.pos++
	}
}

func (sc *scanner) skipComment() {
	for !sc.eof() && sc.src[sc.pos] != '\n' && sc.src[sc.pos] != '\r' {
		sc.pos++
	}
}

func (sc *scanner) newline() error {
	if strings.HasPrefix(sc.src[sc.pos:], "\r\n") {
		sc.pos += 2
		return nil
	}
	if sc.src[sc.pos] == '\n' {
		sc.pos++
		return nil
	}
	return sc.errorf("stray carriage return")
}

// skipBlank skips whitespace, newlines and comments (inside arrays and
// multi-line inline tables).
func (sc *scanner) skipBlank() error {
	for !sc.eof() {
		switch sc.src[sc.pos] {
		case ' ', '\t':
			sc.pos++
		case '\n', '\r':
			if err := sc.newline(); err != nil {
				return err
			}
		case '#':
			sc.skipComment()
		default:
			return nil
		}
	}
	return nil
}

func isBare(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// key reads a (possibly dotted) key and returns its parts and its text.
func (sc *scanner) key() ([]string, string, error) {
	var parts []string
	sc.skipSpace()
	start := sc.pos
	for {
		sc.skipSpace()
		if sc.eof() {
			return nil, "", sc.errorf("unexpected end of file in key")
		}
		switch c := sc.src[sc.pos]; {
		case c == '"':
			if strings.HasPrefix(sc.src[sc.pos:], `"""`) {
				return nil, "", sc.errorf("multi-line string used as a key")
			}
			s, err := sc.basicString()
			if err != nil {
				return nil, "", err
			}
			parts = append(parts, s)
		case c == '\'':
			if strings.HasPrefix(sc.src[sc.pos:], `'''`) {
				return nil, "", sc.errorf("multi-line string used as a key")
			}
			end := strings.IndexAny(sc.src[sc.pos+1:], "'\n")
			if end < 0 || sc.src[sc.pos+1+end] != '\'' {
				return nil, "", sc.errorf("unterminated literal string")
			}
			parts = append(parts, sc.src[sc.pos+1:sc.pos+1+end])
			sc.pos += end + 2
		case isBare(c):
			b := sc.pos
			for !sc.eof() && isBare(sc.src[sc.pos]) {
				sc.pos++
			}
			parts = append(parts, sc.src[b:sc.pos])
		default:
			return nil, "", sc.errorf("unexpected %q in key", c)
		}
		end := sc.pos
		sc.skipSpace()
		if sc.eof() || sc.src[sc.pos] != '.' {
			sc.pos = end
			return parts, sc.src[start:end], nil
		}
		sc.pos++
	}
}

// basicString reads a single-line "basic string" and returns its value.
func (sc *scanner) basicString() (string, error) {
	sc.pos++ // opening quote
	var b strings.Builder
	for {
		if sc.eof() || sc.src[sc.pos] == '\n' {
			return "", sc.errorf("unterminated string")
		}
		c := sc.src[sc.pos]
		switch c {
		case '"':
			sc.pos++
			return b.String(), nil
		case '\\':
			if sc.pos+1 >= len(sc.src) {
				return "", sc.errorf("unterminated string")
			}
			e := sc.src[sc.pos+1]
			sc.pos += 2
			switch e {
			case 'b':
				b.WriteByte('\b')
			case 't':
				b.WriteByte('\t')
			case 'n':
				b.WriteByte('\n')
			case 'f':
				b.WriteByte('\f')
			case 'r':
				b.WriteByte('\r')
			case 'e':
				b.WriteByte(0x1b)
			case '"', '\\':
				b.WriteByte(e)
			case 'x', 'u', 'U':
				n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
				if sc.pos+n > len(sc.src) {
					return "", sc.errorf("bad escape")
				}
				v, err := strconv.ParseUint(sc.src[sc.pos:sc.pos+n], 16, 32)
				if err != nil || !utf8.ValidRune(rune(v)) {
					return "", sc.errorf("bad escape")
				}
				b.WriteRune(rune(v))
				sc.pos += n
			default:
				return "", sc.errorf("bad escape \\%c", e)
			}
		default:
			b.WriteByte(c)
			sc.pos++
		}
	}
}

// value skips one value of any kind.
func (sc *scanner) value() error {
	if sc.eof() {
		return sc.errorf("missing value")
	}
	rest := sc.src[sc.pos:]
	switch {
	case strings.HasPrefix(rest, `"""`), strings.HasPrefix(rest, `'''`):
		delim := rest[:3]
		i := 3
		for {
			j := strings.Index(rest[i:], delim)
			if j < 0 {
				return sc.errorf("unterminated multi-line string")
			}
			if delim == `"""` {
				// an odd run of backslashes before the quotes escapes the first one
				k, bs := i+j-1, 0
				for k >= 0 && rest[k] == '\\' {
					bs++
					k--
				}
				if bs%2 == 1 {
					i += j + 1
					continue
				}
			}
			i += j + 3
			// up to two more quotes belong to the content
			for n := 0; n < 2 && i < len(rest) && rest[i] == delim[0]; n++ {
				i++
			}
			sc.pos += i
			return nil
		}
	case rest[0] == '"':
		_, err := sc.basicString()
		return err
	case rest[0] == '\'':
		end := strings.IndexAny(rest[1:], "'\n")
		if end < 0 || rest[1+end] != '\'' {
			return sc.errorf("unterminated literal string")
		}
		sc.pos += end + 2
		return nil
	case rest[0] == '[':
		sc.pos++
		for {
			if err := sc.skipBlank(); err != nil {
				return err
			}
			if sc.eof() {
				return sc.errorf("unterminated array")
			}
			if sc.src[sc.pos] == ']' {
				sc.pos++
				return nil
			}
			if err := sc.value(); err != nil {
				return err
			}
			if err := sc.skipBlank(); err != nil {
				return err
			}
			if !sc.eof() && sc.src[sc.pos] == ',' {
				sc.pos++
			}
		}
	case rest[0] == '{':
		sc.pos++
		for {
			if err := sc.skipBlank(); err != nil {
				return err
			}
			if sc.eof() {
				return sc.errorf("unterminated inline table")
			}
			if sc.src[sc.pos] == '}' {
				sc.pos++
				return nil
			}
			if _, _, err := sc.key(); err != nil {
				return err
			}
			sc.skipSpace()
			if sc.eof() || sc.src[sc.pos] != '=' {
				return sc.errorf("expected '=' in inline table")
			}
			sc.pos++
			sc.skipSpace()
			if err := sc.value(); err != nil {
				return err
			}
			if err := sc.skipBlank(); err != nil {
				return err
			}
			if !sc.eof() && sc.src[sc.pos] == ',' {
				sc.pos++
			}
		}
	default:
		// number, boolean, date/time: up to a delimiter. A local date-time
		// may contain one space ("1979-05-27 07:32:00").
		start := sc.pos
		for !sc.eof() {
			c := sc.src[sc.pos]
			if c == ' ' && sc.pos-start == 10 && sc.pos+1 < len(sc.src) && sc.src[sc.pos+1] >= '0' && sc.src[sc.pos+1] <= '9' {
				sc.pos++
				continue
			}
			if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == ']' || c == '}' || c == '#' {
				break
			}
			sc.pos++
		}
		if sc.pos == start {
			return sc.errorf("missing value")
		}
		return nil
	}
}
