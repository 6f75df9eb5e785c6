package integration

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestPodSecurityPaths: specs that reached the host through paths (a
// relative bind source, overlay's lowerdir, another /proc/PID of the host,
// root.path, hooks, runtime state) are refused on every runtime with
// secrun's message in log.json; where cheap, the same bundle through the
// plain runtime shows what it would have exposed.
func TestPodSecurityPaths(t *testing.T) {
	hostRelease, _ := os.ReadFile("/etc/passwd")
	firstLine := strings.SplitN(string(hostRelease), "\n", 2)[0]
	kthread, _ := os.ReadFile("/proc/2/comm")
	type hostile struct {
		name string
		args []string
		edit func(t *testing.T, b *Bundle, e *Env)
		want []string // in log.json's error, besides "[podsecurity]"
		// plain, when set: what the plain runtime's output shows of the host.
		plain string
	}
	mount := func(m map[string]any) func(t *testing.T, b *Bundle, e *Env) {
		return func(t *testing.T, b *Bundle, e *Env) {
			b.Spec["mounts"] = append(b.Spec["mounts"].([]any), m)
		}
	}
	linux := func(b *Bundle) map[string]any { return b.Spec["linux"].(map[string]any) }
	setNS := func(typ, path string) func(t *testing.T, b *Bundle, e *Env) {
		return func(t *testing.T, b *Bundle, e *Env) {
			for _, n := range linux(b)["namespaces"].([]any) {
				if n := n.(map[string]any); n["type"] == typ {
					n["path"] = path
				}
			}
		}
	}
	cases := []hostile{
		{"relative bind source", []string{"cat", "/h/passwd"},
			mount(map[string]any{"destination": "/h", "type": "bind", "source": strings.Repeat("../", 12) + "etc", "options": []string{"rbind", "ro"}}),
			[]string{"host-path: mounts[", "/etc"}, firstLine},
		{"overlay lowerdir", []string{"cat", "/h/passwd"},
			func(t *testing.T, b *Bundle, e *Env) {
				empty := filepath.Join(b.Dir, "empty")
				os.Mkdir(empty, 0o755)
				mount(map[string]any{"destination": "/h", "type": "overlay", "source": "overlay", "options": []string{"lowerdir=" + empty + ":/etc"}})(t, b, e)
			},
			[]string{"host-path: mounts[", "overlay lowerdir /etc"}, firstLine},
		{"host pid namespace through /proc/2", []string{"cat", "/proc/2/comm"}, setNS("pid", "/proc/2/ns/pid"),
			[]string{"host-pid: linux.namespaces[", "/proc/2/ns/pid (the host's)"}, strings.TrimSpace(string(kthread))},
		{"host network namespace through /proc/self", []string{"true"}, setNS("network", "/proc/self/ns/net"),
			[]string{"host-network: linux.namespaces[", "(the host's)"}, ""},
		{"host mount namespace", []string{"true"}, setNS("mount", "/proc/2/ns/mnt"),
			[]string{"host-mount: linux.namespaces[", "(the host's)"}, ""},
		{"root.path /", []string{"true"}, func(t *testing.T, b *Bundle, e *Env) {
			b.Spec["root"] = map[string]any{"path": "/", "readonly": true}
		}, []string{"host-path: root.path = /"}, ""},
		{"root.path relative /etc", []string{"true"}, func(t *testing.T, b *Bundle, e *Env) {
			b.Spec["root"] = map[string]any{"path": strings.Repeat("../", 12) + "etc", "readonly": true}
		}, []string{"host-path: root.path", "/etc"}, ""},
		{"every device", []string{"true"}, func(t *testing.T, b *Bundle, e *Env) {
			linux(b)["resources"] = map[string]any{"devices": []any{map[string]any{"allow": true, "type": "a", "access": "rwm"}}}
		}, []string{"privileged: linux.resources.devices[0] = allows every device"}, ""},
		{"maskedPaths without kcore", []string{"true"}, func(t *testing.T, b *Bundle, e *Env) {
			linux(b)["maskedPaths"] = []string{"/proc/asound"}
		}, []string{"proc-mount: linux.maskedPaths = lacks /proc/acpi, /proc/kcore"}, ""},
		{"readonlyPaths without /proc/sys", []string{"true"}, func(t *testing.T, b *Bundle, e *Env) {
			linux(b)["readonlyPaths"] = []string{"/proc/bus"}
		}, []string{"proc-mount: linux.readonlyPaths = lacks /proc/fs, /proc/irq, /proc/sys"}, ""},
		{"second procfs", []string{"true"}, mount(map[string]any{"destination": "/tmp", "type": "proc", "source": "proc"}),
			[]string{"proc-mount: mounts[", "proc mounted at /tmp"}, ""},
		{"runtime state", []string{"cat", "/h/marker"}, func(t *testing.T, b *Bundle, e *Env) {
			os.WriteFile(filepath.Join(e.Root, "marker"), []byte("runtime-state\n"), 0o600)
			mount(map[string]any{"destination": "/h", "type": "bind", "source": e.Root, "options": []string{"rbind", "ro"}})(t, b, e)
		}, []string{"host-path: mounts[", "a sensitive host path"}, "runtime-state"},
		{"kubelet's dir", []string{"true"}, mount(map[string]any{"destination": "/h", "type": "bind", "source": "/var/lib/kubelet/pods", "options": []string{"rbind"}}),
			[]string{"host-path: mounts[", "runtime or kubelet state, under /var/lib/kubelet"}, ""},
		{"prestart hook", []string{"true"}, func(t *testing.T, b *Bundle, e *Env) {
			b.Spec["hooks"] = map[string]any{"prestart": []any{map[string]any{
				"path": "/bin/sh", "args": []string{"sh", "-c", "echo ran on the host > " + filepath.Join(b.Dir, "hooked")}}}}
		}, []string{"hooks: hooks.prestart[0].path = /bin/sh", "hooks_allow"}, ""},
		{"createRuntime hook", []string{"true"}, func(t *testing.T, b *Bundle, e *Env) {
			b.Spec["hooks"] = map[string]any{"createRuntime": []any{map[string]any{
				"path": "/bin/sh", "args": []string{"sh", "-c", "echo ran on the host > " + filepath.Join(b.Dir, "hooked")}}}}
		}, []string{"hooks: hooks.createRuntime[0].path = /bin/sh", "hooks_allow"}, ""},
	}
	for _, rt := range runtimes() {
		t.Run(rt.Name, func(t *testing.T) {
			e := newEnv(t, rt)
			for i, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					b := newBundle(t, c.args...)
					c.edit(t, b, e)
					b.Save(t)
					before, _ := os.ReadFile(b.ConfigPath())
					id := "pss-" + strconv.Itoa(i)
					if _, err := e.Create(t, b, id); err == nil {
						e.Cmd(b.Dir, "delete", "--force", id).Run()
						t.Fatal("create succeeded")
					}
					msg := lastError(t, filepath.Join(b.Dir, "log.json"))
					for _, w := range append(c.want, "secrun: ", "[podsecurity]") {
						if !strings.Contains(msg, w) {
							t.Errorf("log.json error %q lacks %q", msg, w)
						}
					}
					if after, _ := os.ReadFile(b.ConfigPath()); !bytes.Equal(before, after) {
						t.Error("config.json changed")
					}
					if err := e.Cmd("", "state", id).Run(); err == nil {
						t.Error("the runtime has a container although secrun refused")
					}
					if _, err := os.Stat(filepath.Join(b.Dir, "hooked")); err == nil {
						t.Error("a hook ran although secrun refused")
					}
					if c.plain != "" {
						cmd := exec.Command(rt.Path, "--root", e.Root, "run", "--bundle", b.Dir, id+"-plain")
						var errb bytes.Buffer
						cmd.Stderr = &errb
						outb, err := cmd.Output()
						out := string(outb)
						if err != nil {
							t.Fatalf("plain %s run: %v: %s", rt.Name, err, errb.String())
						}
						if !strings.Contains(out, c.plain) {
							t.Errorf("plain %s: output %q, want the host's %q (the contrast)", rt.Name, out, c.plain)
						}
					}
				})
			}
			// The hook's contrast: the plain runtime runs it on the host.
			b := newBundle(t, "true")
			cases[len(cases)-2].edit(t, b, e)
			b.Save(t)
			e.Plain(t, b, "pss-hook-plain")
			if data, err := os.ReadFile(filepath.Join(b.Dir, "hooked")); err != nil || !strings.Contains(string(data), "ran on the host") {
				t.Errorf("plain %s did not run the prestart hook: %v", rt.Name, err)
			}
		})
	}
}

// TestPodSecuritySandboxNamespaces: a CRI-like container joining its
// sandbox's namespaces through /proc/<pause pid>/ns/... still starts
// through secrun, and is in them.
func TestPodSecuritySandboxNamespaces(t *testing.T) {
	for _, rt := range runtimes() {
		t.Run(rt.Name, func(t *testing.T) {
			e := newEnv(t, rt)
			sandbox := newBundle(t, "sleep", "60")
			if _, err := e.Create(t, sandbox, "pss-sandbox"); err != nil {
				t.Fatal(err)
			}
			defer e.Cmd(sandbox.Dir, "delete", "--force", "pss-sandbox").Run()
			if out, err := e.Cmd(sandbox.Dir, "start", "pss-sandbox").CombinedOutput(); err != nil {
				t.Fatalf("start: %v %s", err, out)
			}
			pidData, err := os.ReadFile(filepath.Join(sandbox.Dir, "init.pid"))
			if err != nil {
				t.Fatal(err)
			}
			pid := strings.TrimSpace(string(pidData))
			want := map[string]string{}
			for _, ns := range []string{"net", "ipc", "uts"} {
				want[ns], _ = os.Readlink("/proc/" + pid + "/ns/" + ns)
			}
			self, _ := os.Readlink("/proc/self/ns/net")
			if want["net"] == "" || want["net"] == self {
				t.Fatalf("sandbox net namespace %q is unusable for the test (host's: %q)", want["net"], self)
			}
			b := newBundle(t, "sh", "-c", "for n in net ipc uts; do busybox readlink /proc/self/ns/$n; done")
			for _, n := range b.Spec["linux"].(map[string]any)["namespaces"].([]any) {
				n := n.(map[string]any)
				switch n["type"] {
				case "network":
					n["path"] = "/proc/" + pid + "/ns/net"
				case "ipc":
					n["path"] = "/proc/" + pid + "/ns/ipc"
				case "uts":
					n["path"] = "/proc/" + pid + "/ns/uts"
				}
			}
			b.Save(t)
			out, err := e.Run(t, b, "pss-member")
			if err != nil {
				t.Fatalf("a container joining its sandbox's namespaces was refused: %v", err)
			}
			if got := strings.Fields(out); len(got) != 3 || got[0] != want["net"] || got[1] != want["ipc"] || got[2] != want["uts"] {
				t.Errorf("container namespaces %q, want the sandbox's %v", out, want)
			}
		})
	}
}
