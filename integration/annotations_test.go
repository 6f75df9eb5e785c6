package integration

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secrun/secrun/profiles"
)

// allowAllBPF is a seccomp program of one instruction, `ret ALLOW`, as crun
// reads run.oci.seccomp_bpf_data: base64 of struct sock_filter[].
func allowAllBPF() string {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, struct {
		Code   uint16
		Jt, Jf uint8
		K      uint32
	}{Code: 0x06 /* BPF_RET|BPF_K */, K: 0x7fff0000 /* SECCOMP_RET_ALLOW */})
	return base64.StdEncoding.EncodeToString(b.Bytes())
}

func annotate(b *Bundle, ann map[string]string) {
	m, _ := b.Spec["annotations"].(map[string]any)
	if m == nil {
		m = map[string]any{}
		b.Spec["annotations"] = m
	}
	for k, v := range ann {
		m[k] = v
	}
}

// refusedCreate runs create and checks that it failed, left config.json
// alone and told containerd why (log.json's last error has all of want).
func refusedCreate(t *testing.T, e *Env, b *Bundle, id string, want ...string) {
	t.Helper()
	before, _ := os.ReadFile(b.ConfigPath())
	if _, err := e.Create(t, b, id); err == nil {
		e.Cmd(b.Dir, "delete", "--force", id).Run()
		t.Fatalf("create %s succeeded", id)
	}
	if after, _ := os.ReadFile(b.ConfigPath()); !bytes.Equal(before, after) {
		t.Error("config.json changed")
	}
	msg := lastError(t, filepath.Join(b.Dir, "log.json"))
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("log.json error %q lacks %q", msg, w)
		}
	}
}

// crun replaces linux.seccomp with run.oci.seccomp_bpf_data: secrun refuses
// the annotation on every runtime (runc ignores it, but the node may switch
// runtimes), and plain crun shows what it would have given back.
func TestRuntimeAnnotationsRefused(t *testing.T) {
	for _, rt := range runtimes() {
		t.Run(rt.Name, func(t *testing.T) {
			e := newEnv(t, rt)
			for i, ann := range []map[string]string{
				{"run.oci.seccomp_bpf_data": allowAllBPF()},
				{"run.oci.seccomp.plugins": "/nonexistent/plugin.so"},
				{"run.oci.keep_original_groups": "1"},
				{"org.systemd.property.DeviceAllow": "'/dev/sda rwm'"},
				{"org.criu.config": "/tmp/criu.conf"},
				{"bundle": "/tmp"},
			} {
				var key string
				for key = range ann {
				}
				b := newBundle(t, "/bin/probe", "status")
				annotate(b, ann)
				b.Save(t)
				refusedCreate(t, e, b, fmt.Sprintf("ann-%d", i), key, "[annotations] allow in "+e.Config)
			}

			// Allowed by the node admin, it runs, still confined.
			e.WriteConfig(t, "[annotations]\nallow = [\"run.oci.keep_original_groups\"]\n")
			b := newBundle(t, "/bin/probe", "status")
			annotate(b, map[string]string{"run.oci.keep_original_groups": "1", "io.kubernetes.cri.container-type": "container", "example.com/team": "a"})
			b.Save(t)
			out, err := e.Run(t, b, "ann-allowed")
			if err != nil {
				t.Fatalf("allowed annotation: %v", err)
			}
			if f := fields(out); f["Seccomp"] != "2" || f["NoNewPrivs"] != "1" {
				t.Errorf("not confined:\n%s", out)
			}
		})
	}
}

// The contrast: through plain crun, one `ret ALLOW` instruction in the
// annotation undoes the spec's seccomp profile (Docker's default here).
func TestSeccompBPFDataBypassesCrun(t *testing.T) {
	rt := runtimes()[2]
	e := newEnv(t, rt)
	def, err := profiles.LevelNamed(profiles.RuntimeDefault).Seccomp(profiles.StockCaps())
	if err != nil {
		t.Fatal(err)
	}
	b := newBundle(t, "/bin/probe", "each", "keyctl", "unshare-user", "getppid")
	b.Spec["linux"].(map[string]any)["seccomp"] = def
	b.Save(t)
	if got := fields(e.Plain(t, b, "bpf-without")); got["keyctl"] != "EPERM" || got["unshare-user"] != "EPERM" || got["getppid"] != "ok" {
		t.Fatalf("without the annotation, Docker's profile should deny keyctl and unshare: %v", got)
	}
	annotate(b, map[string]string{"run.oci.seccomp_bpf_data": allowAllBPF()})
	b.Save(t)
	got := fields(e.Plain(t, b, "bpf-with"))
	if got["keyctl"] == "EPERM" || got["unshare-user"] == "EPERM" || got["getppid"] != "ok" {
		t.Errorf("plain crun with run.oci.seccomp_bpf_data: %v; expected the calls past the profile", got)
	}
	t.Logf("plain crun, Docker's profile + run.oci.seccomp_bpf_data: keyctl %s, unshare-user %s", got["keyctl"], got["unshare-user"])
	refusedCreate(t, e, b, "bpf-secrun", "run.oci.seccomp_bpf_data")
}

// A rule whose namespace and container patterns share a value matches on
// both; a loosening rule without a namespace is refused when the config loads.
func TestRuleMatchingAndNamespace(t *testing.T) {
	for _, rt := range runtimes() {
		t.Run(rt.Name, func(t *testing.T) {
			e := newEnv(t, rt)
			e.WriteConfig(t, "[[rules]]\nname = \"web\"\nnamespace = \"web\"\ncontainer = \"web\"\n[rules.capabilities]\nadd = [\"CAP_NET_ADMIN\"]\n[rules.podsecurity]\nallow = [\"capabilities\"]\n")
			want := append([]string{"CAP_NET_ADMIN"}, profiles.StockCaps()...)
			mk := func(ns string) *Bundle {
				b := newBundle(t, "/bin/probe", "status")
				caps := b.Spec["process"].(map[string]any)["capabilities"].(map[string]any)
				for _, set := range []string{"bounding", "effective", "permitted"} {
					caps[set] = want
				}
				annotate(b, map[string]string{
					"io.kubernetes.cri.container-type": "container", "io.kubernetes.cri.sandbox-namespace": ns,
					"io.kubernetes.cri.sandbox-name": "p", "io.kubernetes.cri.container-name": "web",
				})
				b.Save(t)
				return b
			}
			out, err := e.Run(t, mk("web"), "rule-web")
			if err != nil {
				t.Fatalf("namespace web, container web: %v", err)
			}
			if got := fields(out)["CapEff"]; got != capMask(t, append([]string{"CAP_NET_ADMIN"}, profiles.BaselineCaps()...)) {
				t.Errorf("CapEff %s: the rule's CAP_NET_ADMIN missing\n%s", got, out)
			}
			refusedCreate(t, e, mk("default"), "rule-other-ns", "CAP_NET_ADMIN")

			e.WriteConfig(t, "[[rules]]\nname = \"web\"\ncontainer = \"web\"\n[rules.capabilities]\nadd = [\"CAP_NET_ADMIN\"]\n")
			refusedCreate(t, e, mk("web"), "rule-no-ns", "rule \"web\"", "must also name a namespace", e.Config)
		})
	}
}

// A pod's recording lands under recordings_dir, written without following
// symlinks: a symlinked subdirectory does not redirect it, and a name with
// a newline is refused.
func TestRecordingBeneathRecordingsDir(t *testing.T) {
	for _, rt := range runtimes() {
		t.Run(rt.Name, func(t *testing.T) {
			e := newEnv(t, rt)
			dir, elsewhere := t.TempDir(), t.TempDir()
			e.WriteConfig(t, fmt.Sprintf("recordings_dir = %q\n", dir))
			mk := func(ns, name string) *Bundle {
				b := newBundle(t, "/bin/probe", "sys", "getppid")
				annotate(b, map[string]string{
					"secrun.io/record": name, "io.kubernetes.cri.container-type": "container",
					"io.kubernetes.cri.sandbox-namespace": ns, "io.kubernetes.cri.sandbox-name": "web-0",
					"io.kubernetes.cri.container-name": "app",
				})
				b.Save(t)
				return b
			}
			if _, err := e.Run(t, mk("shop", "v1"), "rec-ok"); err != nil {
				t.Fatalf("recorded run: %v", err)
			}
			out := filepath.Join(dir, "shop", "web-0", "app-v1.json")
			var data []byte
			for i := 0; i < 100 && len(data) == 0; i++ {
				time.Sleep(100 * time.Millisecond)
				data, _ = os.ReadFile(out)
			}
			if !bytes.Contains(data, []byte(`"getppid"`)) {
				logData, _ := os.ReadFile(out + ".log")
				t.Fatalf("no recording at %s: %q\nagent log:\n%s", out, data, logData)
			}

			os.Symlink(elsewhere, filepath.Join(dir, "evil"))
			refusedCreate(t, e, mk("evil", "v1"), "rec-symlink", "symlink")
			refusedCreate(t, e, mk("shop", "v1\nforged line"), "rec-newline", "control characters")
			if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
				t.Errorf("written through the symlink: %v", entries)
			}
		})
	}
}

// The node config and the profiles pods pick are trusted only when root
// owns them, and every directory and symlink on the way, and no one else
// can write them.
func TestNodeFilesTrusted(t *testing.T) {
	for _, rt := range runtimes() {
		t.Run(rt.Name, func(t *testing.T) {
			e := newEnv(t, rt)
			profDir := filepath.Join(t.TempDir(), "profiles")
			os.Mkdir(profDir, 0o755)
			prof := filepath.Join(profDir, "tight.json")
			os.WriteFile(prof, []byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getpgid"],"action":"SCMP_ACT_ERRNO"}]}`), 0o644)
			e.WriteConfig(t, fmt.Sprintf("profiles_dir = %q\n", profDir))
			b := newBundle(t, "/bin/probe", "status")
			annotate(b, map[string]string{"secrun.io/seccomp-profile": "tight"})
			b.Save(t)
			out, err := e.Run(t, b, "trust-ok")
			if err != nil {
				t.Fatalf("root's files: %v", err)
			}
			if f := fields(out); f["Seccomp"] != "2" {
				t.Errorf("not confined:\n%s", out)
			}

			os.Chown(prof, 65534, 65534)
			refusedCreate(t, e, b, "trust-profile", prof, "chown root")
			os.Chown(prof, 0, 0)
			os.Chmod(profDir, 0o777)
			refusedCreate(t, e, b, "trust-profdir", profDir, "chmod go-w")
			os.Chmod(profDir, 0o755)

			os.Chown(e.Config, 65534, 65534)
			refusedCreate(t, e, b, "trust-config", e.Config, "chown root")
			os.Chown(e.Config, 0, 0)
			link := filepath.Join(filepath.Dir(e.Config), "link.toml")
			os.Symlink(e.Config, link)
			os.Lchown(link, 65534, 65534)
			e.Config = link
			refusedCreate(t, e, b, "trust-link", link, "chown -h root")
		})
	}
}

// The contrast for "bundle": runc keeps annotations as key=value labels
// ahead of its own bundle=DIR and takes the first, so `runc exec` without
// --process builds the process from another directory's config.json:
// here one asking for CAP_SYS_ADMIN.
func TestBundleAnnotationRedirectsRuncExec(t *testing.T) {
	for _, rt := range runtimes()[:2] {
		t.Run(rt.Name, func(t *testing.T) {
			e := newEnv(t, rt)
			b := newBundle(t, "/bin/probe", "sleep", "30")
			evil := newBundle(t, "/bin/probe", "status")
			caps := append([]string{"CAP_SYS_ADMIN"}, profiles.StockCaps()...)
			evil.Spec["process"].(map[string]any)["capabilities"] = map[string]any{"bounding": caps, "effective": caps, "permitted": caps}
			evil.Save(t)
			annotate(b, map[string]string{"bundle": evil.Dir})
			b.Save(t)
			refusedCreate(t, e, b, "bundle-secrun", "bundle", "exec without --process")

			out, err := os.Create(filepath.Join(b.Dir, "plain.out"))
			if err != nil {
				t.Fatal(err)
			}
			defer out.Close()
			run := exec.Command(rt.Path, "--root", e.Root, "run", "-d", "--bundle", b.Dir, "bundle-plain")
			run.Stdout, run.Stderr = out, out
			if err := run.Run(); err != nil {
				data, _ := os.ReadFile(out.Name())
				t.Fatalf("plain run: %v %s", err, data)
			}
			defer exec.Command(rt.Path, "--root", e.Root, "delete", "-f", "bundle-plain").Run()
			got, err := exec.Command(rt.Path, "--root", e.Root, "exec", "bundle-plain", "/bin/probe", "status").Output()
			if err != nil {
				t.Fatalf("plain exec: %v", err)
			}
			if f := fields(string(got)); f["CapEff"] != capMask(t, caps) {
				t.Errorf("plain %s exec: CapEff %s, expected the other bundle's CAP_SYS_ADMIN set %s", rt.Name, f["CapEff"], capMask(t, caps))
			}
		})
	}
}

// A profile the spec carries with an action that is not a seccomp action
// is refused, naming the field, on every runtime: merged, secrun would rank
// it as a denial, and a runtime would read it its own way or fail later
// with a message that does not say which rule.
func TestUnknownSeccompActionRefused(t *testing.T) {
	for _, rt := range runtimes() {
		t.Run(rt.Name, func(t *testing.T) {
			e := newEnv(t, rt)
			for i, tc := range []struct {
				profile map[string]any
				field   string
			}{
				{map[string]any{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": []any{
					map[string]any{"names": []string{"read", "keyctl"}, "action": "SCMP_ACT_ALLOW_ALL"}}}, "linux.seccomp.syscalls[0].action"},
				{map[string]any{"defaultAction": "", "syscalls": []any{
					map[string]any{"names": []string{"read"}, "action": "SCMP_ACT_ALLOW"}}}, "linux.seccomp.defaultAction"},
			} {
				b := newBundle(t, "/bin/probe", "status")
				b.Spec["linux"].(map[string]any)["seccomp"] = tc.profile
				b.Save(t)
				refusedCreate(t, e, b, fmt.Sprintf("action-%d-%s", i, rt.Name), tc.field, "is not a seccomp action")
			}
		})
	}
}
