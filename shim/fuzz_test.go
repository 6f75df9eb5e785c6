package shim

import (
	"slices"
	"strings"
	"testing"
)

// FuzzParse: no command line crashes the parser or is modified by it, and
// the subcommand it finds is a token of argv.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"--root /r --log /l --log-format json create --bundle /b --pid-file /p id",
		"--log=x exec --process /p -d id sh -c x",
		"--frob create -b", "-- run", "--root", "restore -b=/x --lsm-profile apparmor:p id", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		argv := append([]string{"secrun"}, strings.Split(line, " ")...)
		orig := slices.Clone(argv)
		inv := Parse(argv)
		if !slices.Equal(argv, orig) || !slices.Equal(inv.Argv, orig) {
			t.Fatal("argv modified")
		}
		if inv.Command != "" && !slices.Contains(argv[1:], inv.Command) {
			t.Fatalf("command %q not in argv", inv.Command)
		}
		for _, cmd := range []string{"create", "exec", "restore"} {
			if c, err := ParseCmd(cmd, inv.Args, "/cwd"); err == nil && !strings.HasPrefix(c.Bundle, "/") {
				t.Fatalf("relative bundle %q", c.Bundle)
			}
		}
	})
}
