package integration

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// cri-tools' critest against containerd 2.2, once with the runc handler and
// once with secrun (every knob off) as the handler's binary: secrun must
// pass the same specs. Nothing here reaches a registry, so the specs run
// with a busybox image built here and imported under the names they use;
// the specs that pull, or need images or networking this host lacks, are
// skipped (critestSkip says which and why).

// critestImage is the image every critest container runs: busybox-static
// with all its applets.
const critestImage = "docker.io/library/secrun-critest:latest"

// noNewPrivsImage is the name the NoNewPrivs specs run; it is built here.
const noNewPrivsImage = "registry.k8s.io/e2e-test-images/nonewprivs:1.3"

// buildNoNewPrivsProgram compiles the nonewprivs image's program (static).
func buildNoNewPrivsProgram(t *testing.T) []byte {
	t.Helper()
	dir := t.TempDir()
	src := `#include <stdio.h>
#include <unistd.h>
int main(void) { printf("Effective uid: %d\n", (int)geteuid()); return 0; }
`
	if err := os.WriteFile(dir+"/nnp.c", []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("gcc", "-static", "-O2", "-o", dir+"/nnp", dir+"/nnp.c").CombinedOutput(); err != nil {
		t.Fatalf("building the nonewprivs program: %v\n%s", err, out)
	}
	data, err := os.ReadFile(dir + "/nnp")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// critestSkip lists the specs that cannot run here, by why. Specs that
// fail on the runc handler for another reason stay in: they must fail
// through secrun too.
var critestSkip = map[string]string{
	`\[k8s.io\] Image Manager`:                       "pull images from registry.k8s.io and gcr.io (no registry is reachable)",
	`port mapping|portforward|Multiple Containers`:   "need the nginx and httpd images and a pod network with port mapping (no CNI network here: a stub gives each pod a network namespace with lo and no route)",
	`NamespaceOption.*(HostPID|PodPID|ContainerPID)`: "need the nginx image",
	`NamespaceOption.*HostIpc`:                       "need ipcs, which Debian's busybox-static lacks",
	`execSync with timeout`:                          "needs pgrep, which Debian's busybox-static lacks",
	`SupplementalGroupsPolicy`:                       "needs gcr.io/k8s-staging-cri-tools/test-image-predefined-group (an image with predefined users and groups)",
	`RunAsUserName`:                                  "needs an image user www-data",
	`MaskedPaths`:                                    "busybox's sh runs ls as a built-in applet, so masking /bin/ls does not stop it",
	`benchmark`:                                      "benchmarks, not conformance",
}

func critestPath() string { return filepath.Join(filepath.Dir(runtimes()[1].Path), "critest") }

func TestConformanceCritest(t *testing.T) {
	t.Parallel() // with TestConformanceRuntimeTools
	critest := critestPath()
	if _, err := os.Stat(critest); err != nil {
		if required() {
			t.Fatalf("critest missing: %v (script/install-runtime-tools.sh builds it)", err)
		}
		t.Skipf("critest missing: %v", err)
	}
	c := containerds()[1]
	c.Start(t)
	installCNIStub(t, c)
	c.WriteSecrunConfig(t, knobsOffConfig(c.Runc))
	requireSecrunHandler(t, c)

	// The images, imported under the names the specs use.
	nnp := buildNoNewPrivsProgram(t)
	for name, img := range map[string]func(path string){
		critestImage: func(path string) { buildBusyboxImage(t, path, critestImage, nil) },
		// What e2e-test-images/nonewprivs is: a set-user-ID root program
		// that prints its effective UID, as the entrypoint.
		noNewPrivsImage: func(path string) {
			buildBusyboxImage(t, path, noNewPrivsImage, map[string][]byte{"nnp": nnp}, "/nnp")
		},
	} {
		path := filepath.Join(t.TempDir(), "image.tar")
		img(path)
		if out, err := exec.Command(c.Ctr, "-a", c.Sock, "-n", "k8s.io", "images", "import", path).CombinedOutput(); err != nil {
			t.Fatalf("ctr import %s: %v\n%s", name, err, out)
		}
	}
	images := filepath.Join(t.TempDir(), "images.yaml")
	os.WriteFile(images, []byte(fmt.Sprintf("defaultTestContainerImage: %s\nwebServerTestImage: %s\n", critestImage, critestImage)), 0o644)

	skips := slices.Sorted(maps.Keys(critestSkip))
	// run runs the specs (those matching focus, if given) on a handler.
	run := func(handler string, focus []string) map[string]critestSpec {
		report := filepath.Join(t.TempDir(), handler+".json")
		args := []string{
			"-runtime-endpoint", "unix://" + c.Sock, "-image-endpoint", "unix://" + c.Sock,
			"-runtime-handler", handler, "-test-images-file", images,
			"-ginkgo.skip", strings.Join(skips, "|"), "-ginkgo.json-report", report,
			"-ginkgo.no-color", "-ginkgo.flake-attempts", "2", "-ginkgo.timeout", "10m",
		}
		if len(focus) > 0 {
			args = append(args, "-ginkgo.focus", strings.Join(focus, "|"))
		}
		cmd := exec.Command(critest, args...)
		cmd.Dir = t.TempDir()
		start := time.Now()
		out, err := cmd.CombinedOutput() // a failed spec fails critest: the report says which
		t.Logf("critest -runtime-handler %s: %v in %v", handler, err, time.Since(start).Round(time.Second))
		return readGinkgoReport(t, report, out)
	}
	plain, sec := run("runc", nil), run("secrun", nil)
	differ := func() []string {
		var d []string
		for _, name := range slices.Sorted(maps.Keys(plain)) {
			if (plain[name].State == "passed") != (sec[name].State == "passed") {
				d = append(d, name)
			}
		}
		return d
	}
	// A spec that passed with one handler and not the other runs again
	// with both: a difference counts when it passed in neither run on
	// one side.
	if d := differ(); len(d) > 0 {
		var focus []string
		for _, name := range d {
			focus = append(focus, regexp.QuoteMeta(name))
		}
		t.Logf("%d spec(s) differ, running them again with both handlers: %q", len(d), d)
		for _, again := range []struct {
			m       map[string]critestSpec
			handler string
		}{{plain, "runc"}, {sec, "secrun"}} {
			for name, s := range run(again.handler, focus) {
				if s.State == "passed" {
					again.m[name] = s
				}
			}
		}
	}

	count := func(m map[string]critestSpec, state string) int {
		n := 0
		for _, s := range m {
			if s.State == state {
				n++
			}
		}
		return n
	}
	for _, name := range differ() {
		p, s := plain[name], sec[name]
		t.Errorf("critest spec %q: %s with the runc handler, %s through secrun with every knob off\nrunc:   %s\nsecrun: %s",
			name, p.State, s.State, tail(p.Failure), tail(s.Failure))
	}
	for re, why := range critestSkip {
		t.Logf("skipped %q: %s", re, why)
	}
	t.Logf("%d specs: runc handler %d passed, %d failed, %d skipped; secrun %d passed, %d failed, %d skipped",
		len(plain), count(plain, "passed"), count(plain, "failed"), count(plain, "skipped"),
		count(sec, "passed"), count(sec, "failed"), count(sec, "skipped"))
	// Equal results prove nothing if nothing passes (73 specs pass here).
	if n := count(plain, "passed"); n < 50 {
		t.Errorf("only %d critest specs pass with the runc handler: the environment is broken, the comparison proves nothing", n)
	}
	for _, name := range slices.Sorted(maps.Keys(plain)) {
		if plain[name].State == "failed" {
			t.Logf("fails with both handlers: %s: %s", name, firstLine(plain[name].Failure))
		}
	}
}

type critestSpec struct{ State, Failure string }

// requireSecrunHandler makes sure the "secrun" handler runs secrun with the
// knobs-off config: a sandbox's bundle carries secrun's mark. Otherwise
// equal results would prove nothing.
func requireSecrunHandler(t *testing.T, c *Containerd) {
	t.Helper()
	out, err := c.Crictl("runp", "--runtime", "secrun", c.podConfig(t, "default", "knobs-off-check", nil))
	if err != nil {
		t.Fatalf("runp on the secrun handler with every knob off: %s", out)
	}
	pod := strings.TrimSpace(out)
	defer func() { c.Crictl("stopp", pod); c.Crictl("rmp", "-f", pod) }()
	data, err := os.ReadFile(filepath.Join(c.Dir, "state/io.containerd.runtime.v2.task/k8s.io", pod, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"secrun.io/policy":"runtime-default/off"`) {
		t.Fatalf("the secrun handler's sandbox spec lacks secrun.io/policy = runtime-default/off: secrun did not rewrite it:\n%.2000s", data)
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// readGinkgoReport maps each spec to its state (passed, failed, skipped...).
func readGinkgoReport(t *testing.T, path string, out []byte) map[string]critestSpec {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("critest wrote no report (%v):\n%s", err, tail(string(out)))
	}
	var suites []struct {
		SpecReports []struct {
			ContainerHierarchyTexts []string
			LeafNodeText            string
			LeafNodeType            string
			State                   string
			Failure                 struct{ Message string }
		}
	}
	if err := json.Unmarshal(data, &suites); err != nil {
		t.Fatalf("critest report %s: %v", path, err)
	}
	m := map[string]critestSpec{}
	for _, s := range suites {
		for _, r := range s.SpecReports {
			if r.LeafNodeType != "It" {
				continue
			}
			name := strings.Join(append(slices.Clone(r.ContainerHierarchyTexts), r.LeafNodeText), " ")
			m[name] = critestSpec{r.State, r.Failure.Message}
		}
	}
	if len(m) == 0 {
		t.Fatalf("critest report %s lists no spec:\n%s", path, tail(string(out)))
	}
	return m
}

// installCNIStub gives containerd a network plugin: this host has no CNI
// plugins and no registry to fetch them from, and containerd's CRI runs no
// pod without one. The stub configures nothing but the pod's loopback
// device and reports an address, so pods get a network namespace of their
// own with lo up and no route out.
func installCNIStub(t *testing.T, c *Containerd) {
	t.Helper()
	// containerd runs it twice per pod: as "loopback" (its own lo
	// network, ifname lo) and for the configured network (eth0).
	stub := `#!/bin/sh
case "$CNI_COMMAND" in
ADD)
	nsenter --net="$CNI_NETNS" ip link set lo up || exit 1
	ip=10.99.0.2/24; [ "$CNI_IFNAME" = lo ] && ip=127.0.0.1/8
	printf '{"cniVersion":"1.0.0","interfaces":[{"name":"%s","sandbox":"%s"}],"ips":[{"address":"%s","interface":0}]}' "$CNI_IFNAME" "$CNI_NETNS" "$ip"
	;;
VERSION)
	printf '{"cniVersion":"1.0.0","supportedVersions":["0.4.0","1.0.0"]}'
	;;
esac
`
	for _, name := range []string{"secrun-stub", "loopback"} {
		if err := os.WriteFile(c.Dir+"/cni/bin/"+name, []byte(stub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	conf := `{"cniVersion":"1.0.0","name":"secrun-stub","plugins":[{"type":"secrun-stub"}]}`
	if err := os.WriteFile(c.Dir+"/cni/conf/10-stub.conflist", []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	// containerd watches the directory: wait until CRI reports the network ready.
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, _ := c.Crictl("info")
		var info struct {
			Status struct {
				Conditions []struct {
					Type   string
					Status bool
				}
			}
		}
		json.Unmarshal([]byte(out), &info)
		for _, cond := range info.Status.Conditions {
			if cond.Type == "NetworkReady" && cond.Status {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("containerd did not load the CNI stub:\n%s", tail(out))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// buildBusyboxImage writes an OCI image archive of busybox-static with a
// link for every applet, named name; setuid files are added set-user-ID
// root, and entrypoint is the image's (the default runs sh).
func buildBusyboxImage(t *testing.T, path, name string, setuid map[string][]byte, entrypoint ...string) {
	t.Helper()
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatalf("busybox-static not installed: %v", err)
	}
	list, err := exec.Command(bb, "--list").Output()
	if err != nil {
		t.Fatalf("busybox --list: %v", err)
	}
	bin, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	epoch := time.Unix(0, 0)
	for _, d := range []string{"bin", "dev", "etc", "proc", "sys", "tmp", "var", "var/run", "root"} {
		tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: epoch})
	}
	file := func(name string, mode int64, data []byte) {
		tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: mode, Size: int64(len(data)), ModTime: epoch})
		tw.Write(data)
	}
	file("bin/busybox", 0o755, bin)
	// Hard links, as busybox images have: masking /bin/ls (a critest spec)
	// must not mask the shell too, as it would through a symlink.
	for _, a := range strings.Fields(string(list)) {
		if a != "busybox" {
			tw.WriteHeader(&tar.Header{Name: "bin/" + a, Typeflag: tar.TypeLink, Linkname: "bin/busybox", Mode: 0o755, ModTime: epoch})
		}
	}
	file("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"))
	file("etc/group", 0o644, []byte("root:x:0:\nnogroup:x:65534:\n"))
	for _, n := range slices.Sorted(maps.Keys(setuid)) {
		file(n, 0o4755, setuid[n])
	}
	tw.Close()

	writeOCIArchive(t, path, layer.Bytes(), entrypoint, []string{"sh"}, map[string]string{"io.containerd.image.name": name})
}
