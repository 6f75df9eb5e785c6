package check

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) (string, int) {
	var out, errb bytes.Buffer
	code := Main(args, &out, &errb)
	return out.String() + errb.String(), code
}

func TestCheck(t *testing.T) {
	runc, err := exec.LookPath("runc")
	if err != nil {
		if os.Getenv("SECRUN_INTEGRATION") == "1" {
			t.Fatal("runc not installed")
		}
		t.Skip("runc not installed")
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	os.WriteFile(cfg, []byte("runtime = \""+runc+"\"\n[[rules]]\nnamespace = \"kube-*\"\nlevel = \"restricted\"\n"), 0o644)
	t.Setenv("SECRUN_CONFIG", cfg)
	t.Setenv("SECRUN_RUNTIME", "")
	self, _ := os.Executable()
	ctrd := filepath.Join(dir, "containerd.toml")
	os.WriteFile(ctrd, []byte("version = 2\nimports = [\"conf.d/*.toml\"]\n"), 0o644)
	os.MkdirAll(filepath.Join(dir, "conf.d"), 0o755)
	os.WriteFile(filepath.Join(dir, "conf.d/secrun.toml"), []byte(`version = 2
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.secrun]
  runtime_type = "io.containerd.runc.v2"
  pod_annotations = ["secrun.io/*"]
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.secrun.options]
    BinaryName = "`+self+`"
`), 0o644)

	out, code := run(t, "--containerd-config", ctrd)
	if code != 0 || !strings.Contains(out, "all checks passed") || !strings.Contains(out, "runtime \"secrun\" runs "+self) {
		t.Fatalf("healthy node: exit %d\n%s", code, out)
	}

	profDir := filepath.Join(dir, "profiles")
	os.MkdirAll(profDir, 0o755)
	os.WriteFile(profDir+"/typo.json", []byte(`{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","wirte"],"action":"SCMP_ACT_ALLOW"}]}`), 0o644)
	os.WriteFile(cfg, []byte("runtime = \""+runc+"\"\nprofiles_dir = \""+profDir+"\"\n"), 0o644)
	out, code = run(t, "--containerd-config", ctrd)
	if code != 1 || !strings.Contains(out, `unknown syscall(s) wirte`) {
		t.Errorf("typo in a profile: exit %d\n%s", code, out)
	}
	os.Remove(profDir + "/typo.json")

	os.Chmod(cfg, 0o664)
	out, code = run(t, "--containerd-config", ctrd)
	if code != 1 || !strings.Contains(out, "FAIL  node config:") || !strings.Contains(out, "chmod go-w") {
		t.Errorf("group-writable config: exit %d\n%s", code, out)
	}
	os.Chmod(cfg, 0o644)

	// containerd's rules: a later import overrides the entry (last one wins)
	os.WriteFile(filepath.Join(dir, "conf.d/zz.toml"), []byte(`version = 2
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.secrun.options]
  BinaryName = "/elsewhere/secrun"
`), 0o644)
	out, _ = run(t, "--containerd-config", ctrd)
	if !strings.Contains(out, "zz.toml: runtime \"secrun\" runs /elsewhere/secrun, not this secrun") {
		t.Errorf("later import overriding the entry:\n%s", out)
	}
	os.Remove(filepath.Join(dir, "conf.d/zz.toml"))
	// an import that does not exist stops containerd
	os.WriteFile(ctrd, []byte("version = 2\nimports = [\"conf.d/*.toml\", \"gone.toml\"]\n"), 0o644)
	out, code = run(t, "--containerd-config", ctrd)
	if code != 1 || !strings.Contains(out, "FAIL  containerd: "+ctrd+" imports "+filepath.Join(dir, "gone.toml")+", which does not exist") {
		t.Errorf("missing import: exit %d\n%s", code, out)
	}
	os.WriteFile(ctrd, []byte("version = 2\nimports = [\"conf.d/*.toml\"]\n"), 0o644)

	os.Remove(filepath.Join(dir, "conf.d/secrun.toml"))
	out, code = run(t, "--containerd-config", ctrd)
	if code != 1 || !strings.Contains(out, "FAIL  containerd: no runtime \"secrun\"") {
		t.Errorf("missing entry: exit %d\n%s", code, out)
	}
	if out, code = run(t, "--no-containerd"); code != 0 {
		t.Errorf("--no-containerd: exit %d\n%s", code, out)
	}
}
