package apparmorgen

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A Glob is a validated AppArmor path pattern. Policies write them in
// AppArmor's own syntax (*, **, ?, [a-z], [^...], {a,b}, a few @{variables},
// backslash escapes); ParseGlob checks them against a conservative grammar.
//
// {a,b} groups are expanded here, one pattern per alternative, rather than
// passed to apparmor_parser: its expression simplifier loops without end
// on some sets of groups with empty alternatives (five rules "/{,x}",
// "/{,y}"... are enough; the fuzz test found it). A rule per alternative
// means the same to AppArmor, and leaves no group of the policy's in the
// profile.
type Glob struct {
	raw   string   // as written in the policy
	texts []string // the expanded patterns, canonical, without quotes
}

// String is the pattern as written in the policy.
func (g Glob) String() string { return g.raw }

// Patterns are the expanded patterns as they go into profile rules: in
// double quotes, so that spaces, '#' and ',' cannot end the rule, with the
// characters that mean something to AppArmor's glob syntax escaped.
func (g Glob) Patterns() []string {
	out := make([]string, len(g.texts))
	for i, t := range g.texts {
		out[i] = `"` + t + `"`
	}
	return out
}

const (
	maxGlobLen        = 4096 // PATH_MAX
	maxAltDepth       = 4
	maxGlobAlts       = 64  // alternatives in one pattern, over all groups
	maxGlobExpansions = 128 // patterns one pattern expands to
	maxGlobClass      = 64  // bytes inside one [...]
)

// absoluteVars are the tunables/global variables (AppArmor 3.0 and later)
// that expand to absolute paths and so may start a pattern; innerVars may
// appear anywhere after the first '/'.
var (
	absoluteVars = map[string]bool{"PROC": true, "sys": true, "HOME": true, "HOMEDIRS": true}
	innerVars    = map[string]bool{"pid": true, "multiarch": true}
)

// classPunct are the characters besides ASCII letters and digits allowed
// inside [...]. apparmor_parser reads '*', '?' and escapes inside a class
// its own way, and treats each byte of a UTF-8 character as a member, so
// those are not accepted there.
const classPunct = "._~+=:%!#$&'()|;<> @"

// ParseGlob validates an AppArmor path pattern.
func ParseGlob(s string) (Glob, error) {
	if s == "" {
		return Glob{}, fmt.Errorf("empty path")
	}
	if len(s) > maxGlobLen {
		return Glob{}, fmt.Errorf("path is longer than %d bytes", maxGlobLen)
	}
	if !utf8.ValidString(s) {
		return Glob{}, fmt.Errorf("path %q is not valid UTF-8", s)
	}
	p := globParser{s: s}
	toks, err := p.seq(false)
	if err != nil {
		return Glob{}, fmt.Errorf("path %q: %v", s, err)
	}
	seqs, err := expand(toks)
	if err != nil {
		return Glob{}, fmt.Errorf("path %q: %v", s, err)
	}
	g := Glob{raw: s}
	seen := map[string]bool{}
	for _, seq := range seqs {
		if len(seq) == 0 {
			return Glob{}, fmt.Errorf("path %q is not absolute (it must start with '/')", s)
		}
		if last := seq[len(seq)-1]; last.kind == tLit && last.lit == '\\' {
			// apparmor_parser's lexer would read "\\" + the closing quote
			// as an escaped quote and run the string on into the next rule.
			return Glob{}, fmt.Errorf("path %q: a literal '\\' cannot end a pattern (apparmor_parser misreads it before the closing quote)", s)
		}
		var b strings.Builder
		emit(&b, seq)
		text := b.String()
		if !strings.HasPrefix(text, "/") && !startsWithAbsoluteVar(text) {
			return Glob{}, fmt.Errorf("path %q is not absolute (it must start with '/')", s)
		}
		// On the canonical form, where a '.' is never escaped.
		for _, c := range []string{"/./", "/../"} {
			if strings.Contains(text+"/", c) {
				return Glob{}, fmt.Errorf("path %q has a '.' or '..' component; AppArmor matches resolved paths, write the path without it", s)
			}
		}
		if !seen[text] {
			seen[text] = true
			g.texts = append(g.texts, text)
		}
	}
	return g, nil
}

// expand turns a token sequence with groups into the sequences without
// groups it stands for. Stars that end up side by side merge: "*" then "*"
// is "*", and a "**" with either is "**" (written together they would
// read as "**", or as three stars).
func expand(toks []token) ([][]token, error) {
	out := [][]token{nil}
	for _, t := range toks {
		var alts [][]token
		if t.kind == tAlt {
			for _, a := range t.alts {
				sub, err := expand(a)
				if err != nil {
					return nil, err
				}
				alts = append(alts, sub...)
			}
		} else {
			alts = [][]token{{t}}
		}
		if len(out)*len(alts) > maxGlobExpansions {
			return nil, fmt.Errorf("its {...} groups expand to more than %d patterns", maxGlobExpansions)
		}
		next := make([][]token, 0, len(out)*len(alts))
		for _, o := range out {
			for _, a := range alts {
				next = append(next, appendMerged(o, a))
			}
		}
		out = next
	}
	return out, nil
}

func isStar(t token) bool { return t.kind == tStar || t.kind == tStar2 }

func appendMerged(a, b []token) []token {
	out := append(append([]token(nil), a...), b...)
	if len(a) > 0 && len(b) > 0 && isStar(a[len(a)-1]) && isStar(b[0]) {
		k := tStar
		if a[len(a)-1].kind == tStar2 || b[0].kind == tStar2 {
			k = tStar2
		}
		out = append(append(append([]token(nil), a[:len(a)-1]...), token{kind: k}), b[1:]...)
	}
	return out
}

func startsWithAbsoluteVar(s string) bool {
	for v := range absoluteVars {
		if strings.HasPrefix(s, "@{"+v+"}") {
			return true
		}
	}
	return false
}

type tokKind int

const (
	tLit   tokKind = iota
	tStar          // *
	tStar2         // **
	tQuest         // ?
	tClass         // [...]
	tAlt           // {a,b}
	tVar           // @{name}
)

type token struct {
	kind  tokKind
	lit   rune
	class string    // tClass: the members, with a leading '^' when negated
	alts  [][]token // tAlt
	name  string    // tVar
}

type globParser struct {
	s     string
	i     int
	depth int
	alts  int
}

func (p *globParser) peek(off int) (rune, int) {
	if p.i+off >= len(p.s) {
		return -1, 0
	}
	return utf8.DecodeRuneInString(p.s[p.i+off:])
}

// seq reads tokens up to the end of the pattern, or, inside a {…} group, up
// to the ',' or '}' that ends the alternative.
func (p *globParser) seq(inAlt bool) ([]token, error) {
	var out []token
	for p.i < len(p.s) {
		r, n := p.peek(0)
		switch r {
		case ',':
			if inAlt {
				return out, nil
			}
			out = append(out, token{kind: tLit, lit: r})
			p.i += n
		case '}':
			if inAlt {
				return out, nil
			}
			return nil, fmt.Errorf("'}' without '{' (write \\} for a literal brace)")
		case ']':
			return nil, fmt.Errorf("']' without '[' (write \\] for a literal bracket)")
		case '{':
			t, err := p.alt()
			if err != nil {
				return nil, err
			}
			out = append(out, t)
		case '[':
			t, err := p.class()
			if err != nil {
				return nil, err
			}
			out = append(out, t)
		case '*':
			k := 0
			for p.i < len(p.s) && p.s[p.i] == '*' {
				k++
				p.i++
			}
			switch k {
			case 1:
				out = append(out, token{kind: tStar})
			case 2:
				out = append(out, token{kind: tStar2})
			default:
				return nil, fmt.Errorf("%d '*' in a row (use * or **)", k)
			}
		case '?':
			out = append(out, token{kind: tQuest})
			p.i += n
		case '\\':
			p.i += n
			e, m := p.peek(0)
			if m == 0 {
				return nil, fmt.Errorf("trailing '\\'")
			}
			if !printable(e) {
				return nil, fmt.Errorf("control character %U", e)
			}
			out = append(out, token{kind: tLit, lit: e})
			p.i += m
		case '@':
			if next, _ := p.peek(1); next == '{' {
				t, err := p.variable()
				if err != nil {
					return nil, err
				}
				out = append(out, t)
				continue
			}
			out = append(out, token{kind: tLit, lit: r})
			p.i += n
		default:
			if !printable(r) {
				return nil, fmt.Errorf("control character %U", r)
			}
			out = append(out, token{kind: tLit, lit: r})
			p.i += n
		}
	}
	if inAlt {
		return nil, fmt.Errorf("'{' without '}'")
	}
	return out, nil
}

func printable(r rune) bool {
	return r == ' ' || (unicode.IsGraphic(r) && r != utf8.RuneError)
}

func (p *globParser) alt() (token, error) {
	p.depth++
	if p.depth > maxAltDepth {
		return token{}, fmt.Errorf("{...} groups nested more than %d deep", maxAltDepth)
	}
	p.i++ // '{'
	var alts [][]token
	for {
		a, err := p.seq(true)
		if err != nil {
			return token{}, err
		}
		alts = append(alts, a)
		p.alts++
		if p.alts > maxGlobAlts {
			return token{}, fmt.Errorf("more than %d alternatives", maxGlobAlts)
		}
		r, n := p.peek(0)
		p.i += n
		if r == '}' {
			break
		}
		// r == ','
	}
	p.depth--
	if len(alts) < 2 {
		return token{}, fmt.Errorf("a {...} group needs at least two alternatives separated by ',' (write \\{ for a literal brace)")
	}
	return token{kind: tAlt, alts: alts}, nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func (p *globParser) class() (token, error) {
	start := p.i
	p.i++ // '['
	var b strings.Builder
	if p.i < len(p.s) && p.s[p.i] == '^' {
		b.WriteByte('^')
		p.i++
	}
	members := 0
	for {
		if p.i >= len(p.s) {
			return token{}, fmt.Errorf("'[' without ']' (write \\[ for a literal bracket)")
		}
		c := p.s[p.i]
		if c == ']' {
			p.i++
			break
		}
		switch {
		case c == '-' && members == 0:
			// A leading '-' is literal.
			b.WriteByte(c)
		case isAlnum(c) || strings.IndexByte(classPunct, c) >= 0:
			if p.i+2 < len(p.s) && p.s[p.i+1] == '-' && p.s[p.i+2] != ']' {
				hi := p.s[p.i+2]
				if !isAlnum(c) || !isAlnum(hi) {
					return token{}, fmt.Errorf("range %q in [...]: both ends must be letters or digits", p.s[p.i:p.i+3])
				}
				if hi < c {
					return token{}, fmt.Errorf("range %q in [...] is backwards", p.s[p.i:p.i+3])
				}
				b.WriteString(p.s[p.i : p.i+3])
				p.i += 2
			} else {
				b.WriteByte(c)
			}
		case c == '-':
			return token{}, fmt.Errorf("'-' in [...] must come first or stand between two letters or digits")
		default:
			r, _ := utf8.DecodeRuneInString(p.s[p.i:])
			return token{}, fmt.Errorf("%q cannot appear inside [...] (only ASCII letters, digits and %q)", r, classPunct)
		}
		members++
		p.i++
		if p.i-start > maxGlobClass {
			return token{}, fmt.Errorf("[...] longer than %d characters", maxGlobClass)
		}
	}
	if members == 0 {
		return token{}, fmt.Errorf("empty [...]")
	}
	return token{kind: tClass, class: b.String()}, nil
}

func (p *globParser) variable() (token, error) {
	end := strings.IndexByte(p.s[p.i:], '}')
	if end < 0 {
		return token{}, fmt.Errorf("'@{' without '}' (write \\@ for a literal '@' before a brace)")
	}
	name := p.s[p.i+2 : p.i+end]
	if !absoluteVars[name] && !innerVars[name] {
		return token{}, fmt.Errorf("unknown variable @{%s}: only @{PROC}, @{sys}, @{HOME}, @{HOMEDIRS}, @{pid} and @{multiarch} are accepted (write \\@ for a literal '@' before a brace)", name)
	}
	p.i += end + 1
	return token{kind: tVar, name: name}, nil
}

// emit writes an expanded token sequence (no groups) in AppArmor's glob
// syntax for a quoted string. Literal characters that mean something to
// the glob converter, and the quote itself, are escaped; nothing else is,
// because apparmor_parser turns some backslash sequences (\n, \t, \x41,
// \101) into other bytes. A literal '@' needs no escape: the '{' after it
// would be a literal, escaped one.
func emit(b *strings.Builder, toks []token) {
	for _, t := range toks {
		switch t.kind {
		case tLit:
			switch t.lit {
			case '*', '?', '[', ']', '{', '}', '\\', '"', ',':
				b.WriteByte('\\')
			}
			b.WriteRune(t.lit)
		case tStar:
			b.WriteString("*")
		case tStar2:
			b.WriteString("**")
		case tQuest:
			b.WriteString("?")
		case tClass:
			b.WriteString("[" + t.class + "]")
		case tVar:
			b.WriteString("@{" + t.name + "}")
		case tAlt:
			panic("apparmorgen: emit of an unexpanded group")
		}
	}
}
