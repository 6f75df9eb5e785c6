package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Containerd is a private containerd daemon: its own root, state, sockets
// and runc root under a temp dir, never the system's.
type Containerd struct {
	Name       string // "1.6" or "2.2"
	Bin, Ctr   string
	Runc       string // the real runtime secrun execs
	Dir, Sock  string
	SecrunConf string // the node config secrun reads (SECRUN_CONFIG)
	cmd        *exec.Cmd
}

func containerds() []*Containerd {
	tools := filepath.Dir(runtimes()[1].Path)
	return []*Containerd{
		{Name: "1.6", Bin: "/usr/bin/containerd", Ctr: "/usr/bin/ctr", Runc: "/usr/sbin/runc"},
		{Name: "2.2", Bin: tools + "/containerd", Ctr: tools + "/ctr", Runc: tools + "/runc"},
	}
}

func crictlPath() string { return filepath.Join(filepath.Dir(runtimes()[1].Path), "crictl") }

// configText is the daemon's config: containerd 1.6 reads version 2,
// containerd 2.x version 3. The secrun runtime entry is what
// `secrun setup containerd` registers.
func (c *Containerd) configText() string {
	shared := fmt.Sprintf(`root = %q
state = %q
[grpc]
  address = %q
[ttrpc]
  address = %q
`, c.Dir+"/root", c.Dir+"/state", c.Sock, c.Sock+".ttrpc")
	runtimesTmpl := `
  [%[1]s.containerd]
    default_runtime_name = "runc"
    [%[1]s.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [%[1]s.containerd.runtimes.runc.options]
        BinaryName = %[2]q
        Root = %[4]q
    [%[1]s.containerd.runtimes.secrun]
      runtime_type = "io.containerd.runc.v2"
      pod_annotations = ["secrun.io/*"]
      [%[1]s.containerd.runtimes.secrun.options]
        BinaryName = %[3]q
        Root = %[4]q
  [%[1]s.cni]
    bin_dir = %[5]q
    conf_dir = %[6]q
`
	if c.Name == "1.6" {
		sec := `plugins."io.containerd.grpc.v1.cri"`
		return "version = 2\n" + shared + fmt.Sprintf(`[%s]
  sandbox_image = %q
  restrict_oom_score_adj = true
  enable_selinux = false
`, sec, testImage) + fmt.Sprintf(runtimesTmpl, sec, c.Runc, secrun, c.Dir+"/runc", c.Dir+"/cni/bin", c.Dir+"/cni/conf")
	}
	sec := `plugins."io.containerd.cri.v1.runtime"`
	return "version = 3\n" + shared + fmt.Sprintf(`[plugins."io.containerd.cri.v1.images".pinned_images]
  sandbox = %q
[%s]
  restrict_oom_score_adj = true
  enable_selinux = false
`, testImage, sec) + fmt.Sprintf(runtimesTmpl, sec, c.Runc, secrun, c.Dir+"/runc", c.Dir+"/cni/bin", c.Dir+"/cni/conf")
}

var imageTar string

func (c *Containerd) Start(t *testing.T) {
	t.Helper()
	for _, p := range []string{c.Bin, c.Ctr, crictlPath(), c.Runc} {
		if _, err := os.Stat(p); err != nil {
			if required() {
				t.Fatalf("%s missing (script/install-deps.sh installs it)", p)
			}
			t.Skipf("%s missing", p)
		}
	}
	// Unix socket paths are limited to 108 bytes: keep the dir short.
	dir, err := os.MkdirTemp("/tmp", "ctrd")
	if err != nil {
		t.Fatal(err)
	}
	c.Dir, c.Sock = dir, dir+"/c.sock"
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.MkdirAll(dir+"/cni/bin", 0o755)
	os.MkdirAll(dir+"/cni/conf", 0o755)
	c.SecrunConf = dir + "/secrun.toml"
	c.WriteSecrunConfig(t, c.baseSecrunConfig())
	cfg := dir + "/config.toml"
	os.WriteFile(cfg, []byte(c.configText()), 0o600)
	log, _ := os.Create(dir + "/containerd.log")
	c.cmd = exec.Command(c.Bin, "--config", cfg)
	c.cmd.Stdout, c.cmd.Stderr = log, log
	// The shim inherits the daemon's environment, and secrun the shim's.
	path := os.Getenv("PATH")
	if c.Name != "1.6" {
		path = filepath.Dir(c.Bin) + ":" + path
	}
	c.cmd.Env = append(os.Environ(), "PATH="+path, "SECRUN_CONFIG="+c.SecrunConf)
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop(t) })
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := exec.Command(c.Ctr, "-a", c.Sock, "version").Run(); err == nil {
			break
		}
		if time.Now().After(deadline) {
			data, _ := os.ReadFile(dir + "/containerd.log")
			t.Fatalf("containerd %s did not come up:\n%s", c.Name, data)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if imageTar == "" {
		imageTar = filepath.Join(work, "image.tar")
		buildImage(t, imageTar)
	}
	if out, err := exec.Command(c.Ctr, "-a", c.Sock, "-n", "k8s.io", "images", "import", imageTar).CombinedOutput(); err != nil {
		t.Fatalf("ctr import: %v\n%s", err, out)
	}
}

// baseSecrunConfig is the node config of these tests: this VM has no CNI,
// so every pod uses the host's network, which Pod Security baseline forbids.
func (c *Containerd) baseSecrunConfig() string {
	return fmt.Sprintf("runtime = %q\n[podsecurity]\nallow = [\"host-network\"]\n", c.Runc)
}

func (c *Containerd) WriteSecrunConfig(t *testing.T, text string) {
	t.Helper()
	if err := os.WriteFile(c.SecrunConf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Stop removes what is left through CRI, then stops the daemon and the
// shims it started.
func (c *Containerd) Stop(t *testing.T) {
	if c.cmd == nil || c.cmd.Process == nil {
		return
	}
	if out, err := c.Crictl("pods", "-q"); err == nil {
		for _, id := range strings.Fields(out) {
			c.Crictl("stopp", id)
			c.Crictl("rmp", "-f", id)
		}
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	// Shims outlive the daemon by design; ours must not outlive the test.
	exec.Command("pkill", "-9", "-f", "containerd-shim-runc-v2 .*-address "+c.Sock).Run()
	exec.Command("umount", "-R", c.Dir+"/state").Run()
	exec.Command("sh", "-c", "grep ' "+c.Dir+"' /proc/mounts | cut -d' ' -f2 | sort -r | xargs -r umount -l").Run()
	c.cmd = nil
}

func (c *Containerd) Crictl(args ...string) (string, error) {
	full := append([]string{"--runtime-endpoint", "unix://" + c.Sock, "--image-endpoint", "unix://" + c.Sock, "--timeout", "60s"}, args...)
	cmd := exec.Command(crictlPath(), full...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		// What crictl shows a person: its stderr.
		return string(out) + stderr.String(), err
	}
	return string(out), nil
}

func (c *Containerd) mustCrictl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := c.Crictl(args...)
	if err != nil {
		t.Fatalf("crictl %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(out)
}

func writeJSON(t *testing.T, v any) string {
	f, err := os.CreateTemp(t.TempDir(), "*.json")
	if err != nil {
		t.Fatal(err)
	}
	json.NewEncoder(f).Encode(v)
	f.Close()
	return f.Name()
}

// podConfig is a host-network pod (no CNI here).
func (c *Containerd) podConfig(t *testing.T, ns, name string, annotations map[string]string) string {
	return writeJSON(t, map[string]any{
		"metadata":      map[string]any{"name": name, "namespace": ns, "uid": name + "-uid", "attempt": 0},
		"log_directory": t.TempDir(),
		"annotations":   annotations,
		"linux":         map[string]any{"security_context": map[string]any{"namespace_options": map[string]any{"network": 2}}},
	})
}

// kubelet's default /proc masking (ProcMount Default); crictl sends none.
var (
	kubeletMasked = []string{"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap"}
	kubeletReadonly = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
)

// containerConfig is a container as kubelet would send it to CRI.
func containerConfig(t *testing.T, name string, addCaps []string, command ...string) string {
	sc := map[string]any{"masked_paths": kubeletMasked, "readonly_paths": kubeletReadonly}
	if len(addCaps) > 0 {
		sc["capabilities"] = map[string]any{"add_capabilities": addCaps}
	}
	return writeJSON(t, map[string]any{
		"metadata": map[string]any{"name": name},
		"image":    map[string]any{"image": testImage},
		"command":  command,
		"log_path": name + ".log",
		"linux":    map[string]any{"security_context": sc},
	})
}

// procStatus reads Seccomp/CapEff/NoNewPrivs of a host PID.
func procStatus(t *testing.T, pid int) map[string]string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	return fields(string(data))
}

func inspectPid(t *testing.T, c *Containerd, what, id string) int {
	out := c.mustCrictl(t, what, "-o", "json", id)
	var v struct {
		Info struct {
			Pid int `json:"pid"`
		} `json:"info"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.Info.Pid == 0 {
		t.Fatalf("crictl %s %s: no pid (%v)\n%.500s", what, id, err, out)
	}
	return v.Info.Pid
}
