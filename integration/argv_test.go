package integration

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secrun/secrun/profiles"
)

// The command-line forms that runc and crun read differently (attached and
// abbreviated options, options after the ID, crun's argp globals): each one
// either is refused by secrun with its message in log.json, or the process
// the runtime starts is argvConfined, as read from inside it.

// argvConfined: the process the line starts is confined (any other want
// is the text of secrun's refusal in log.json).
const argvConfined = "confined"

type argvCase struct {
	name string
	// argv builds the words after secrun; evil is the bundle the line
	// points the runtime at, root the --root, log the --log.
	argv func(evil, root, log string) []string
	// runc (both versions) and crun: confined, or the text of secrun's refusal.
	runc, crun string
}

func logGlobals(root, log string) []string {
	return []string{"--root", root, "--log", log, "--log-format", "json"}
}

func kind(rt Runtime) string {
	if strings.HasPrefix(rt.Name, "runc") {
		return "runc"
	}
	return "crun"
}

// checkConfined asserts that probe status output is the argvConfined process.
func checkConfined(t *testing.T, out string) {
	t.Helper()
	got := fields(out)
	if got["Seccomp"] != "2" || got["NoNewPrivs"] != "1" || got["CapEff"] != capMask(t, profiles.BaselineCaps()) {
		t.Errorf("not confined: Seccomp %q NoNewPrivs %q CapEff %q (want 2, 1, %s)\n%s",
			got["Seccomp"], got["NoNewPrivs"], got["CapEff"], capMask(t, profiles.BaselineCaps()), out)
	}
}

// checkRefused asserts that secrun refused with want in containerd's reading of log.json.
func checkRefused(t *testing.T, err error, out, log, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("ran; want secrun to refuse:\n%s", out)
	}
	msg := lastError(t, log)
	if !strings.HasPrefix(msg, "secrun: ") || !strings.Contains(msg, want) {
		t.Errorf("log.json error = %q; want secrun's, containing %q", msg, want)
	}
	if fields(out)["Seccomp"] != "" {
		t.Errorf("the process ran:\n%s", out)
	}
}

func TestArgvBundleForms(t *testing.T) {
	run := func(words ...string) func(evil, root, log string) []string {
		return func(evil, root, log string) []string {
			argv := logGlobals(root, log)
			for _, w := range words {
				argv = append(argv, strings.ReplaceAll(w, "EVIL", evil))
			}
			return argv
		}
	}
	cases := []argvCase{
		{"attached -bDIR", run("run", "-bEVIL", "x"), "not an option", argvConfined},
		{"abbreviated --bund DIR", run("run", "--bund", "EVIL", "x"), "not an option", argvConfined},
		{"abbreviated --bundl=DIR", run("run", "--bundl=EVIL", "x"), "not an option", argvConfined},
		{"cluster -dbDIR", run("run", "-dbEVIL", "x"), "not an option", argvConfined},
		{"boolean with a value", run("run", "--no-pivot=false", "-b", "EVIL", "x"), argvConfined, "takes no value"},
		{"single-dash long -bundle DIR", run("run", "-bundle", "EVIL", "x"), argvConfined, "as arguments of run"},
		{"-b=DIR", run("run", "-b=EVIL", "x"), argvConfined, "does not exist"},
		{"options after the ID", run("run", "x", "--bundle", "EVIL"), argvConfined, "as arguments of run"},
		{"crun global abbreviation --roo", func(evil, root, log string) []string {
			return []string{"--roo", root, "--log", log, "--log-format", "json", "run", "--bundle", evil, "x"}
		}, "not an option", argvConfined},
		// secrun's first reading sees "state" (passed on untouched); crun
		// reads --program-name state, then run.
		{"crun hidden global --program-name", run("--program-name", "state", "run", "--bundle", "EVIL", "x"),
			"not an option", "secrun read the subcommand as"},
	}
	for _, rt := range runtimes() {
		t.Run(rt.Name, func(t *testing.T) {
			e := newEnv(t, rt)
			for i, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					// secrun runs in a decoy bundle: the one it would confine if it
					// misread the line; the runtime is pointed at evil.
					decoy := newBundle(t, "probe", "status")
					evil := newBundle(t, "probe", "status")
					log := filepath.Join(decoy.Dir, "log.json")
					argv := c.argv(evil.Dir, e.Root, log)
					id := "x"
					for j, a := range argv {
						if a == "x" {
							argv[j] = "argv-" + string(rune('a'+i))
							id = argv[j]
						}
					}
					cmd := exec.Command(secrun, argv...)
					cmd.Dir, cmd.Env = decoy.Dir, e.environ()
					var out, stderr bytes.Buffer
					cmd.Stdout, cmd.Stderr = &out, &stderr
					err := cmd.Run()
					defer exec.Command(rt.Path, "--root", e.Root, "delete", "--force", id).Run()
					want := c.runc
					if kind(rt) == "crun" {
						want = c.crun
					}
					if want == argvConfined {
						if err != nil {
							t.Fatalf("%v: %v\n%s%s", argv, err, out.String(), stderr.String())
						}
						checkConfined(t, out.String())
						return
					}
					checkRefused(t, err, out.String(), log, want)
				})
			}
		})
	}
}

func TestArgvExecForms(t *testing.T) {
	for _, rt := range runtimes() {
		t.Run(rt.Name, func(t *testing.T) {
			e := newEnv(t, rt)
			b := newBundle(t, "probe", "sleep", "60")
			id := "argv-exec-" + rt.Name
			e.Started(t, b, id)
			log := filepath.Join(b.Dir, "log.json")
			// A process file as a caller could write it: the stock
			// capabilities, no no-new-privileges.
			evil := filepath.Join(t.TempDir(), "evil.json")
			proc, _ := json.Marshal(map[string]any{
				"args": []string{"probe", "status"}, "cwd": "/", "user": map[string]int{"uid": 0, "gid": 0},
				"env":          []string{"PATH=/bin"},
				"capabilities": map[string]any{"bounding": profiles.StockCaps(), "effective": profiles.StockCaps(), "permitted": profiles.StockCaps()},
			})
			os.WriteFile(evil, proc, 0o600)
			g := logGlobals(e.Root, log)
			cases := []struct {
				name       string
				argv       []string
				runc, crun string // argvConfined, or the refusal's text
			}{
				{"argument form", append(g, "exec", id, "probe", "status"), argvConfined, argvConfined},
				{"-c CAP_SYS_ADMIN", append(g, "exec", "-c", "CAP_SYS_ADMIN", id, "probe", "status"), "CAP_SYS_ADMIN", "CAP_SYS_ADMIN"},
				{"--ca CAP_SYS_ADMIN", append(g, "exec", "--ca", "CAP_SYS_ADMIN", id, "probe", "status"), "not an option", "CAP_SYS_ADMIN"},
				{"-cCAP_SYS_ADMIN", append(g, "exec", "-cCAP_SYS_ADMIN", id, "probe", "status"), "not an option", "CAP_SYS_ADMIN"},
				{"-pFILE", append(g, "exec", "-p"+evil, id), "not an option", argvConfined},
				{"--proces FILE", append(g, "exec", "--proces", evil, id), "not an option", "abbreviates"},
				{"--no-new-privs=false", append(g, "exec", "--no-new-privs=false", id, "probe", "status"), "--no-new-privs=false", "takes no value"},
				{"--roo ROOT", append([]string{"--roo", e.Root, "--log", log, "--log-format", "json"}, "exec", id, "probe", "status"), "not an option", argvConfined},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					os.WriteFile(evil, proc, 0o600)
					cmd := exec.Command(secrun, c.argv...)
					cmd.Env = e.environ()
					var out bytes.Buffer
					cmd.Stdout = &out
					err := cmd.Run()
					want := c.runc
					if kind(rt) == "crun" {
						want = c.crun
					}
					if want == argvConfined {
						if err != nil {
							t.Fatalf("%v: %v (log.json: %s)\n%s", c.argv, err, lastError(t, log), out.String())
						}
						checkConfined(t, out.String())
						return
					}
					checkRefused(t, err, out.String(), log, want)
				})
			}
			// An allowed --cap in the argument form: runc adds it to the
			// container's sets, crun gives the process that capability
			// alone; either way within the container's, with no_new_privs.
			cmd := exec.Command(secrun, append(g, "exec", "--cap", "CAP_CHOWN", id, "probe", "status")...)
			cmd.Env = e.environ()
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("exec --cap CAP_CHOWN: %v (log.json: %s)", err, lastError(t, log))
			}
			want := capMask(t, profiles.BaselineCaps())
			if kind(rt) == "crun" {
				want = capMask(t, []string{"CAP_CHOWN"})
			}
			if got := fields(string(out)); got["NoNewPrivs"] != "1" || got["CapEff"] != want || got["Seccomp"] != "2" {
				t.Errorf("exec --cap CAP_CHOWN: NoNewPrivs %q CapEff %q Seccomp %q, want 1 %s 2", got["NoNewPrivs"], got["CapEff"], got["Seccomp"], want)
			}
		})
	}
}

// TestArgvContainerdShapes: the shapes containerd and BuildKit send keep
// working through the exact reading.
func TestArgvContainerdShapes(t *testing.T) {
	for _, rt := range runtimes() {
		t.Run(rt.Name, func(t *testing.T) {
			e := newEnv(t, rt)
			b := newBundle(t, "probe", "sleep", "60")
			id := "argv-shapes-" + rt.Name
			// The container inherits stdio: a file, never a pipe (see Env.Create).
			f, _ := os.Create(filepath.Join(b.Dir, "create.out"))
			cmd := e.Cmd(b.Dir, "create", "--bundle", b.Dir, "--pid-file", filepath.Join(b.Dir, "init.pid"), "--no-new-keyring", id)
			cmd.Stdout, cmd.Stderr = f, f
			err := cmd.Run()
			f.Close()
			if err != nil {
				data, _ := os.ReadFile(f.Name())
				t.Fatalf("create: %v %s", err, data)
			}
			defer e.Cmd(b.Dir, "delete", "--force", id).Run()
			if out, err := e.Cmd(b.Dir, "start", id).CombinedOutput(); err != nil {
				t.Fatalf("start: %v %s", err, out)
			}
			procFile := filepath.Join(t.TempDir(), "process.json")
			proc, _ := json.Marshal(map[string]any{
				"args": []string{"probe", "status"}, "cwd": "/", "user": map[string]int{"uid": 0, "gid": 0},
				"env": []string{"PATH=/bin"},
			})
			os.WriteFile(procFile, proc, 0o600)
			outFile := filepath.Join(t.TempDir(), "out")
			f, _ = os.Create(outFile)
			exe := e.Cmd(b.Dir, "exec", "--process", procFile, "--detach", "--pid-file", filepath.Join(t.TempDir(), "p.pid"), id)
			exe.Stdout, exe.Stderr = f, f
			if err := exe.Run(); err != nil {
				f.Close()
				data, _ := os.ReadFile(outFile)
				t.Fatalf("exec --process --detach: %v %s", err, data)
			}
			f.Close()
			// Passthrough commands with a container named like a subcommand.
			if out, err := e.Cmd(b.Dir, "state", id).Output(); err != nil || !json.Valid(out) {
				t.Fatalf("state: %v %q", err, out)
			}
			// A container named like a subcommand: passed on, the runtime answers.
			if msg, err := e.Cmd("", "state", "run").CombinedOutput(); err == nil || strings.Contains(string(msg), "secrun") {
				t.Errorf("state run: %v %s", err, msg)
			}
			if out, err := e.Cmd(b.Dir, "kill", id, "KILL").CombinedOutput(); err != nil {
				t.Fatalf("kill: %v %s", err, out)
			}
		})
	}
	// BuildKit's run --keep (runc only: crun 1.8.1 has no --keep).
	for _, rt := range runtimes()[:2] {
		t.Run(rt.Name+"/run --keep", func(t *testing.T) {
			e := newEnv(t, rt)
			b := newBundle(t, "probe", "status")
			id := "argv-keep-" + rt.Name
			cmd := exec.Command(secrun, "--root", e.Root, "run", "--keep", "--bundle", b.Dir, id)
			cmd.Env = e.environ()
			out, err := cmd.Output()
			defer e.Cmd("", "delete", "--force", id).Run()
			if err != nil {
				t.Fatalf("run --keep: %v", err)
			}
			checkConfined(t, string(out))
			if err := e.Cmd("", "state", id).Run(); err != nil {
				t.Errorf("run --keep did not keep the container: %v", err)
			}
		})
	}
}
