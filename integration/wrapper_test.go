package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secrun/secrun/profiles"
)

// statusAndSyscalls is the container command: status lines, then primitives.
var statusAndSyscalls = []string{"sh", "-c", "probe status; probe sys keyctl unshare-user ptrace personality getppid"}

func TestRunConfines(t *testing.T) {
	for _, rt := range runtimes() {
		t.Run(rt.Name, func(t *testing.T) {
			e := newEnv(t, rt)
			plain := fields(e.Plain(t, newBundle(t, statusAndSyscalls...), "plain-"+rt.Name))
			// The contrast proves the assertions below can fail.
			if plain["Seccomp"] != "0" || plain["keyctl"] != "ok" || plain["CapEff"] != capMask(t, profiles.StockCaps()) {
				t.Fatalf("plain %s is not the unconfined baseline: %v", rt.Name, plain)
			}
			b := newBundle(t, statusAndSyscalls...)
			out, err := e.Run(t, b, "run-"+rt.Name)
			if err != nil {
				t.Fatal(err)
			}
			got := fields(out)
			want := map[string]string{
				"Seccomp": "2", "NoNewPrivs": "1",
				"CapEff": capMask(t, profiles.BaselineCaps()), "CapBnd": capMask(t, profiles.BaselineCaps()),
				"keyctl": "EPERM", "unshare-user": "EPERM", "getppid": "ok",
				"ptrace": "ESRCH", "personality": "ok",
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q (output:\n%s)", k, got[k], v, out)
				}
			}
		})
	}
}

func TestRestrictedLevel(t *testing.T) {
	for _, rt := range runtimes() {
		t.Run(rt.Name, func(t *testing.T) {
			e := newEnv(t, rt)
			e.WriteConfig(t, "level = \"restricted\"\n")
			out, err := e.Run(t, newBundle(t, statusAndSyscalls...), "restricted-"+rt.Name)
			if err != nil {
				t.Fatal(err)
			}
			got := fields(out)
			want := map[string]string{
				"Seccomp": "2", "CapEff": capMask(t, []string{"CAP_NET_BIND_SERVICE"}),
				"ptrace": "EPERM", "personality": "EPERM", "keyctl": "EPERM", "getppid": "ok",
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q (output:\n%s)", k, got[k], v, out)
				}
			}
		})
	}
}

// TestContainerdLifecycle drives create/start/state/delete with the flags
// containerd's runc shim passes.
func TestContainerdLifecycle(t *testing.T) {
	for _, rt := range runtimes() {
		t.Run(rt.Name, func(t *testing.T) {
			e := newEnv(t, rt)
			b := newBundle(t, statusAndSyscalls...)
			id := "life-" + rt.Name
			outFile, err := e.Create(t, b, id)
			if err != nil {
				t.Fatal(err)
			}
			if pid, err := os.ReadFile(filepath.Join(b.Dir, "init.pid")); err != nil || len(pid) == 0 {
				t.Fatalf("pid file: %v", err)
			}
			if out, err := e.Cmd(b.Dir, "start", id).CombinedOutput(); err != nil {
				t.Fatalf("start: %v %s", err, out)
			}
			e.waitStopped(t, id)
			if out, err := e.Cmd(b.Dir, "delete", id).CombinedOutput(); err != nil {
				t.Fatalf("delete: %v %s", err, out)
			}
			data, _ := os.ReadFile(outFile)
			got := fields(string(data))
			if got["Seccomp"] != "2" || got["NoNewPrivs"] != "1" || got["CapEff"] != capMask(t, profiles.BaselineCaps()) || got["keyctl"] != "EPERM" {
				t.Errorf("container output:\n%s", data)
			}
		})
	}
}

func TestExecIsConfined(t *testing.T) {
	for _, rt := range runtimes() {
		t.Run(rt.Name, func(t *testing.T) {
			e := newEnv(t, rt)
			b := newBundle(t, "probe", "sleep", "60")
			id := "exec-" + rt.Name
			e.Started(t, b, id)
			// A process file as CRI builds it from containerd's stored spec:
			// the original 14 capabilities, no no-new-privileges.
			procFile := filepath.Join(t.TempDir(), "process.json")
			writeProcess := func(caps []string) {
				p := map[string]any{
					"args": []string{"sh", "-c", "probe status; probe sys keyctl"}, "cwd": "/", "user": map[string]int{"uid": 0, "gid": 0},
					"env":          []string{"PATH=/bin"},
					"capabilities": map[string]any{"bounding": caps, "effective": caps, "permitted": caps},
				}
				data, _ := json.Marshal(p)
				os.WriteFile(procFile, data, 0o600)
			}
			writeProcess(profiles.StockCaps())
			out, err := e.Cmd(b.Dir, "exec", "--process", procFile, id).Output()
			if err != nil {
				t.Fatalf("exec: %v", err)
			}
			got := fields(string(out))
			if got["Seccomp"] != "2" || got["NoNewPrivs"] != "1" || got["CapEff"] != capMask(t, profiles.BaselineCaps()) || got["keyctl"] != "EPERM" {
				t.Errorf("exec'd process is not confined:\n%s", out)
			}

			writeProcess(append(profiles.StockCaps(), "CAP_SYS_ADMIN"))
			before, _ := os.ReadFile(procFile)
			cmd := e.Cmd(b.Dir, "exec", "--process", procFile, id)
			if out, err := cmd.CombinedOutput(); err == nil {
				t.Fatalf("exec asking for CAP_SYS_ADMIN ran:\n%s", out)
			}
			if msg := lastError(t, filepath.Join(b.Dir, "log.json")); !strings.Contains(msg, "CAP_SYS_ADMIN") {
				t.Errorf("log.json error = %q", msg)
			}
			if after, _ := os.ReadFile(procFile); !bytes.Equal(before, after) {
				t.Error("a refused process file was modified")
			}

			// The argument form: --cap beyond the container's set is refused.
			if out, err := e.Cmd(b.Dir, "exec", "--cap", "CAP_NET_RAW", id, "true").CombinedOutput(); err == nil {
				t.Errorf("exec --cap CAP_NET_RAW ran: %s", out)
			}
			out, err = e.Cmd(b.Dir, "exec", id, "probe", "status").Output()
			if err != nil || fields(string(out))["CapEff"] != capMask(t, profiles.BaselineCaps()) {
				t.Errorf("argument-form exec: %v\n%s", err, out)
			}
		})
	}
}

func TestRefusals(t *testing.T) {
	rt := runtimes()[0]
	e := newEnv(t, rt)
	cases := []struct {
		name string
		edit func(b *Bundle) []byte // returns the raw config to write, or nil to Save
		want string
	}{
		{"malformed JSON", func(b *Bundle) []byte { return []byte("{\"process\": {\"args\": [\"sh\"],}") }, "invalid JSON at line 1"},
		{"truncated JSON", func(b *Bundle) []byte {
			data, _ := json.Marshal(b.Spec)
			return data[:len(data)/2]
		}, "truncated"},
		{"CAP_SYS_ADMIN", func(b *Bundle) []byte {
			b.Spec["process"].(map[string]any)["capabilities"] = map[string]any{"bounding": []string{"CAP_SYS_ADMIN"}}
			return nil
		}, "looks privileged"},
		{"CAP_NET_ADMIN", func(b *Bundle) []byte {
			b.Spec["process"].(map[string]any)["capabilities"] = map[string]any{"bounding": []string{"CAP_NET_ADMIN"}}
			return nil
		}, "CAP_NET_ADMIN is not allowed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newBundle(t, "true")
			if raw := c.edit(b); raw != nil {
				os.WriteFile(b.ConfigPath(), raw, 0o644)
			} else {
				b.Save(t)
			}
			before, _ := os.ReadFile(b.ConfigPath())
			id := "refuse-" + strings.ReplaceAll(strings.ToLower(c.name), " ", "-")
			if _, err := e.Create(t, b, id); err == nil {
				e.Cmd(b.Dir, "delete", "--force", id).Run()
				t.Fatal("create succeeded")
			}
			if after, _ := os.ReadFile(b.ConfigPath()); !bytes.Equal(before, after) {
				t.Error("config.json changed")
			}
			msg := lastError(t, filepath.Join(b.Dir, "log.json"))
			if !strings.Contains(msg, c.want) || !strings.HasPrefix(msg, "secrun: ") {
				t.Errorf("containerd would report %q; want it to contain %q", msg, c.want)
			}
			// Nothing was started: the runtime does not know the container.
			if err := e.Cmd("", "state", id).Run(); err == nil {
				t.Error("the runtime has a container although secrun refused")
			}
		})
	}
}

// TestBrokenConfigKeepsPassthrough: a broken node config refuses create but
// state, kill and delete of a running container keep working.
func TestBrokenConfigKeepsPassthrough(t *testing.T) {
	e := newEnv(t, runtimes()[0])
	b := newBundle(t, "probe", "sleep", "60")
	id := "broken-config"
	if _, err := e.Create(t, b, id); err != nil {
		t.Fatal(err)
	}
	defer e.Cmd(b.Dir, "delete", "--force", id).Run()
	e.WriteConfig(t, "level = \"restricted\"\n[seccomp\nmode = ")
	if _, err := e.Create(t, newBundle(t, "true"), "other"); err == nil {
		t.Fatal("create with a broken config succeeded")
	}
	out, err := e.Cmd(b.Dir, "state", id).Output()
	if err != nil || !json.Valid(out) {
		t.Fatalf("state with a broken config: %v %q", err, out)
	}
	for _, args := range [][]string{{"start", id}, {"kill", id, "KILL"}} {
		if out, err := e.Cmd(b.Dir, args...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v %s", args, err, out)
		}
	}
	e.waitStopped(t, id)
	if out, err := e.Cmd(b.Dir, "delete", id).CombinedOutput(); err != nil {
		t.Fatalf("delete: %v %s", err, out)
	}
}

func TestVersion(t *testing.T) {
	for _, rt := range runtimes() {
		t.Run(rt.Name, func(t *testing.T) {
			e := newEnv(t, rt)
			want, err := exec.Command(rt.Path, "--root", e.Root, "--version").Output()
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.Cmd("", "--version").Output()
			if err != nil {
				t.Fatal(err)
			}
			first, rest, _ := strings.Cut(string(got), "\n")
			if !strings.HasPrefix(first, "secrun version ") || rest != string(want) {
				t.Errorf("--version:\n%s\nwant secrun's line then:\n%s", got, want)
			}
		})
	}
}

// TestRuntimeLoop: a runtime that leads back to secrun is caught.
func TestRuntimeLoop(t *testing.T) {
	e := newEnv(t, runtimes()[0])
	dir := t.TempDir()
	loop := filepath.Join(dir, "runc")
	os.WriteFile(loop, []byte(fmt.Sprintf("#!/bin/sh\nexec %s \"$@\"\n", secrun)), 0o755)
	cmd := exec.Command(secrun, "state", "x")
	cmd.Env = append(os.Environ(), "SECRUN_CONFIG="+e.Config, "SECRUN_RUNTIME="+loop)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "runtime loop") {
		t.Errorf("loop not caught: %v %s", err, out)
	}
}

func TestExplainWritesNothing(t *testing.T) {
	e := newEnv(t, runtimes()[0])
	b := newBundle(t, "true")
	before, _ := os.ReadFile(b.ConfigPath())
	cmd := exec.Command(secrun, "explain", "--bundle", b.Dir)
	cmd.Env = e.environ()
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"capabilities: bounding: dropped CAP_NET_RAW", "noNewPrivileges: set", "seccomp: added runtime-default", "would be rewritten"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("explain output lacks %q:\n%s", want, out)
		}
	}
	if after, _ := os.ReadFile(b.ConfigPath()); !bytes.Equal(before, after) {
		t.Error("explain wrote config.json")
	}
}

// TestToolsHandOff: tool commands run in secrun-tools next to secrun; a
// secrun installed without it names the missing file, and a secrun given
// as its own secrun-tools does not loop.
func TestToolsHandOff(t *testing.T) {
	out, err := exec.Command(secrun, "apparmor", "default").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "profile secrun-default") {
		t.Fatalf("secrun apparmor default through secrun-tools: %v\n%s", err, out)
	}
	dir := t.TempDir()
	alone := filepath.Join(dir, "secrun")
	data, err := os.ReadFile(secrun)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(alone, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(alone, "check")
	cmd.Env = append(os.Environ(), "PATH=/usr/sbin:/usr/bin:/sbin:/bin")
	out, err = cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "secrun-tools") || !strings.Contains(string(out), "make install") {
		t.Errorf("missing secrun-tools: %v\n%s", err, out)
	}
	cmd = exec.Command(alone, "check")
	cmd.Env = append(os.Environ(), "SECRUN_TOOLS="+alone)
	out, err = cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "has no tools in it") {
		t.Errorf("secrun as its own secrun-tools: %v\n%s", err, out)
	}
}
