package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/secrun/secrun/profiles"
)

// TestContainerd runs containers through real containerd 1.6 and 2.2 with
// secrun as a runtime: ctr --runc-binary, and CRI through crictl.
func TestContainerd(t *testing.T) {
	for _, c := range containerds() {
		t.Run(c.Name, func(t *testing.T) {
			c.Start(t)
			t.Run("ctr run --runc-binary", func(t *testing.T) { testCtrRun(t, c) })
			t.Run("CRI pod and exec confined", func(t *testing.T) { testCRIConfined(t, c) })
			t.Run("CRI refusal reaches crictl", func(t *testing.T) { testCRIRefusal(t, c) })
			t.Run("CRI per-workload rule", func(t *testing.T) { testCRIRule(t, c) })
			t.Run("CRI annotation picks profile", func(t *testing.T) { testCRIAnnotation(t, c) })
			t.Run("CRI host-PID pod refused", func(t *testing.T) { testCRIHostPID(t, c) })
			t.Run("CRI recording by annotation", func(t *testing.T) { testCRIRecord(t, c) })
			t.Run("CRI broken config cleanup", func(t *testing.T) { testCRIBrokenConfig(t, c) })
		})
	}
}

func confined(t *testing.T, what string, st map[string]string, caps []string) {
	t.Helper()
	if st["Seccomp"] != "2" || st["NoNewPrivs"] != "1" || st["CapEff"] != capMask(t, caps) {
		t.Errorf("%s is not confined: Seccomp=%s NoNewPrivs=%s CapEff=%s (want CapEff %s)", what, st["Seccomp"], st["NoNewPrivs"], st["CapEff"], capMask(t, caps))
	}
}

func testCtrRun(t *testing.T, c *Containerd) {
	id := "ctr-run-" + strings.ReplaceAll(c.Name, ".", "")
	cmd := exec.Command(c.Ctr, "-a", c.Sock, "-n", "k8s.io", "run", "--rm", "--runc-binary", secrun, testImage, id,
		"/bin/sh", "-c", "probe status; probe sys keyctl")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ctr run: %v\n%s", err, out)
	}
	confined(t, "ctr run container", fields(string(out)), profiles.BaselineCaps())
	if fields(string(out))["keyctl"] != "EPERM" {
		t.Errorf("keyctl not denied:\n%s", out)
	}
}

// runPod starts a pod and one container; it returns their IDs.
func runPod(t *testing.T, c *Containerd, runtime, ns, name string, ann map[string]string, ctrName string, caps []string) (string, string, error) {
	t.Helper()
	pcfg := c.podConfig(t, ns, name, ann)
	args := []string{"runp"}
	if runtime != "" {
		args = append(args, "--runtime", runtime)
	}
	out, err := c.Crictl(append(args, pcfg)...)
	if err != nil {
		return "", "", fmt.Errorf("runp: %s", out)
	}
	pod := strings.TrimSpace(out)
	t.Cleanup(func() { c.Crictl("stopp", pod); c.Crictl("rmp", "-f", pod) })
	out, err = c.Crictl("create", pod, containerConfig(t, ctrName, caps, "/bin/probe", "sleep", "100000"), pcfg)
	if err != nil {
		return pod, "", fmt.Errorf("create: %s", out)
	}
	ctr := strings.TrimSpace(out)
	if out, err := c.Crictl("start", ctr); err != nil {
		return pod, ctr, fmt.Errorf("start: %s", out)
	}
	return pod, ctr, nil
}

func testCRIConfined(t *testing.T, c *Containerd) {
	// Contrast: the same pod on plain runc is unconfined.
	_, plainCtr, err := runPod(t, c, "", "default", "plain", nil, "app", nil)
	if err != nil {
		t.Fatal(err)
	}
	if st := procStatus(t, inspectPid(t, c, "inspect", plainCtr)); st["Seccomp"] != "0" || st["CapEff"] != capMask(t, profiles.StockCaps()) {
		t.Fatalf("plain runc pod is not the unconfined baseline: %v", st)
	}
	pod, ctr, err := runPod(t, c, "secrun", "default", "web", nil, "app", nil)
	if err != nil {
		t.Fatal(err)
	}
	confined(t, "pod sandbox", procStatus(t, inspectPid(t, c, "inspectp", pod)), profiles.BaselineCaps())
	confined(t, "container", procStatus(t, inspectPid(t, c, "inspect", ctr)), profiles.BaselineCaps())
	out := c.mustCrictl(t, "exec", ctr, "/bin/sh", "-c", "probe status; probe sys keyctl unshare-user")
	confined(t, "crictl exec", fields(out), profiles.BaselineCaps())
	if f := fields(out); f["keyctl"] != "EPERM" || f["unshare-user"] != "EPERM" {
		t.Errorf("crictl exec: syscalls not denied:\n%s", out)
	}
}

func testCRIRefusal(t *testing.T, c *Containerd) {
	_, _, err := runPod(t, c, "secrun", "default", "admin", nil, "admin", []string{"SYS_ADMIN"})
	if err == nil {
		t.Fatal("a container asking for CAP_SYS_ADMIN started")
	}
	msg := err.Error()
	if !strings.Contains(msg, "secrun: ") || !strings.Contains(msg, "looks privileged") || strings.Contains(msg, "unable to retrieve OCI runtime error") {
		t.Errorf("crictl shows: %s", msg)
	}
}

func testCRIRule(t *testing.T, c *Containerd) {
	c.WriteSecrunConfig(t, c.baseSecrunConfig()+`
[[rules]]
name = "kube-proxy"
namespace = "kube-system"
container = "kube-proxy"
[rules.capabilities]
add = ["CAP_NET_ADMIN"]
[rules.podsecurity]
allow = ["capabilities"]
`)
	defer c.WriteSecrunConfig(t, c.baseSecrunConfig())
	_, ctr, err := runPod(t, c, "secrun", "kube-system", "kube-proxy-x", nil, "kube-proxy", []string{"NET_ADMIN"})
	if err != nil {
		t.Fatalf("the rule did not allow CAP_NET_ADMIN: %v", err)
	}
	confined(t, "kube-proxy", procStatus(t, inspectPid(t, c, "inspect", ctr)), append(slices.Clone(profiles.BaselineCaps()), "CAP_NET_ADMIN"))
	if _, _, err := runPod(t, c, "secrun", "default", "kube-proxy-y", nil, "kube-proxy", []string{"NET_ADMIN"}); err == nil || !strings.Contains(err.Error(), "CAP_NET_ADMIN is not allowed") {
		t.Errorf("outside kube-system CAP_NET_ADMIN must be refused: %v", err)
	}
}

func testCRIAnnotation(t *testing.T, c *Containerd) {
	_, ctr, err := runPod(t, c, "secrun", "default", "tight", map[string]string{"secrun.io/seccomp-profile": "restricted"}, "app", nil)
	if err != nil {
		t.Fatal(err)
	}
	out := c.mustCrictl(t, "exec", ctr, "probe", "sys", "personality", "getppid")
	if f := fields(out); f["personality"] != "EPERM" || f["getppid"] != "ok" {
		t.Errorf("the picked profile is not in force:\n%s", out)
	}
	_, _, err = runPod(t, c, "secrun", "default", "bogus", map[string]string{"secrun.io/seccomp-profile": "../../etc/passwd"}, "app", nil)
	if err == nil || !strings.Contains(err.Error(), "secrun.io/seccomp-profile") {
		t.Errorf("a path as profile name must be refused: %v", err)
	}
}

// testCRIHostPID: a pod sharing the host's PID namespace gets past the API
// server in many ways (static pods, a privileged namespace label); secrun
// refuses it on the node with a message crictl shows.
func testCRIHostPID(t *testing.T, c *Containerd) {
	pcfg := writeJSON(t, map[string]any{
		"metadata":      map[string]any{"name": "hostpid", "namespace": "default", "uid": "hostpid-uid"},
		"log_directory": t.TempDir(),
		"linux": map[string]any{"security_context": map[string]any{"namespace_options": map[string]any{
			"network": 2, "pid": 2}}},
	})
	out, err := c.Crictl("runp", "--runtime", "secrun", pcfg)
	if err == nil {
		c.Crictl("stopp", strings.TrimSpace(out))
		c.Crictl("rmp", strings.TrimSpace(out))
		t.Fatal("a host-PID pod started")
	}
	if !strings.Contains(out, "secrun: ") || !strings.Contains(out, "host-pid: linux.namespaces") || !strings.Contains(out, "[podsecurity] allow") {
		t.Errorf("crictl shows: %s", out)
	}
}

// testCRIRecord: a pod annotated secrun.io/record gets its container
// recorded; the profile lands under recordings_dir when the container stops.
func testCRIRecord(t *testing.T, c *Containerd) {
	dir := t.TempDir()
	c.WriteSecrunConfig(t, fmt.Sprintf("recordings_dir = %q\n", dir)+c.baseSecrunConfig())
	defer c.WriteSecrunConfig(t, c.baseSecrunConfig())
	_, ctr, err := runPod(t, c, "secrun", "shop", "web-0", map[string]string{"secrun.io/record": "v1"}, "app", nil)
	if err != nil {
		t.Fatal(err)
	}
	c.mustCrictl(t, "exec", ctr, "probe", "sys", "getppid")
	c.mustCrictl(t, "stop", "--timeout", "1", ctr)
	out := filepath.Join(dir, "shop", "web-0", "app-v1.json")
	var data []byte
	for i := 0; i < 100 && len(data) == 0; i++ {
		time.Sleep(100 * time.Millisecond)
		data, _ = os.ReadFile(out)
	}
	var p struct {
		DefaultAction string
		Syscalls      []struct{ Names []string }
	}
	if err := json.Unmarshal(data, &p); err != nil {
		logs, _ := filepath.Glob(dir + "/*/*/*")
		t.Fatalf("no recorded profile at %s (%v; files %v)", out, err, logs)
	}
	var names []string
	for _, r := range p.Syscalls {
		names = append(names, r.Names...)
	}
	if p.DefaultAction != "SCMP_ACT_ERRNO" || !slices.Contains(names, "getppid") || !slices.Contains(names, "nanosleep") && !slices.Contains(names, "clock_nanosleep") {
		t.Errorf("recorded profile: default %s, %d names: %v", p.DefaultAction, len(names), names)
	}
}

func testCRIBrokenConfig(t *testing.T, c *Containerd) {
	pod, ctr, err := runPod(t, c, "secrun", "default", "survivor", nil, "app", nil)
	if err != nil {
		t.Fatal(err)
	}
	// Break everything but the runtime line.
	c.WriteSecrunConfig(t, fmt.Sprintf("runtime = %q\n[seccomp\nmode = ", c.Runc))
	defer c.WriteSecrunConfig(t, c.baseSecrunConfig())
	for _, args := range [][]string{{"stop", ctr}, {"rm", ctr}, {"stopp", pod}, {"rmp", pod}} {
		c.mustCrictl(t, args...)
	}
	if out := c.mustCrictl(t, "pods", "-q", "--name", "survivor"); out != "" {
		t.Errorf("pod left behind: %s", out)
	}
	// New containers are refused while the config is broken.
	if _, _, err := runPod(t, c, "secrun", "default", "newcomer", nil, "app", nil); err == nil || !strings.Contains(err.Error(), "secrun.toml") {
		t.Errorf("broken config: %v", err)
	}
}
