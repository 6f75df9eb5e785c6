package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// KubeVersion is the Kubernetes release script/install-kube.sh builds.
const KubeVersion = "1.34.4"

// kubeNodeName is the name kubelet registers the node under. It is also
// the address the API server reaches kubelet at (kubectl exec, logs):
// kubelet refuses a loopback --node-ip, and everything here stays on
// loopback, so the node is called by a host name that resolves to it.
const kubeNodeName = "localhost"

// kubeDir is where script/install-kube.sh caches kube-apiserver, kubelet
// and kubectl.
func kubeDir() string {
	if d := os.Getenv("SECRUN_KUBE_DIR"); d != "" {
		return d
	}
	return "/opt/secrun-test/kube-" + KubeVersion
}

// daemon is one process of the cluster, logging to a file in the cluster dir.
type daemon struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
}

// KubeCluster is a single-node cluster on this machine: etcd, kube-apiserver,
// a private containerd and kubelet, all on loopback and under one temp dir.
// There is no scheduler and no controller manager: pods name their node
// (spec.nodeName), which is what the scheduler would write, and the
// ServiceAccount admission plugin is off (its accounts come from the
// controller manager).
type KubeCluster struct {
	Dir        string
	C          *Containerd
	Runtime    string // the real runtime secrun execs (runc entries keep c.Runc)
	Kubeconfig string
	ctrdConfig string // containerd's config.toml, edited by `secrun setup containerd`
	apiPort    int
	etcdURL    string
	daemons    map[string]*daemon
	sysctls    map[string]string // kernel tunables kubelet changes, restored at the end
	made       []string          // paths outside Dir kubelet creates that were not there before
}

func needKube(t *testing.T) {
	t.Helper()
	for _, p := range []string{"/usr/bin/etcd", kubeDir() + "/kube-apiserver", kubeDir() + "/kubelet", kubeDir() + "/kubectl"} {
		if _, err := os.Stat(p); err != nil {
			if required() {
				t.Fatalf("%s missing (script/install-kube.sh, run by make deps, builds it)", p)
			}
			t.Skipf("%s missing (script/install-kube.sh builds it)", p)
		}
	}
}

// startKube brings up the cluster with containerd c, whose secrun runtime
// entry is written by `secrun setup containerd`; secrun execs runtime.
func startKube(t *testing.T, c *Containerd, runtime string) *KubeCluster {
	t.Helper()
	needKube(t)
	for _, p := range []string{c.Bin, c.Ctr, crictlPath(), c.Runc, runtime} {
		if _, err := os.Stat(p); err != nil {
			if required() {
				t.Fatalf("%s missing (script/install-deps.sh installs it)", p)
			}
			t.Skipf("%s missing", p)
		}
	}
	// Unix socket paths are limited to 108 bytes: keep the dir short.
	dir, err := os.MkdirTemp("/tmp", "kube")
	if err != nil {
		t.Fatal(err)
	}
	k := &KubeCluster{Dir: dir, C: c, Runtime: runtime, daemons: map[string]*daemon{}}
	t.Cleanup(func() { k.stop(t); os.RemoveAll(dir) })
	k.writeCerts(t)
	k.startEtcd(t)
	k.startAPIServer(t)
	k.startContainerd(t)
	k.startKubelet(t)
	return k
}

func (k *KubeCluster) start(t *testing.T, name string, env []string, bin string, args ...string) *daemon {
	t.Helper()
	d := &daemon{name: name, done: make(chan struct{})}
	log, err := os.OpenFile(filepath.Join(k.Dir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	d.cmd = exec.Command(bin, args...)
	d.cmd.Stdout, d.cmd.Stderr = log, log
	d.cmd.Env = append(os.Environ(), env...)
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() { d.cmd.Wait(); close(d.done) }()
	k.daemons[name] = d
	return d
}

// stopDaemon ends one daemon (SIGTERM, then SIGKILL to its process group).
func (k *KubeCluster) stopDaemon(name string) {
	d := k.daemons[name]
	if d == nil {
		return
	}
	delete(k.daemons, name)
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(15 * time.Second):
		syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		<-d.done
	}
}

// logTail is the end of a daemon's log, for failure messages.
func (k *KubeCluster) logTail(name string, n int) string {
	data, _ := os.ReadFile(filepath.Join(k.Dir, name+".log"))
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (k *KubeCluster) waitFor(t *testing.T, what, daemon string, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if dm := k.daemons[daemon]; dm != nil {
			select {
			case <-dm.done:
				t.Fatalf("%s exited (%v):\n%s", daemon, dm.cmd.ProcessState, k.logTail(daemon, 40))
			default:
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: timed out after %v; %s log:\n%s", what, d, daemon, k.logTail(daemon, 40))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// --- certificates -----------------------------------------------------------

type keyPair struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func writeKey(t *testing.T, path string, key *ecdsa.PrivateKey) {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, path, "EC PRIVATE KEY", der)
}

// issue writes NAME.crt and NAME.key in the cluster dir, signed by ca (self-
// signed when ca is nil).
func (k *KubeCluster) issue(t *testing.T, ca *keyPair, name string, subject pkix.Name, usage x509.ExtKeyUsage, ips ...string) *keyPair {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: subject,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{usage},
	}
	for _, ip := range ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(ip))
	}
	if usage == x509.ExtKeyUsageServerAuth {
		tmpl.DNSNames = []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"}
	}
	parent, signer := tmpl, key
	if ca == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
		tmpl.ExtKeyUsage = nil
	} else {
		parent, signer = ca.cert, ca.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	writePEM(t, k.path(name+".crt"), "CERTIFICATE", der)
	writeKey(t, k.path(name+".key"), key)
	return &keyPair{cert, key}
}

func (k *KubeCluster) path(name string) string { return filepath.Join(k.Dir, name) }

// writeCerts makes the cluster CA, the API server's serving and kubelet-
// client certificates, kubelet's serving and client certificates, the
// admin's client certificate with its kubeconfig, and the service account
// signing key.
func (k *KubeCluster) writeCerts(t *testing.T) {
	ca := k.issue(t, nil, "ca", pkix.Name{CommonName: "secrun-test-ca"}, 0)
	k.issue(t, ca, "apiserver", pkix.Name{CommonName: "kube-apiserver"}, x509.ExtKeyUsageServerAuth, "127.0.0.1", "10.96.0.1")
	k.issue(t, ca, "apiserver-kubelet-client", pkix.Name{CommonName: "kube-apiserver-kubelet-client", Organization: []string{"system:masters"}}, x509.ExtKeyUsageClientAuth)
	k.issue(t, ca, "kubelet", pkix.Name{CommonName: kubeNodeName}, x509.ExtKeyUsageServerAuth, "127.0.0.1")
	k.issue(t, ca, "kubelet-client", pkix.Name{CommonName: "system:node:" + kubeNodeName, Organization: []string{"system:nodes"}}, x509.ExtKeyUsageClientAuth)
	k.issue(t, ca, "admin", pkix.Name{CommonName: "admin", Organization: []string{"system:masters"}}, x509.ExtKeyUsageClientAuth)
	sa, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	writeKey(t, k.path("sa.key"), sa)
	pub, _ := x509.MarshalPKIXPublicKey(&sa.PublicKey)
	writePEM(t, k.path("sa.pub"), "PUBLIC KEY", pub)
	k.apiPort = freePort(t)
	k.Kubeconfig = k.writeKubeconfig(t, "admin")
}

func (k *KubeCluster) writeKubeconfig(t *testing.T, user string) string {
	text := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: secrun
  cluster:
    server: https://127.0.0.1:%d
    certificate-authority: %s
users:
- name: %[3]s
  user:
    client-certificate: %[4]s
    client-key: %[5]s
contexts:
- name: secrun
  context: {cluster: secrun, user: %[3]s}
current-context: secrun
`, k.apiPort, k.path("ca.crt"), user, k.path(user+".crt"), k.path(user+".key"))
	p := k.path(user + ".kubeconfig")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// --- etcd and the API server --------------------------------------------------

func (k *KubeCluster) startEtcd(t *testing.T) {
	client, peer := freePort(t), freePort(t)
	cu, pu := fmt.Sprintf("http://127.0.0.1:%d", client), fmt.Sprintf("http://127.0.0.1:%d", peer)
	k.start(t, "etcd", nil, "/usr/bin/etcd", "--name", "secrun", "--data-dir", k.path("etcd"),
		"--listen-client-urls", cu, "--advertise-client-urls", cu,
		"--listen-peer-urls", pu, "--initial-advertise-peer-urls", pu,
		"--initial-cluster", "secrun="+pu, "--quota-backend-bytes", "268435456")
	k.etcdURL = cu
	k.waitFor(t, "etcd ready", "etcd", 30*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", client), time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

func (k *KubeCluster) startAPIServer(t *testing.T) {
	k.start(t, "kube-apiserver", nil, kubeDir()+"/kube-apiserver",
		"--etcd-servers", k.etcdURL,
		"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
		"--secure-port", fmt.Sprint(k.apiPort), "--cert-dir", k.path("apiserver-certs"),
		"--tls-cert-file", k.path("apiserver.crt"), "--tls-private-key-file", k.path("apiserver.key"),
		"--client-ca-file", k.path("ca.crt"),
		"--service-account-key-file", k.path("sa.pub"),
		"--service-account-signing-key-file", k.path("sa.key"),
		"--service-account-issuer", "https://kubernetes.default.svc",
		"--service-cluster-ip-range", "10.96.0.0/24",
		"--authorization-mode", "AlwaysAllow",
		// Privileged pods pass the API server, so that only Pod Security
		// Admission and secrun stand in their way.
		"--allow-privileged=true",
		"--disable-admission-plugins", "ServiceAccount",
		"--kubelet-client-certificate", k.path("apiserver-kubelet-client.crt"),
		"--kubelet-client-key", k.path("apiserver-kubelet-client.key"),
		"--kubelet-certificate-authority", k.path("ca.crt"),
		"--kubelet-preferred-address-types", "Hostname",
		"--enable-priority-and-fairness=false",
		"--profiling=false")
	k.waitFor(t, "kube-apiserver ready", "kube-apiserver", 120*time.Second, func() bool {
		out, err := k.Kubectl("get", "--raw", "/readyz")
		return err == nil && strings.TrimSpace(out) == "ok"
	})
	// The default namespace exists once the API server's bootstrap ran.
	k.waitFor(t, "default namespace", "kube-apiserver", 60*time.Second, func() bool {
		_, err := k.Kubectl("get", "namespace", "default")
		return err == nil
	})
}

// Kubectl runs kubectl against the cluster; it returns stdout, or stdout
// and stderr on failure (what a person sees).
func (k *KubeCluster) Kubectl(args ...string) (string, error) {
	return k.KubectlIn("", args...)
}

// KubectlIn is Kubectl with stdin.
func (k *KubeCluster) KubectlIn(stdin string, args ...string) (string, error) {
	cmd := exec.Command(kubeDir()+"/kubectl", append([]string{"--kubeconfig", k.Kubeconfig, "--request-timeout", "60s"}, args...)...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out) + stderr.String(), err
	}
	return string(out), nil
}

func (k *KubeCluster) mustKubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := k.Kubectl(args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(out)
}

// --- containerd ---------------------------------------------------------------

// baseContainerdConfig is a node's containerd config before secrun: the
// stock runc runtime, the locally imported test image as the sandbox
// (pause) image (no registry here), the test CNI, and oom_score_adj kept
// at the daemon's (this machine has no CAP_SYS_RESOURCE).
func (k *KubeCluster) baseContainerdConfig() string {
	c := k.C
	shared := fmt.Sprintf(`root = %q
state = %q
[grpc]
  address = %q
[ttrpc]
  address = %q
`, c.Dir+"/root", c.Dir+"/state", c.Sock, c.Sock+".ttrpc")
	runc := `
  [%[1]s.containerd]
    default_runtime_name = "runc"
    [%[1]s.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [%[1]s.containerd.runtimes.runc.options]
        BinaryName = %[2]q
        Root = %[3]q
  [%[1]s.cni]
    bin_dir = %[4]q
    conf_dir = %[5]q
`
	if c.Name == "1.6" {
		sec := `plugins."io.containerd.grpc.v1.cri"`
		return "version = 2\n" + shared + fmt.Sprintf(`[%s]
  sandbox_image = %q
  restrict_oom_score_adj = true
  enable_selinux = false
`, sec, testImage) + fmt.Sprintf(runc, sec, c.Runc, c.Dir+"/runc", c.Dir+"/cni/bin", c.Dir+"/cni/conf")
	}
	sec := `plugins."io.containerd.cri.v1.runtime"`
	return "version = 3\n" + shared + fmt.Sprintf(`[plugins."io.containerd.cri.v1.images".pinned_images]
  sandbox = %q
[%s]
  restrict_oom_score_adj = true
  enable_selinux = false
`, testImage, sec) + fmt.Sprintf(runc, sec, c.Runc, c.Dir+"/runc", c.Dir+"/cni/bin", c.Dir+"/cni/conf")
}

// Setup runs `secrun setup containerd` on the node's containerd config.
func (k *KubeCluster) Setup(t *testing.T, flags ...string) string {
	t.Helper()
	args := append([]string{"setup", "containerd", "--config", k.ctrdConfig, "--binary", secrun}, flags...)
	out, err := exec.Command(secrun, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("secrun %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (k *KubeCluster) startContainerd(t *testing.T) {
	c := k.C
	c.Dir, c.Sock = k.path("ctrd"), k.path("ctrd/c.sock")
	os.MkdirAll(c.Dir+"/etc", 0o755)
	writeTestCNI(t, c.Dir+"/cni")
	c.SecrunConf = c.Dir + "/secrun.toml"
	c.WriteSecrunConfig(t, k.SecrunConfig())
	k.ctrdConfig = c.Dir + "/etc/config.toml"
	if err := os.WriteFile(k.ctrdConfig, []byte(k.baseContainerdConfig()), 0o600); err != nil {
		t.Fatal(err)
	}
	k.Setup(t)
	k.StartContainerd(t)
	if imageTar == "" {
		imageTar = filepath.Join(work, "image.tar")
		buildImage(t, imageTar)
	}
	if out, err := exec.Command(c.Ctr, "-a", c.Sock, "-n", "k8s.io", "images", "import", imageTar).CombinedOutput(); err != nil {
		t.Fatalf("ctr import: %v\n%s", err, out)
	}
}

// SecrunConfig is the node config of the cluster: secrun's defaults.
func (k *KubeCluster) SecrunConfig() string { return fmt.Sprintf("runtime = %q\n", k.Runtime) }

// StartContainerd starts (or, after StopContainerd, restarts) the daemon.
// Running pods survive a restart: their shims keep them.
func (k *KubeCluster) StartContainerd(t *testing.T) {
	t.Helper()
	c := k.C
	path := os.Getenv("PATH")
	if c.Name != "1.6" {
		path = filepath.Dir(c.Bin) + ":" + path
	}
	k.start(t, "containerd", []string{"PATH=" + path, "SECRUN_CONFIG=" + c.SecrunConf}, c.Bin, "--config", k.ctrdConfig)
	k.waitFor(t, "containerd up", "containerd", 30*time.Second, func() bool {
		return exec.Command(c.Ctr, "-a", c.Sock, "version").Run() == nil
	})
}

// RestartContainerd is what `systemctl restart containerd` does on a node.
// It returns once CRI answers: containerd's CRI plugin serves only after it
// has recovered the containers that ran before.
func (k *KubeCluster) RestartContainerd(t *testing.T) {
	t.Helper()
	k.stopDaemon("containerd")
	k.StartContainerd(t)
	k.waitFor(t, "containerd's CRI serving", "containerd", 30*time.Second, func() bool {
		_, err := k.C.Crictl("ps", "-q")
		return err == nil
	})
}

// --- kubelet --------------------------------------------------------------------

// nodeLabels reads the --node-labels value from deploy/kubernetes/node-labels.conf,
// so the test labels the node exactly as the drop-in does.
func nodeLabels(t *testing.T) string {
	data, err := os.ReadFile("../deploy/kubernetes/node-labels.conf")
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`--node-labels=([^"\s]+)`).FindStringSubmatch(string(data)); m != nil {
		return m[1]
	}
	t.Fatalf("deploy/kubernetes/node-labels.conf has no --node-labels")
	return ""
}

// kubeletTunables are the sysctls kubelet sets at start (protectKernelDefaults
// off); the cluster puts the machine's values back when it stops.
var kubeletTunables = []string{"vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops", "kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes"}

func (k *KubeCluster) startKubelet(t *testing.T) {
	k.sysctls = map[string]string{}
	for _, s := range kubeletTunables {
		if v, err := os.ReadFile("/proc/sys/" + s); err == nil {
			k.sysctls[s] = string(v)
		}
	}
	// kubelet's device manager socket is not under --root-dir.
	for _, p := range []string{"/var/lib/kubelet", "/var/lib/kubelet/device-plugins/kubelet.sock"} {
		if _, err := os.Lstat(p); os.IsNotExist(err) {
			k.made = append(k.made, p)
			break
		}
	}
	port := freePort(t)
	cfg := fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: %d
readOnlyPort: 0
healthzPort: 0
tlsCertFile: %s
tlsPrivateKeyFile: %s
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: %s}
authorization: {mode: AlwaysAllow}
# This machine: cgroup v1 (hybrid), no swap limits, no CAP_SYS_RESOURCE.
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://%s
podLogsDir: %s
resolvConf: /etc/resolv.conf
syncFrequency: 5s
staticPodPath: %s
fileCheckFrequency: 2s
nodeStatusUpdateFrequency: 4s
# The disk is shared with other work: never evict test pods for it.
evictionHard: {memory.available: "1Mi", nodefs.available: "1%%", imagefs.available: "1%%", nodefs.inodesFree: "1%%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
`, port, k.path("kubelet.crt"), k.path("kubelet.key"), k.path("ca.crt"), k.C.Sock, k.path("pod-logs"), k.path("manifests"))
	os.MkdirAll(k.path("manifests"), 0o755)
	if err := os.WriteFile(k.path("kubelet.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	k.start(t, "kubelet", nil, kubeDir()+"/kubelet",
		"--config", k.path("kubelet.yaml"),
		"--kubeconfig", k.writeKubeconfig(t, "kubelet-client"),
		"--root-dir", k.path("kubelet"),
		"--hostname-override", kubeNodeName,
		"--node-labels", nodeLabels(t), "--v", "2")
	k.waitFor(t, "node Ready", "kubelet", 120*time.Second, func() bool {
		out, err := k.Kubectl("get", "node", kubeNodeName, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
		return err == nil && out == "True"
	})
}

// stop deletes every pod through the API (kubelet stops them through CRI),
// then stops the daemons, removes what kubelet left in the cgroup
// hierarchy and restores the kernel tunables kubelet changed.
func (k *KubeCluster) stop(t *testing.T) {
	if k.daemons["kubelet"] != nil && k.daemons["kube-apiserver"] != nil {
		k.Kubectl("delete", "pods", "--all", "--all-namespaces", "--grace-period=1", "--wait=true", "--timeout=60s")
	}
	k.stopDaemon("kubelet")
	if k.daemons["containerd"] != nil {
		// What kubelet left, removed through CRI; then the daemon, and the
		// shims, which outlive it by design (only ours: they name our socket).
		if out, err := k.C.Crictl("pods", "-q"); err == nil {
			for _, id := range strings.Fields(out) {
				k.C.Crictl("stopp", id)
				k.C.Crictl("rmp", "-f", id)
			}
		}
		k.stopDaemon("containerd")
		exec.Command("pkill", "-9", "-f", "containerd-shim-runc-v2 .*-address "+k.C.Sock).Run()
	}
	k.stopDaemon("kube-apiserver")
	k.stopDaemon("etcd")
	for s, v := range k.sysctls {
		os.WriteFile("/proc/sys/"+s, []byte(v), 0o644)
	}
	k.sysctls = nil
	for _, p := range k.made {
		os.RemoveAll(p)
	}
	k.made = nil
	// kubelet's QoS cgroups (cgroupfs driver): /kubepods in every hierarchy.
	cg, _ := filepath.Glob("/sys/fs/cgroup/*/kubepods")
	for _, d := range cg {
		removeCgroupTree(d)
	}
	exec.Command("sh", "-c", "grep ' "+k.Dir+"' /proc/mounts | cut -d' ' -f2 | sort -r | xargs -r umount -l").Run()
}

// removeCgroupTree removes a cgroup directory, children first.
func removeCgroupTree(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() {
			removeCgroupTree(filepath.Join(dir, e.Name()))
		}
	}
	syscall.Rmdir(dir)
}

// writeTestCNI installs a network plugin that gives each pod a network
// namespace of its own with lo and an eth0 holding one address: pods
// need no host networking (which Pod Security baseline forbids) and
// nothing is added to the host's network namespace. containerd's CRI
// needs an eth0 address for the pod IP and runs "loopback" as well.
func writeTestCNI(t *testing.T, dir string) {
	t.Helper()
	os.MkdirAll(dir+"/bin", 0o755)
	os.MkdirAll(dir+"/conf", 0o755)
	plugin := `#!/bin/sh
# Test CNI plugin: lo up (type loopback), or eth0 with 10.88.0.N/24 (type secrun-test), one end
# of a veth pair whose other end stays in the pod too (this kernel has no dummy devices).
set -e
cfg=$(cat)
case "$CNI_COMMAND" in
VERSION) echo '{"cniVersion":"1.0.0","supportedVersions":["0.4.0","1.0.0"]}'; exit 0 ;;
ADD) ;;
*) exit 0 ;;
esac
ver=$(echo "$cfg" | sed -n 's/.*"cniVersion" *: *"\([^"]*\)".*/\1/p')
if [ "$(basename "$0")" = loopback ]; then
	nsenter --net="$CNI_NETNS" ip link set lo up
	echo "{\"cniVersion\":\"$ver\",\"interfaces\":[{\"name\":\"lo\",\"sandbox\":\"$CNI_NETNS\"}],\"ips\":[{\"address\":\"127.0.0.1/8\",\"interface\":0}]}"
	exit 0
fi
dir=$(dirname "$0")
n=$(flock "$dir/lock" sh -c 'n=$(($(cat '"$dir"'/next 2>/dev/null || echo 1) + 1)); [ $n -gt 250 ] && n=2; echo $n > '"$dir"'/next; echo $n')
nsenter --net="$CNI_NETNS" ip link add "$CNI_IFNAME" type veth peer name peer0
nsenter --net="$CNI_NETNS" ip addr add "10.88.0.$n/24" dev "$CNI_IFNAME"
nsenter --net="$CNI_NETNS" ip link set peer0 up
nsenter --net="$CNI_NETNS" ip link set "$CNI_IFNAME" up
echo "{\"cniVersion\":\"$ver\",\"interfaces\":[{\"name\":\"$CNI_IFNAME\",\"sandbox\":\"$CNI_NETNS\"}],\"ips\":[{\"address\":\"10.88.0.$n/24\",\"interface\":0}]}"
`
	for _, name := range []string{"loopback", "secrun-test"} {
		if err := os.WriteFile(filepath.Join(dir, "bin", name), []byte(plugin), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	conf := `{"cniVersion":"1.0.0","name":"secrun-test","plugins":[{"type":"secrun-test"}]}`
	if err := os.WriteFile(filepath.Join(dir, "conf", "10-secrun-test.conflist"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
}
