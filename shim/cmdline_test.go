package shim

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// show renders a reading compactly for the tables below.
func show(r *reading) string {
	var b []string
	add := func(k, v string, set bool) {
		if set {
			b = append(b, k+"="+v)
		}
	}
	c := r.Cmd
	add("cmd", r.Command, true)
	add("root", r.Root, r.RootSet)
	add("bundle", c.Bundle, c.BundleSet)
	add("config", c.Config, c.ConfigSet)
	add("process", c.Process, c.Process != "")
	add("caps", strings.Join(c.Caps, ","), len(c.Caps) > 0)
	add("aa", c.AppArmor, c.AppArmor != "")
	add("lsm", c.LSM, c.LSM != "")
	if c.NoNewPrivs != nil {
		add("nnp", fmt.Sprint(*c.NoNewPrivs), true)
	}
	add("id", c.ID, c.ID != "")
	return strings.Join(b, " ")
}

// TestDialects: each line as runc 1.1, runc 1.2-1.5, crun < 1.22 and
// crun >= 1.22 read it (checked against the real binaries where installed:
// runc 1.1.5, runc 1.5.2, crun 1.8.1). A want starting with "!" is an error
// containing the rest. "same" repeats the previous column.
func TestDialects(t *testing.T) {
	const same = "same"
	cases := []struct {
		line                          string
		runc11, runc12, crun, crun122 string
	}{
		// What containerd, Docker and BuildKit send.
		{"--root /r --log /l --log-format json create --bundle /b --pid-file /b/init.pid --console-socket /s id",
			"cmd=create root=/r bundle=/b id=id", same, same, same},
		{"--root /r --log /l --log-format json --systemd-cgroup create --bundle /b --pid-file /p --no-pivot --no-new-keyring --preserve-fds 2 id",
			"cmd=create root=/r bundle=/b id=id", same, same, same},
		{"--root /r --criu /usr/sbin/criu create --bundle /b id", "cmd=create root=/r bundle=/b id=id", same, "!not an option", same},
		{"--root /r --log /l --log-format json exec --process /p.json --detach --pid-file /pp --console-socket /s id",
			"cmd=exec root=/r process=/p.json id=id", same, same, same},
		{"--root=/r exec --process=/p.json -d id", "cmd=exec root=/r process=/p.json id=id", same, same, same},
		{"run --keep --bundle /x id", "cmd=run bundle=/x id=id", same, same, same},
		{"restore -b /x --image-path /img --lsm-profile apparmor:p --detach id",
			"cmd=restore bundle=/x lsm=apparmor:p id=id", same, same, same},
		{"-- create --bundle /b id", "cmd=create bundle=/b id=id", same, same, same},
		{"state id", "cmd=state", same, same, same},
		{"kill run 9", "cmd=kill", same, same, same},

		// Attached and abbreviated forms: crun's alone.
		{"run -b/evil id", "!not an option", same, "cmd=run bundle=/evil id=id", same},
		{"run --bund /evil id", "!not an option", same, "cmd=run bundle=/evil id=id", same},
		{"run --bundl=/evil id", "!not an option", same, "cmd=run bundle=/evil id=id", same},
		{"run -db/evil id", "!not an option", same, "cmd=run bundle=/evil id=id", same},
		{"run --no-piv -b /x id", "!not an option", same, "cmd=run bundle=/x id=id", same},
		{"exec -c CAP_SYS_ADMIN id sh", "cmd=exec caps=CAP_SYS_ADMIN id=id", same, same, same},
		{"exec --ca CAP_SYS_ADMIN id sh", "!not an option", same, "cmd=exec caps=CAP_SYS_ADMIN id=id", same},
		{"exec -cCAP_SYS_ADMIN id sh", "!not an option", same, "cmd=exec caps=CAP_SYS_ADMIN id=id", same},
		{"exec -p/evil.json id", "!not an option", same, "cmd=exec process=/evil.json id=id", same},
		{"exec -dp /evil.json id", "!not an option", same, "cmd=exec process=/evil.json id=id", same},
		{"exec --proc=/evil.json id", "!not an option", same, "!abbreviates --process and --process-label", same},
		// -t's value is optional in crun, so it takes the rest of the word.
		{"exec -tp/evil.json id sh", "!not an option", same, "cmd=exec id=id", same},
		{"exec --no id sh", "!not an option", same, "cmd=exec nnp=true id=id", same},
		{"exec --c X id sh", "cmd=exec caps=X id=id", same, "!abbreviates", same},
		// Go's flag package: -b=X and -bundle; crun reads "=X" and "undle".
		{"run -b=/evil id", "cmd=run bundle=/evil id=id", same, "cmd=run bundle==/evil id=id", same},
		{"run -bundle /evil id", "cmd=run bundle=/evil id=id", same, "!as arguments of run", same},
		{"exec --no-new-privs=false id sh", "cmd=exec nnp=false id=id", same, "!takes no value", same},
		{"exec --no-new-privs id sh", "cmd=exec nnp=true id=id", same, same, same},
		// urfave/cli moves flags after the ID to the front; crun does not.
		{"run id --bundle /evil", "cmd=run bundle=/evil id=id", same, "!as arguments of run", same},
		{"run --detach id --bundle /evil", "!as arguments of run", same, same, same},
		{"run --pid-file /p id -b /evil", "cmd=run bundle=/evil id=id", same, "!as arguments of run", same},
		// Only the known flags move in urfave/cli 1.22.14+.
		{"run --no-pivot id --frob", "!as arguments of run", same, same, same},
		{"run id --frob", "!not an option", "!as arguments of run", "!as arguments of run", same},
		// exec: the first word that is not an option is the ID, the rest the command.
		{"exec id sh -c --cap=CAP_SYS_ADMIN --process /etc/x", "cmd=exec id=id", same, same, same},
		{"exec -- id sh", "cmd=exec id=id", same, same, same},
		{"exec id", "!needs a command", same, same, same},
		{"exec --process /p", "!needs a container ID", same, same, same},
		{"run --bundle -- id", "cmd=run bundle=-- id=id", same, same, same},
		{"run -b /x -- id", "cmd=run bundle=/x id=id", same, same, same},
		{"run --bundle /a --bundle /b id", "cmd=run bundle=/b id=id", same, same, same},
		{"run --bundle /a -b /b id", "!two forms", same, "cmd=run bundle=/b id=id", same},
		{"create --frob id", "!not an option", same, same, same},
		{"create --bundle", "!needs a value", same, same, same},
		{"create --bundle /b --config alt.json id", "!not an option", same, "cmd=create bundle=/b config=alt.json id=id", same},
		{"exec --cap=A -c B id sh", "!two forms", same, "cmd=exec caps=A,B id=id", same},

		// Global options.
		{"--debug=false create --bundle /b id", "cmd=create bundle=/b id=id", same, "!takes no value", same},
		{"-root /r create --bundle /b id", "cmd=create root=/r bundle=/b id=id", same, "!not an option", same},
		{"--roo /r create --bundle /b id", "!not an option", same, "cmd=create root=/r bundle=/b id=id", "!abbreviates"},
		{"--roo state create --bundle /evil id", "!not an option", same, "cmd=create root=state bundle=/evil id=id", "!abbreviates"},
		{"--root /r --rootless false create --bundle /b id", "cmd=create root=/r bundle=/b id=id", same, "cmd=create root=false bundle=/b id=id", "cmd=create root=/r bundle=/b id=id"},
		{"--program-name create run -b /evil id", "!not an option", same, "cmd=run bundle=/evil id=id", same},
		{"--HANG=0 run -b /evil id", "!not an option", same, "cmd=run bundle=/evil id=id", same},
		{"--log-level debug --root /r state id", "!not an option", same, "cmd=state root=/r", same},
		{"--frob create id", "!not an option", same, same, same},
	}
	ds := []dialect{runc11, runc12, crunBefore, crunAfter}
	for _, c := range cases {
		wants := []string{c.runc11, c.runc12, c.crun, c.crun122}
		for i := range wants {
			if wants[i] == same {
				wants[i] = wants[i-1]
			}
		}
		argv := append([]string{"secrun"}, strings.Fields(c.line)...)
		for i, d := range ds {
			orig := slices.Clone(argv)
			r, err := d.read(argv, full)
			got := ""
			if err != nil {
				got = "!" + err.Error()
			} else {
				got = show(r)
			}
			want := wants[i]
			ok := got == want
			if strings.HasPrefix(want, "!") {
				ok = strings.HasPrefix(got, "!") && strings.Contains(got, want[1:])
			}
			if !ok {
				t.Errorf("%s: %s\n got %s\nwant %s", d.name, c.line, got, want)
			}
			if !slices.Equal(argv, orig) {
				t.Fatalf("%s modified argv", d.name)
			}
		}
		// A runtime secrun does not know: only what all read alike.
		_, err := readAll(allDialects, argv, full)
		agree := !strings.HasPrefix(wants[0], "!") && slices.Equal(wants, []string{wants[0], wants[0], wants[0], wants[0]})
		if agree != (err == nil) {
			t.Errorf("unknown runtime: %s: err = %v, want accepted = %v", c.line, err, agree)
		}
	}
}

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "a/b"), 0o755)
	os.MkdirAll(filepath.Join(dir, "evil"), 0o755)
	// l -> evil/sub would be the bundle's parent only lexically.
	os.MkdirAll(filepath.Join(dir, "evil/sub"), 0o755)
	os.Symlink(filepath.Join(dir, "evil/sub"), filepath.Join(dir, "a/l"))
	cases := []struct {
		raw  rawCmd
		crun bool
		want CmdArgs
	}{
		{rawCmd{}, false, CmdArgs{Bundle: dir, Config: dir + "/config.json"}},
		{rawCmd{Bundle: "a/b/", BundleSet: true}, false, CmdArgs{Bundle: dir + "/a/b", Config: dir + "/a/b/config.json"}},
		// The kernel follows a/l to evil/sub, then goes up to evil.
		{rawCmd{Bundle: "a/l/../x", BundleSet: true}, false, CmdArgs{Bundle: dir + "/evil/x", Config: dir + "/evil/x/config.json"}},
		{rawCmd{Bundle: dir + "/a/l/..", BundleSet: true}, false, CmdArgs{Bundle: dir + "/evil", Config: dir + "/evil/config.json"}},
		{rawCmd{Bundle: "", BundleSet: true}, false, CmdArgs{Bundle: dir, Config: dir + "/config.json"}},
		// crun reads --config from where it started, except "config.json".
		{rawCmd{Bundle: "/b", BundleSet: true, Config: "alt.json", ConfigSet: true}, true, CmdArgs{Bundle: "/b", Config: dir + "/alt.json"}},
		{rawCmd{Bundle: "/b", BundleSet: true, Config: "config.json", ConfigSet: true}, true, CmdArgs{Bundle: "/b", Config: "/b/config.json"}},
		{rawCmd{Bundle: "/b", BundleSet: true, Config: "./config.json", ConfigSet: true}, true, CmdArgs{Bundle: "/b", Config: dir + "/config.json"}},
		{rawCmd{Process: "p.json", ID: "x"}, false, CmdArgs{Bundle: dir, Config: dir + "/config.json", Process: dir + "/p.json", ID: "x"}},
	}
	for _, c := range cases {
		got, err := resolve(c.raw, dir, c.crun)
		if err != nil {
			t.Errorf("%+v: %v", c.raw, err)
			continue
		}
		if fmt.Sprintf("%+v", *got) != fmt.Sprintf("%+v", c.want) {
			t.Errorf("%+v:\n got %+v\nwant %+v", c.raw, *got, c.want)
		}
	}
	if _, err := resolve(rawCmd{Bundle: "", BundleSet: true}, dir, true); err == nil {
		t.Error("crun: empty --bundle accepted")
	}
	if _, err := resolve(rawCmd{Bundle: "nowhere/..", BundleSet: true}, dir, false); err == nil {
		t.Error("a path through a missing directory and .. was resolved")
	}
}

func TestArgForm(t *testing.T) {
	cases := []struct {
		name, line string
		d          dialect
		want       bool
		result     string // argv after, or "!" error
	}{
		{"runc inherits", "--root /r exec id sh", runc12, true, "--root /r exec id sh"},
		{"runc nnp=false", "exec --no-new-privs=false id sh", runc11, true, "!--no-new-privs=false"},
		{"runc nnp=false, policy off", "exec --no-new-privs=false id sh", runc11, false, "exec --no-new-privs=false id sh"},
		{"crun inserts", "--root /r exec -t id sh", crunBefore, true, "--root /r exec --no-new-privs -t id sh"},
		{"crun inserts before --", "exec -- id sh", crunAfter, true, "exec --no-new-privs -- id sh"},
		{"crun already", "exec --no-new-privs id sh", crunBefore, true, "exec --no-new-privs id sh"},
		{"crun policy off", "exec id sh", crunBefore, false, "exec id sh"},
		{"crun global named exec", "--root exec exec id sh", crunBefore, true, "--root exec exec --no-new-privs id sh"},
	}
	for _, c := range cases {
		argv := append([]string{"secrun"}, strings.Fields(c.line)...)
		inv := Parse(argv)
		ds := []dialect{c.d}
		l, err := readLine(ds, argv, "/", full)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		a := l.Args
		a.OptIndex, a.InheritsNNP = l.CmdIndex+1, !c.d.crun
		err = argForm(inv, a, c.want)
		got := strings.Join(inv.Argv[1:], " ")
		if err != nil {
			got = "!" + err.Error()
		}
		if strings.HasPrefix(c.result, "!") {
			if !strings.Contains(got, c.result[1:]) {
				t.Errorf("%s: got %q, want error %q", c.name, got, c.result)
			}
		} else if got != c.result {
			t.Errorf("%s: argv %q, want %q", c.name, got, c.result)
		}
		if len(argv) > 0 && strings.Join(argv[1:], " ") != c.line {
			t.Errorf("%s: the caller's argv slice was modified", c.name)
		}
	}
}

// fakeRuntime writes a script that prints a version line and counts its runs.
func fakeRuntime(t *testing.T, version string) (path, count string) {
	dir := t.TempDir()
	path, count = filepath.Join(dir, "rt"), filepath.Join(dir, "count")
	script := fmt.Sprintf("#!/bin/sh\necho x >> %s\necho '%s'\n", count, version)
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path, count
}

func TestDialectsFor(t *testing.T) {
	facts := runtimeFacts{dir: filepath.Join(t.TempDir(), "cache")}
	cases := []struct {
		version string
		want    []dialect
	}{
		{"runc version 1.1.5+ds1", []dialect{runc11}},
		{"runc version 1.5.2", []dialect{runc12}},
		{"runc version 1.2.0-rc.1", []dialect{runc12}},
		{"runc version 1.6.0", allDialects}, // urfave/cli v3 on runc's main branch
		{"crun version 1.8.1", []dialect{crunBefore}},
		{"crun version 1.22", []dialect{crunAfter}},
		{"crun version 1.30.0", allDialects},
		{"youki version 0.3.0", allDialects},
	}
	for _, c := range cases {
		path, count := fakeRuntime(t, c.version)
		for i := 0; i < 2; i++ {
			got := facts.dialectsFor(path)
			if !slices.EqualFunc(got, c.want, func(a, b dialect) bool { return a.name == b.name }) {
				t.Errorf("%s: %v", c.version, got)
			}
		}
		if data, _ := os.ReadFile(count); strings.Count(string(data), "x") != 1 {
			t.Errorf("%s: --version ran %d times for two look-ups", c.version, strings.Count(string(data), "x"))
		}
	}
}

func TestCheckPassthrough(t *testing.T) {
	facts := runtimeFacts{dir: filepath.Join(t.TempDir(), "cache")}
	crun, _ := fakeRuntime(t, "crun version 1.8.1")
	runc, _ := fakeRuntime(t, "runc version 1.1.5")
	cases := []struct {
		rt, line string
		ok       bool
	}{
		{crun, "--root /r state id", true},
		{crun, "--root /r kill run 9", true},
		{crun, "--root /r delete --force exec", true},
		{crun, "--roo state create --bundle /evil id", false},
		{crun, "--program-name kill exec id sh", false},
		{runc, "--roo state create --bundle /evil id", false},
		{runc, "--root /r kill create KILL", true},
	}
	for _, c := range cases {
		argv := append([]string{"secrun"}, strings.Fields(c.line)...)
		inv := Parse(argv)
		inv.facts = facts
		err := checkPassthrough(c.rt, inv)
		if (err == nil) != c.ok {
			t.Errorf("%s: err = %v, want ok = %v", c.line, err, c.ok)
		}
	}
}
