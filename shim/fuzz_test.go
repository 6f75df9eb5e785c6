package shim

import (
	"slices"
	"strings"
	"testing"
)

// FuzzParse: no command line crashes the parsers or is modified by them;
// the subcommand found is a word of argv; every value a dialect reads is a
// word of argv or the end of one (-bDIR, --bundle=DIR); a line accepted as
// every runtime reads it is read alike by each.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"--root /r --log /l --log-format json create --bundle /b --pid-file /p id",
		"--log=x exec --process /p -d id sh -c x",
		"--frob create -b", "-- run", "--root", "restore -b=/x --lsm-profile apparmor:p id", "",
		"run -db/evil id", "--roo /r exec -tp/x --no id sh", "run id --bundle /x", "exec -c=A --cap B -- id sh",
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
		fromArgv := func(v string) bool {
			return slices.ContainsFunc(argv[1:], func(w string) bool { return strings.HasSuffix(w, v) })
		}
		var readings []*reading
		for _, d := range allDialects {
			r, err := d.read(argv, full)
			if !slices.Equal(argv, orig) {
				t.Fatalf("%s modified argv", d.name)
			}
			if err != nil {
				continue
			}
			readings = append(readings, r)
			if r.Command != "" && argv[r.CmdIndex] != r.Command {
				t.Fatalf("%s: command %q is not argv[%d]", d.name, r.Command, r.CmdIndex)
			}
			for _, v := range append([]string{r.Root, r.Cmd.Bundle, r.Cmd.Process, r.Cmd.ID}, r.Cmd.Caps...) {
				if !fromArgv(v) {
					t.Fatalf("%s read %q, which is not in argv", d.name, v)
				}
			}
		}
		if r, err := readAll(allDialects, argv, full); err == nil {
			if len(readings) != len(allDialects) {
				t.Fatal("accepted as every runtime reads it, but a dialect refuses it")
			}
			for _, o := range readings {
				if show(o) != show(r) {
					t.Fatalf("accepted, but read as %s and %s", show(o), show(r))
				}
			}
		}
		for _, cmd := range []string{"create", "exec", "restore"} {
			if c, err := ParseCmd(cmd, inv.Args, "/cwd"); err == nil && !strings.HasPrefix(c.Bundle, "/") {
				t.Fatalf("relative bundle %q", c.Bundle)
			}
		}
	})
}
