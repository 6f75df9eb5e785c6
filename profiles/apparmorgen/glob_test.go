package apparmorgen

import (
	"os/exec"
	"reflect"
	"strings"
	"testing"
)

var goodGlobs = []struct {
	in       string
	patterns []string
}{
	{"/", []string{`"/"`}},
	{"/etc/nginx/**", []string{`"/etc/nginx/**"`}},
	{"/var/{log,cache}/nginx/{,**}", []string{`"/var/log/nginx/"`, `"/var/log/nginx/**"`, `"/var/cache/nginx/"`, `"/var/cache/nginx/**"`}},
	{"/{etc,srv}/x", []string{`"/etc/x"`, `"/srv/x"`}},
	{"{/etc,/srv}/x", []string{`"/etc/x"`, `"/srv/x"`}},
	{"/a{,,}", []string{`"/a"`}},
	{"/{,{,{,}}}x", []string{`"/x"`}},
	{"/a{*,b}*", []string{`"/a*"`, `"/ab*"`}},
	{"/a{**,b}*", []string{`"/a**"`, `"/ab*"`}},
	{"/a*{,**}", []string{`"/a*"`, `"/a**"`}},
	{"/srv/my site/index.html", []string{`"/srv/my site/index.html"`}},
	{"/srv/a,b#c", []string{`"/srv/a\,b#c"`}},
	{`/srv/say "hi"`, []string{`"/srv/say \"hi\""`}},
	{`/srv/back\\slash`, []string{`"/srv/back\\slash"`}},
	{`/srv/star\*`, []string{`"/srv/star\*"`}},
	{`/srv/q\?`, []string{`"/srv/q\?"`}},
	{`/srv/\{\}\[\]`, []string{`"/srv/\{\}\[\]"`}},
	{`/srv/\@{x,y}`, []string{`"/srv/@x"`, `"/srv/@y"`}},
	{`/srv/@\{pid\}`, []string{`"/srv/@\{pid\}"`}},
	{"/srv/user@host", []string{`"/srv/user@host"`}},
	{"/srv/tab\\n", []string{`"/srv/tabn"`}},
	{"/dev/pts/[0-9]*", []string{`"/dev/pts/[0-9]*"`}},
	{"/x/[^-a-z.]?", []string{`"/x/[^-a-z.]?"`}},
	{"/x/{a,{b,{c,d}}}", []string{`"/x/a"`, `"/x/b"`, `"/x/c"`, `"/x/d"`}},
	{"/x/a,{b\\,c,d}", []string{`"/x/a\,b\,c"`, `"/x/a\,d"`}},
	{"@{PROC}/@{pid}/status", []string{`"@{PROC}/@{pid}/status"`}},
	{"/usr/lib/@{multiarch}/*.so*", []string{`"/usr/lib/@{multiarch}/*.so*"`}},
	{"/données/été", []string{`"/données/été"`}},
	{"/a//b", []string{`"/a//b"`}},
}

var badGlobs = []struct{ in, why string }{
	{"", "empty"},
	{"etc/x", "not absolute"},
	{"*/x", "not absolute"},
	{"@{pid}/x", "not absolute"},
	{"/a/../b", "'..'"},
	{"/a/.", "'.'"},
	{"/a{b,c", "without '}'"},
	{"/a}", "without '{'"},
	{"/a{b}", "two alternatives"},
	{"/a{}", "two alternatives"},
	{"/a]", "without '['"},
	{"/a[", "without ']'"},
	{"/a[]", "empty"},
	{"/a[^]", "empty"},
	{"/a[a-]", "'-'"},
	{"/a[z-a]", "backwards"},
	{"/a[*]", "cannot appear"},
	{"/a[é]", "cannot appear"},
	{`/a[\]]`, "cannot appear"},
	{"/a[/]", "cannot appear"},
	{"/a***", "3 '*'"},
	{`/a\`, "trailing"},
	{`/a\\`, "cannot end"},
	{"/a\nb", "control character"},
	{"/a\x00b", "control character"},
	{"/a\x7f", "control character"},
	{"/a\xffb", "UTF-8"},
	{"/a/@{HOME", "without '}'"},
	{"/a/@{foo}", "unknown variable"},
	{"/{a,{b,{c,{d,{e,f}}}}}", "nested"},
	{"{/a,b}", "not absolute"},
	{"/{a,..}/b", "'..'"},
	{`/{a\\,b}`, "cannot end"},
	{"/{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}", "more than 128"},
	{"/" + strings.Repeat("a", maxGlobLen), "longer"},
}

func TestParseGlob(t *testing.T) {
	for _, tc := range goodGlobs {
		g, err := ParseGlob(tc.in)
		if err != nil {
			t.Errorf("ParseGlob(%q): %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(g.Patterns(), tc.patterns) || g.String() != tc.in {
			t.Errorf("ParseGlob(%q) = %q, want %q", tc.in, g.Patterns(), tc.patterns)
		}
	}
	for _, tc := range badGlobs {
		_, err := ParseGlob(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("ParseGlob(%q) = %v, want an error about %s", tc.in, err, tc.why)
		}
	}
}

// The parser reads the quoted patterns as meant: it compiles them, and its
// rule-exprs dump (glob converted to its regex dialect) shows the literal
// characters as literals.
func TestGlobsAsParserReadsThem(t *testing.T) {
	parser := parserPath(t)
	var rules strings.Builder
	for _, tc := range goodGlobs {
		g, err := ParseGlob(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range g.Patterns() {
			rules.WriteString("  " + q + " r,\n")
		}
	}
	text := "abi <abi/3.0>,\n#include <tunables/global>\nprofile globs {\n" + rules.String() + "}\n"
	mustCompile(t, parser, "globs", text)

	cmd := exec.Command(parser, "-Q", "-K", "-D", "rule-exprs")
	cmd.Stdin = strings.NewReader(text)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "aare: ") {
		t.Skipf("this apparmor_parser has no rule-exprs dump: %v", err)
	}
	// The pattern as written in the profile, and the regex the parser makes
	// of it.
	for glob, regex := range map[string]string{
		`/srv/a\,b#c`:             "/srv/a,b#c",
		`/srv/say \"hi\"`:         `/srv/say "hi"`,
		`/srv/back\\slash`:        `/srv/back\\slash`,
		`/srv/star\*`:             `/srv/star\*`,
		`/srv/q\?`:                `/srv/q?`,
		`/srv/\{\}\[\]`:           `/srv/\{\}\[\]`,
		`/srv/@x`:                 `/srv/@x`,
		`/srv/@\{pid\}`:           `/srv/@\{pid\}`,
		`/srv/my site/index.html`: `/srv/my site/index\.html`,
		`/x/a\,b\,c`:              `/x/a,b,c`,
		`/x/[^-a-z.]?`:            `/x/[^-a-z\.][^/\x00]`,
		`/données/été`:            `/données/été`,
	} {
		if !strings.Contains(string(out), "   ->   "+regex+"\n") {
			t.Errorf("pattern %s: no regex %s in the parser's dump", glob, regex)
		}
	}
}
