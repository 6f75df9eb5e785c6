package setup

import (
	"fmt"
	"sort"

	"github.com/pelletier/go-toml/v2/unstable"
)

// The layout of a config file: where each statement starts and ends and
// which table it belongs to, so that edits can be made on whole lines
// without touching anything else. go-toml's unstable parser gives the
// statements and their keys with byte ranges; comments are kept as
// statements too, so a statement ends at the last byte before the next one.

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

// scanLayout splits a TOML document into statements.
func scanLayout(src string) ([]stmt, error) {
	lineStarts := []int{0}
	for i := 0; i < len(src); i++ {
		if src[i] == '\n' {
			lineStarts = append(lineStarts, i+1)
		}
	}
	lineOf := func(off int) int {
		return sort.Search(len(lineStarts), func(i int) bool { return lineStarts[i] > off }) - 1
	}
	p := unstable.Parser{KeepComments: true}
	p.Reset([]byte(src))
	var out []stmt
	// byte offset of every expression, comments included, and the
	// statement it starts (-1 for a comment)
	type mark struct{ off, stmt int }
	var marks []mark
	var table []string
	inArray := false
	for p.NextExpression() {
		e := p.Expression()
		if e.Kind == unstable.Comment {
			marks = append(marks, mark{int(e.Raw.Offset), -1})
			continue
		}
		var key []string
		first, last := -1, 0
		for it := e.Key(); it.Next(); {
			n := it.Node()
			key = append(key, string(n.Data))
			if first < 0 {
				first = int(n.Raw.Offset)
			}
			last = int(n.Raw.Offset + n.Raw.Length)
		}
		start := first
		st := stmt{}
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			for start > 0 && (src[start-1] == ' ' || src[start-1] == '\t' || src[start-1] == '[') {
				start--
			}
			for src[start] != '[' {
				start++
			}
			st.kind, st.table = stmtTable, key
			if e.Kind == unstable.ArrayTable {
				st.kind = stmtArrayTable
			}
			table, inArray = key, e.Kind == unstable.ArrayTable
		case unstable.KeyValue:
			st.kind, st.key, st.keyText = stmtKeyValue, key, src[first:last]
			st.table = append([]string(nil), table...)
			if inArray {
				// Keys inside an array of tables are never ours to edit;
				// mark the path so that it cannot match a table path.
				st.table = append(st.table, "[]")
			}
		default:
			return nil, fmt.Errorf("unexpected %s at byte %d", e.Kind, start)
		}
		st.startLine = lineOf(start)
		st.indent = src[lineStarts[st.startLine]:start]
		marks = append(marks, mark{start, len(out)})
		out = append(out, st)
	}
	if err := p.Error(); err != nil {
		if pe, ok := err.(*unstable.ParserError); ok && pe.Highlight != nil {
			return nil, fmt.Errorf("line %d: %s", p.Shape(p.Range(pe.Highlight)).Start.Line, pe.Message)
		}
		return nil, err
	}
	// A statement ends at the last byte that is not blank before the next
	// statement or comment (its own trailing comment included).
	for i, m := range marks {
		if m.stmt < 0 {
			continue
		}
		end := len(src)
		if i+1 < len(marks) {
			end = marks[i+1].off
		}
		for end > m.off && (src[end-1] == ' ' || src[end-1] == '\t' || src[end-1] == '\n' || src[end-1] == '\r') {
			end--
		}
		out[m.stmt].endLine = lineOf(end - 1)
	}
	return out, nil
}
