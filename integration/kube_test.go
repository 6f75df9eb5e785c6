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

// TestKubernetes runs secrun under a real single-node cluster (etcd,
// kube-apiserver, kubelet built from k8s.io/kubernetes, containerd 2.2 and
// 1.6 with the runtime entry `secrun setup containerd` writes; secrun execs
// runc 1.5 under 2.2, runc 1.1 and crun under 1.6) and checks
// everything through kubectl, from inside the pods: the RuntimeClass path,
// refusals as pod events, ephemeral (kubectl debug) and static pods,
// annotations, secrun as the default runtime with per-namespace rules, Pod
// Security Admission beside secrun, and uninstall. Each cluster takes about
// a minute.
func TestKubernetes(t *testing.T) {
	// containerds() returns fresh values: each cluster gets its own.
	c16, c22, c16crun := containerds()[0], containerds()[1], containerds()[0]
	for _, v := range []struct {
		name    string
		c       *Containerd
		runtime string
	}{
		{"containerd-2.2-runc-1.5", c22, c22.Runc},
		{"containerd-1.6-runc-1.1", c16, c16.Runc},
		// Not crun under containerd 2.2: Debian's crun 1.8.1 refuses the
		// spec version 2.2 writes ("unknown version specified"), secrun or not.
		{"containerd-1.6-crun", c16crun, "/usr/bin/crun"},
	} {
		t.Run(v.name, func(t *testing.T) {
			k := startKube(t, v.c, v.runtime)
			t.Run("RuntimeClass pod confined", func(t *testing.T) { testKubeRuntimeClass(t, k) })
			t.Run("example pod", func(t *testing.T) { testKubeExamplePod(t, k) })
			t.Run("refusals are pod events", func(t *testing.T) { testKubeRefusals(t, k) })
			t.Run("kubectl debug", func(t *testing.T) { testKubeDebug(t, k) })
			t.Run("static pod past admission", func(t *testing.T) { testKubeStaticPod(t, k) })
			t.Run("annotation picks profile", func(t *testing.T) { testKubeAnnotation(t, k) })
			t.Run("recording by annotation", func(t *testing.T) { testKubeRecord(t, k) })
			t.Run("Pod Security Admission and secrun", func(t *testing.T) { testKubePodSecurity(t, k) })
			t.Run("default runtime and rules", func(t *testing.T) { testKubeDefault(t, k) })
			t.Run("uninstall", func(t *testing.T) { testKubeUninstall(t, k) })
		})
	}
}

// applyRuntimeClass applies the RuntimeClass from deploy/kubernetes as a
// cluster admin would.
func applyRuntimeClass(t *testing.T, k *KubeCluster) {
	t.Helper()
	k.mustKubectl(t, "apply", "-f", "../deploy/kubernetes/runtimeclass.yaml")
}

func testKubeRuntimeClass(t *testing.T, k *KubeCluster) {
	// The node as an admin verifies it after `secrun setup containerd`.
	check := exec.Command(secrun, "check", "--containerd-config", k.ctrdConfig)
	check.Env = append(os.Environ(), "SECRUN_CONFIG="+k.C.SecrunConf)
	bin, _ := filepath.EvalSymlinks(secrun)
	if out, err := check.CombinedOutput(); err != nil || !strings.Contains(string(out), `runtime "secrun" runs `+bin+"\n") {
		t.Errorf("secrun check: %v\n%s", err, out)
	}
	applyRuntimeClass(t, k)
	// Everything in deploy/kubernetes passes the API server's validation
	// and admission (the example pod is run below, adapted to this cluster).
	k.mustKubectl(t, "apply", "--dry-run=server", "-f", "../deploy/kubernetes/")
	// Contrast: without the RuntimeClass the pod runs on plain runc.
	k.RunPod(t, kubePod{Name: "plain"})
	if st := fields(k.Exec(t, "default", "plain", "cat", "/proc/1/status")); st["Seccomp"] != "0" || st["CapEff"] != capMask(t, profiles.StockCaps()) {
		t.Fatalf("a pod without the RuntimeClass is not the unconfined baseline: %v", st)
	}

	k.RunPod(t, kubePod{Name: "web", RuntimeClass: "secrun"})
	// The RuntimeClass admission plugin merged the RuntimeClass's
	// nodeSelector into the pod, and kubelet admitted it on the node the
	// drop-in labelled.
	if sel := k.mustKubectl(t, "get", "pod", "web", "-o", "jsonpath={.spec.nodeSelector}"); !strings.Contains(sel, `"secrun.io/enabled":"true"`) {
		t.Errorf("pod nodeSelector %s: RuntimeClass scheduling not applied", sel)
	}
	if h := k.mustKubectl(t, "get", "node", kubeNodeName, "-o", "jsonpath={.metadata.labels.secrun\\.io/enabled}"); h != "true" {
		t.Errorf("node label secrun.io/enabled = %q", h)
	}
	confined(t, "the pod's container (pid 1)", fields(k.Exec(t, "default", "web", "cat", "/proc/1/status")), profiles.BaselineCaps())
	if rt := k.runtimeOf(t, "default", "web"); !strings.Contains(k.Runtime, rt) {
		t.Errorf("the pod's container was created by %s, not %s", rt, k.Runtime)
	}
	out := k.Exec(t, "default", "web", "/bin/sh", "-c", "cat /proc/self/status; probe sys keyctl unshare-user")
	confined(t, "kubectl exec", fields(out), profiles.BaselineCaps())
	if f := fields(out); f["keyctl"] != "EPERM" || f["unshare-user"] != "EPERM" {
		t.Errorf("kubectl exec: syscalls not denied:\n%s", out)
	}
}

// runtimeOf tells which runtime holds the pod's container from its state
// directory under the runtime root containerd passes (runc: state.json,
// crun: status).
func (k *KubeCluster) runtimeOf(t *testing.T, ns, name string) string {
	t.Helper()
	id := k.mustKubectl(t, "get", "pod", "-n", ns, name, "-o", "jsonpath={.status.containerStatuses[0].containerID}")
	dir := filepath.Join(k.C.Dir, "runc", "k8s.io", strings.TrimPrefix(id, "containerd://"))
	if _, err := os.Stat(dir + "/state.json"); err == nil {
		return "runc"
	}
	if _, err := os.Stat(dir + "/status"); err == nil {
		return "crun"
	}
	entries, _ := os.ReadDir(dir)
	t.Fatalf("no runtime state in %s: %v", dir, entries)
	return ""
}

// testKubeExamplePod runs deploy/kubernetes/example-pod.yaml as shipped,
// but for what this cluster lacks: its image is replaced by the local test
// image and it names its node (no registry, no scheduler).
func testKubeExamplePod(t *testing.T, k *KubeCluster) {
	data, err := os.ReadFile("../deploy/kubernetes/example-pod.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for old, repl := range map[string]string{
		"      image: busybox:stable\n": "      image: " + testImage + "\n      imagePullPolicy: Never\n",
		"spec:\n":                       "spec:\n  nodeName: " + kubeNodeName + "\n",
	} {
		if !strings.Contains(text, old) {
			t.Fatalf("example-pod.yaml has no %q", old)
		}
		text = strings.Replace(text, old, repl, 1)
	}
	k.mustKubectl(t, "get", "runtimeclass", "secrun")
	if out, err := k.KubectlIn(text, "apply", "-f", "-"); err != nil {
		t.Fatalf("kubectl apply example pod: %v\n%s", err, out)
	}
	t.Cleanup(func() { k.DeletePod("default", "secrun-example") })
	k.WaitReady(t, "default", "secrun-example")
	var logs string
	for i := 0; i < 50 && !strings.Contains(logs, "NoNewPrivs"); i++ {
		time.Sleep(200 * time.Millisecond)
		logs, _ = k.Kubectl("logs", "secrun-example")
	}
	confined(t, "example pod (kubectl logs)", fields(logs), profiles.BaselineCaps())
	// Its annotation picked the restricted profile.
	if f := fields(k.Exec(t, "default", "secrun-example", "probe", "sys", "personality", "getppid")); f["personality"] != "EPERM" || f["getppid"] != "ok" {
		t.Errorf("example pod: the restricted profile is not in force: %v", f)
	}
}

// testKubeRefusals: pods the API server admits (privileged namespace,
// --allow-privileged) but secrun refuses; the refusal is what `kubectl get
// events` and `kubectl describe` show.
func testKubeRefusals(t *testing.T, k *KubeCluster) {
	applyRuntimeClass(t, k)
	k.Namespace(t, "priv", "privileged")
	// Contrast: on runc the same pod runs with CAP_SYS_ADMIN.
	k.RunPod(t, kubePod{Name: "admin-runc", Namespace: "priv", AddCaps: []string{"SYS_ADMIN"}})
	if st := fields(k.Exec(t, "priv", "admin-runc", "cat", "/proc/1/status")); st["CapEff"] != capMask(t, append(slices.Clone(profiles.StockCaps()), "CAP_SYS_ADMIN")) {
		t.Fatalf("runc pod with SYS_ADMIN: CapEff %s", st["CapEff"])
	}
	for _, c := range []struct {
		pod  kubePod
		want []string
	}{
		{kubePod{Name: "admin", Namespace: "priv", RuntimeClass: "secrun", AddCaps: []string{"SYS_ADMIN"}},
			[]string{"looks privileged"}},
		{kubePod{Name: "hostpid", Namespace: "priv", RuntimeClass: "secrun", HostPID: true},
			[]string{"host-pid: linux.namespaces", "[podsecurity] allow"}},
		// kubelet makes the sandbox of a pod with a privileged container
		// privileged too; containerd 2.x then mounts its sysfs read-write,
		// and secrun refuses the sandbox before the container is created.
		{kubePod{Name: "privileged", Namespace: "priv", RuntimeClass: "secrun", Privileged: true},
			[]string{"looks privileged|sysfs mounted read-write"}},
	} {
		if err := k.Create(t, c.pod); err != nil {
			t.Fatalf("the API server refused %s: %v", c.pod.Name, err)
		}
		ev := k.WaitEvent(t, "priv", c.pod.Name, "secrun: ")
		for _, w := range c.want {
			if !slices.ContainsFunc(strings.Split(w, "|"), func(alt string) bool { return strings.Contains(ev, alt) }) {
				t.Errorf("pod %s: event lacks %q:\n%s", c.pod.Name, w, ev)
			}
		}
		if strings.Contains(ev, "unable to retrieve OCI runtime error") {
			t.Errorf("pod %s: secrun's error did not reach the event: %s", c.pod.Name, ev)
		}
		if desc := k.mustKubectl(t, "describe", "pod", "-n", "priv", c.pod.Name); !strings.Contains(desc, "secrun: ") {
			t.Errorf("kubectl describe pod %s does not show secrun's reason:\n%s", c.pod.Name, desc)
		}
		if phase := k.mustKubectl(t, "get", "pod", "-n", "priv", c.pod.Name, "-o", "jsonpath={.status.containerStatuses[0].state.running}"); phase != "" {
			t.Errorf("pod %s is running: %s", c.pod.Name, phase)
		}
		t.Logf("%s: %s", c.pod.Name, ev)
	}
}

// testKubeDebug: `kubectl debug` adds an ephemeral container to a running
// pod, a way into a pod that no pod-creation admission sees again. In a
// secrun pod the debugger is confined like the pod's own containers; the
// general profile (it adds CAP_SYS_PTRACE) and the sysadmin profile
// (privileged) are refused.
func testKubeDebug(t *testing.T, k *KubeCluster) {
	applyRuntimeClass(t, k)
	k.Namespace(t, "debug", "privileged")
	k.RunPod(t, kubePod{Name: "target", Namespace: "debug", RuntimeClass: "secrun"})
	// debug adds an ephemeral container and returns its state once it runs
	// or kubelet gave up on it.
	debug := func(name, profile string) string {
		t.Helper()
		k.mustKubectl(t, "debug", "-n", "debug", "target", "--image", testImage, "--image-pull-policy", "Never",
			"--container", name, "--profile", profile, "--", "/bin/probe", "sleep", "100000")
		var st string
		for i := 0; i < 120; i++ {
			st, _ = k.Kubectl("get", "pod", "-n", "debug", "target", "-o",
				`jsonpath={.status.ephemeralContainerStatuses[?(@.name=="`+name+`")].state}`)
			if strings.Contains(st, `"running"`) || strings.Contains(st, "ContainerError") {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		return st
	}
	if st := debug("dbg", "baseline"); !strings.Contains(st, `"running"`) {
		t.Fatalf("kubectl debug --profile baseline: %s", st)
	}
	out, err := k.TryExecIn("debug", "target", "dbg", "cat", "/proc/self/status")
	if err != nil {
		t.Fatalf("exec into the ephemeral container: %v\n%s", err, out)
	}
	confined(t, "kubectl debug --profile baseline", fields(out), profiles.BaselineCaps())

	for profile, want := range map[string]string{"general": "CAP_SYS_PTRACE is not allowed", "sysadmin": "looks privileged"} {
		if st := debug("dbg-"+profile, profile); !strings.Contains(st, "secrun: ") || !strings.Contains(st, want) {
			t.Errorf("kubectl debug --profile %s: %s", profile, st)
		}
	}
}

// testKubeStaticPod: kubelet runs a static pod from its manifest directory
// whatever the API server thinks of it. In a namespace where Pod Security
// Admission enforces restricted, a host-PID static pod on runc runs all
// the same; with runtimeClassName secrun the node refuses it, and the
// pod's events say why.
func testKubeStaticPod(t *testing.T, k *KubeCluster) {
	applyRuntimeClass(t, k)
	k.Namespace(t, "locked", "restricted")
	static := func(p kubePod) {
		t.Helper()
		path := filepath.Join(k.Dir, "manifests", p.Name+".json")
		if err := os.WriteFile(path, []byte(p.manifest()), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(path) })
	}
	static(kubePod{Name: "static-runc", Namespace: "locked", HostPID: true})
	static(kubePod{Name: "static-secrun", Namespace: "locked", RuntimeClass: "secrun", HostPID: true})
	// kubelet names a static pod after its node.
	ev := k.WaitEvent(t, "locked", "static-secrun-"+kubeNodeName, "secrun: ")
	if !strings.Contains(ev, "host-pid") {
		t.Errorf("static host-PID pod under secrun: %s", ev)
	}
	// The runc one runs although the API server refuses its mirror pod.
	var out string
	for i := 0; i < 120; i++ {
		out = k.C.mustCrictl(t, "ps", "-q", "--state", "running", "--label", "io.kubernetes.pod.name=static-runc-"+kubeNodeName)
		if out != "" {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if out == "" {
		t.Fatalf("the static host-PID pod on runc is not running:\n%s", k.Events("locked", "static-runc-"+kubeNodeName))
	}
	if mirror, err := k.Kubectl("get", "pod", "-n", "locked", "static-runc-"+kubeNodeName); err == nil {
		t.Logf("mirror pod of the runc static pod exists (PSA did not refuse it):\n%s", mirror)
	}
}

func testKubeAnnotation(t *testing.T, k *KubeCluster) {
	applyRuntimeClass(t, k)
	k.RunPod(t, kubePod{Name: "tight", RuntimeClass: "secrun", Annotations: map[string]string{"secrun.io/seccomp-profile": "restricted"}})
	if f := fields(k.Exec(t, "default", "tight", "probe", "sys", "personality", "getppid")); f["personality"] != "EPERM" || f["getppid"] != "ok" {
		t.Errorf("the picked profile is not in force: %v", f)
	}
	// The same call without the annotation is allowed (Docker's profile).
	k.RunPod(t, kubePod{Name: "loose", RuntimeClass: "secrun"})
	if f := fields(k.Exec(t, "default", "loose", "probe", "sys", "personality")); f["personality"] != "ok" {
		t.Errorf("personality without the annotation: %v", f)
	}
	if err := k.Create(t, kubePod{Name: "bogus", RuntimeClass: "secrun", Annotations: map[string]string{"secrun.io/seccomp-profile": "../../etc/passwd"}}); err != nil {
		t.Fatal(err)
	}
	k.WaitEvent(t, "default", "bogus", "secrun.io/seccomp-profile")
}

// testKubeRecord: a pod annotated secrun.io/record is recorded; the profile
// lands under recordings_dir, named after the namespace, pod and container,
// once the pod is deleted.
func testKubeRecord(t *testing.T, k *KubeCluster) {
	applyRuntimeClass(t, k)
	dir := t.TempDir()
	k.C.WriteSecrunConfig(t, fmt.Sprintf("recordings_dir = %q\n", dir)+k.SecrunConfig())
	defer k.C.WriteSecrunConfig(t, k.SecrunConfig())
	k.Namespace(t, "shop", "baseline")
	k.RunPod(t, kubePod{Name: "web-0", Namespace: "shop", RuntimeClass: "secrun", Annotations: map[string]string{"secrun.io/record": "v1"}})
	k.Exec(t, "shop", "web-0", "probe", "sys", "getppid")
	k.DeletePod("shop", "web-0")
	out := filepath.Join(dir, "shop", "web-0", "app-v1.json")
	var data []byte
	for i := 0; i < 100 && len(data) == 0; i++ {
		data, _ = os.ReadFile(out)
		time.Sleep(100 * time.Millisecond)
	}
	var p struct {
		DefaultAction string
		Syscalls      []struct{ Names []string }
	}
	if err := json.Unmarshal(data, &p); err != nil {
		files, _ := filepath.Glob(dir + "/*/*/*")
		t.Fatalf("no recorded profile at %s (%v; files %v)", out, err, files)
	}
	var names []string
	for _, r := range p.Syscalls {
		names = append(names, r.Names...)
	}
	if p.DefaultAction != "SCMP_ACT_ERRNO" || !slices.Contains(names, "getppid") {
		t.Errorf("recorded profile: default %s, %d names: %v", p.DefaultAction, len(names), names)
	}
}

// testKubeDefault: `secrun setup containerd --default` and a restart make
// secrun every pod's runtime; a rule by namespace lets kube-system's proxy
// keep CAP_NET_ADMIN, and nobody else.
func testKubeDefault(t *testing.T, k *KubeCluster) {
	applyRuntimeClass(t, k)
	k.RunPod(t, kubePod{Name: "survivor", RuntimeClass: "secrun"})
	k.Setup(t, "--default")
	k.RestartContainerd(t)
	// A pod running across the restart is still confined, and exec works.
	confined(t, "kubectl exec after the restart", fields(k.Exec(t, "default", "survivor", "cat", "/proc/self/status")), profiles.BaselineCaps())
	k.RunPod(t, kubePod{Name: "nobody-asked"})
	confined(t, "a pod without runtimeClassName", fields(k.Exec(t, "default", "nobody-asked", "cat", "/proc/1/status")), profiles.BaselineCaps())

	k.C.WriteSecrunConfig(t, k.SecrunConfig()+`
[[rules]]
name = "kube-proxy"
namespace = "kube-system"
container = "kube-proxy"
[rules.capabilities]
add = ["CAP_NET_ADMIN"]
[rules.podsecurity]
allow = ["capabilities"]
`)
	defer k.C.WriteSecrunConfig(t, k.SecrunConfig())
	k.RunPod(t, kubePod{Name: "kube-proxy-x", Namespace: "kube-system", Container: "kube-proxy", AddCaps: []string{"NET_ADMIN"}})
	confined(t, "kube-proxy", fields(k.Exec(t, "kube-system", "kube-proxy-x", "cat", "/proc/1/status")), append(slices.Clone(profiles.BaselineCaps()), "CAP_NET_ADMIN"))
	if err := k.Create(t, kubePod{Name: "kube-proxy-y", Container: "kube-proxy", AddCaps: []string{"NET_ADMIN"}}); err != nil {
		t.Fatal(err)
	}
	k.WaitEvent(t, "default", "kube-proxy-y", "CAP_NET_ADMIN is not allowed")
}

// testKubeUninstall: `secrun setup containerd --uninstall` and a restart:
// pods run on runc again, the RuntimeClass's handler is gone, and
// containerd's config is what it was before secrun.
func testKubeUninstall(t *testing.T, k *KubeCluster) {
	applyRuntimeClass(t, k)
	k.RunPod(t, kubePod{Name: "before", RuntimeClass: "secrun"})
	k.Setup(t, "--uninstall")
	k.RestartContainerd(t)
	// A pod started under secrun keeps running (its shim holds secrun's
	// path) and is stopped and removed as usual. containerd 2.x looks the
	// runtime up again for a new exec and finds none; 1.6 execs through the
	// pod's shim, still confined. (docs/kubernetes.md: drain first.)
	out, err := k.TryExec("default", "before", "cat", "/proc/self/status")
	if k.C.Name == "1.6" {
		if err != nil {
			t.Errorf("containerd 1.6: kubectl exec into a secrun pod after uninstall: %v\n%s", err, out)
		} else {
			confined(t, "containerd 1.6: exec into a secrun pod after uninstall", fields(out), profiles.BaselineCaps())
		}
	} else if err == nil || !strings.Contains(out, `no runtime for "secrun" is configured`) {
		t.Errorf("kubectl exec into a secrun pod after uninstall: %v\n%s", err, out)
	}
	k.DeletePod("default", "before")
	if out, err := k.Kubectl("get", "pod", "before"); err == nil {
		t.Errorf("the pod started under secrun was not removed:\n%s", out)
	}
	if out := k.C.mustCrictl(t, "ps", "-a", "-q", "--label", "io.kubernetes.pod.name=before"); out != "" {
		t.Errorf("containers of the removed pod are left: %s", out)
	}
	cfg, _ := os.ReadFile(k.ctrdConfig)
	if string(cfg) != k.baseContainerdConfig() {
		t.Errorf("containerd config after uninstall differs from the original:\n%s", cfg)
	}
	// What may stay: the backup of the original (identical to it) and the
	// conf.d directory setup made for its drop-in, empty.
	etc := filepath.Dir(k.ctrdConfig)
	entries, _ := os.ReadDir(etc)
	for _, e := range entries {
		p := filepath.Join(etc, e.Name())
		switch data, _ := os.ReadFile(p); {
		case p == k.ctrdConfig:
		case p == k.ctrdConfig+".secrun-backup" && string(data) == k.baseContainerdConfig():
		case e.Name() == "conf.d" && e.IsDir():
			if inside, _ := os.ReadDir(p); len(inside) > 0 {
				t.Errorf("left behind in %s: %v", p, inside)
			}
		default:
			t.Errorf("left behind: %s", p)
		}
	}
	k.RunPod(t, kubePod{Name: "after"})
	if st := fields(k.Exec(t, "default", "after", "cat", "/proc/1/status")); st["Seccomp"] != "0" || st["CapEff"] != capMask(t, profiles.StockCaps()) {
		t.Errorf("after uninstall a pod is not on plain runc: %v", st)
	}
	if err := k.Create(t, kubePod{Name: "orphan", RuntimeClass: "secrun"}); err != nil {
		t.Fatal(err)
	}
	if ev := k.WaitEvent(t, "default", "orphan", `no runtime for "secrun"`); !strings.HasPrefix(ev, "FailedCreatePodSandBox") {
		t.Errorf("a secrun pod after uninstall: %s", ev)
	}
}

// psaCase is one pod of the Pod Security comparison and, per namespace
// level, which layer stops it: "PSA" (the API server refuses it),
// "secrun" (admitted; the node refuses it) or "runs".
type psaCase struct {
	pod  kubePod
	want map[string]string // level -> outcome
	note string            // what secrun does to it when it runs
}

var restrictedContainer = map[string]any{
	"runAsNonRoot": true, "runAsUser": 1000, "allowPrivilegeEscalation": false,
	"capabilities":   map[string]any{"drop": []string{"ALL"}},
	"seccompProfile": map[string]any{"type": "RuntimeDefault"},
}

func psaCases() []psaCase {
	all := func(priv, base, restr string) map[string]string {
		return map[string]string{"privileged": priv, "baseline": base, "restricted": restr}
	}
	return []psaCase{
		{kubePod{Name: "plain"}, all("runs", "runs", "PSA"), "confined: Docker's profile, 13 capabilities, no-new-privileges"},
		{kubePod{Name: "restricted", Security: restrictedContainer}, all("runs", "runs", "runs"), "confined, no capabilities"},
		{kubePod{Name: "escalation", Security: map[string]any{"allowPrivilegeEscalation": true}}, all("runs", "runs", "PSA"), "runs with no-new-privileges all the same"},
		{kubePod{Name: "seccomp-unconfined", Security: map[string]any{"seccompProfile": map[string]any{"type": "Unconfined"}}}, all("runs", "PSA", "PSA"), "runs with secrun's profile all the same"},
		{kubePod{Name: "net-raw", AddCaps: []string{"NET_RAW"}}, all("runs", "PSA", "PSA"), "runs without CAP_NET_RAW (dropped quietly)"},
		{kubePod{Name: "sys-admin", AddCaps: []string{"SYS_ADMIN"}}, all("secrun", "PSA", "PSA"), ""},
		{kubePod{Name: "privileged", Privileged: true}, all("secrun", "PSA", "PSA"), ""},
		{kubePod{Name: "host-pid", HostPID: true}, all("secrun", "PSA", "PSA"), ""},
		{kubePod{Name: "host-network", HostNetwork: true}, all("secrun", "PSA", "PSA"), ""},
	}
}

// testKubePodSecurity sends the same pods, all with runtimeClassName secrun,
// to namespaces with Pod Security Admission enforcing privileged, baseline
// and restricted, and checks which layer refuses each: in the privileged
// namespace secrun alone stands in the way, and where PSA admits a pod
// secrun runs it (confined).
func testKubePodSecurity(t *testing.T, k *KubeCluster) {
	applyRuntimeClass(t, k)
	levels := []string{"privileged", "baseline", "restricted"}
	for _, l := range levels {
		k.Namespace(t, "psa-"+l, l)
	}
	cases := psaCases()
	// All pods first, then the outcomes: kubelet starts them in parallel.
	got := map[string]string{}
	for _, l := range levels {
		for _, c := range cases {
			p := c.pod
			p.Namespace, p.RuntimeClass = "psa-"+l, "secrun"
			if err := k.Create(t, p); err != nil {
				if !strings.Contains(err.Error(), "violates PodSecurity") {
					t.Errorf("%s in %s: refused, but not by Pod Security: %v", p.Name, l, err)
				}
				got[l+"/"+p.Name] = "PSA"
			}
		}
	}
	for _, l := range levels {
		for _, c := range cases {
			ns, name := "psa-"+l, c.pod.Name
			if got[l+"/"+name] == "" {
				got[l+"/"+name] = k.podOutcome(t, ns, name)
			}
			if g := got[l+"/"+name]; g != c.want[l] {
				t.Errorf("%s in a %s namespace: %s, want %s\n%s", name, l, g, c.want[l], k.Events(ns, name))
				continue
			}
			if c.want[l] == "runs" {
				caps := profiles.BaselineCaps()
				if name == "restricted" {
					caps = nil
				}
				confined(t, name+" in "+l, fields(k.Exec(t, ns, name, "cat", "/proc/1/status")), caps)
			}
		}
	}
}

// podOutcome waits until the pod is ready ("runs") or an event carries
// secrun's refusal ("secrun").
func (k *KubeCluster) podOutcome(t *testing.T, ns, name string) string {
	t.Helper()
	deadline := time.Now().Add(120 * time.Second)
	for time.Now().Before(deadline) {
		if out, _ := k.Kubectl("get", "pod", "-n", ns, name, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`); out == "True" {
			return "runs"
		}
		if strings.Contains(k.Events(ns, name), "secrun: ") {
			return "secrun"
		}
		time.Sleep(500 * time.Millisecond)
	}
	desc, _ := k.Kubectl("describe", "pod", "-n", ns, name)
	t.Fatalf("pod %s/%s neither ran nor was refused:\n%s", ns, name, desc)
	return ""
}
