package spec

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/secrun/secrun/profiles"
)

// A compliant container: its own namespaces, masked /proc, no host paths.
// NSPATH is a namespace file that is not the host's (pssDoc fills it in).
const pssBase = `{"process":{"user":{"uid":1000,"gid":1000},"args":["sh"],"cwd":"/","noNewPrivileges":true,
"capabilities":{"bounding":["CAP_NET_BIND_SERVICE"],"effective":["CAP_NET_BIND_SERVICE"],"permitted":["CAP_NET_BIND_SERVICE"]}},
"root":{"path":"rootfs"},"mounts":[{"destination":"/data","type":"bind","source":"/var/lib/kubelet/pods/uid/volumes/x","options":["rbind"]}],
"linux":{"namespaces":[{"type":"pid"},{"type":"ipc"},{"type":"network","path":"NSPATH"},{"type":"mount"}],
"maskedPaths":["/proc/acpi","/proc/asound","/proc/kcore","/proc/keys","/proc/latency_stats","/proc/timer_list","/proc/timer_stats","/proc/sched_debug","/sys/firmware","/proc/scsi"],
"readonlyPaths":["/proc/bus","/proc/fs","/proc/irq","/proc/sys","/proc/sysrq-trigger"],"sysctl":{"net.ipv4.ip_unprivileged_port_start":"0"}}}`

func TestPodSecurityChecks(t *testing.T) {
	cases := []struct {
		check, from, to, level string
	}{
		{"host-pid", `{"type":"pid"},`, ``, "baseline"},
		{"host-ipc", `{"type":"ipc"},`, ``, "baseline"},
		{"host-network", `"path":"NSPATH"`, `"path":"/proc/1/ns/net"`, "baseline"},
		{"privileged", `"maskedPaths"`, `"resources":{"devices":[{"allow":true,"access":"rwm"}]},"maskedPaths"`, "baseline"},
		{"capabilities", `"bounding":["CAP_NET_BIND_SERVICE"]`, `"bounding":["CAP_NET_BIND_SERVICE","CAP_SYS_PTRACE"]`, "baseline"},
		{"capabilities", `"bounding":["CAP_NET_BIND_SERVICE"]`, `"bounding":["CAP_CHOWN"]`, "restricted"},
		{"host-path", `/var/lib/kubelet/pods/uid/volumes/x`, `/var/run/docker.sock`, "baseline"},
		{"host-path", `/var/lib/kubelet/pods/uid/volumes/x`, `/`, "baseline"},
		{"host-path", `/var/lib/kubelet/pods/uid/volumes/x`, `/etc/kubernetes`, "baseline"},
		{"host-path", `/var/lib/kubelet/pods/uid/volumes/x`, `/var/lib/kubelet`, "baseline"},
		{"proc-mount", `"maskedPaths":[`, `"maskedPaths":[],"x":[`, "baseline"},
		{"sysctls", `"net.ipv4.ip_unprivileged_port_start"`, `"kernel.sem"`, "baseline"},
		{"run-as-root", `"uid":1000`, `"uid":0`, "restricted"},
	}
	for _, tc := range cases {
		t.Run(tc.check+"/"+tc.level, func(t *testing.T) {
			p := policy(profiles.Restricted)
			p.PodSecurity = PodSecurity{Level: tc.level, Mode: "enforce"}
			base := pssDoc(t, pssBase)
			ok := load(t, base)
			if _, err := p.ApplyConfig(ok.Spec); err != nil {
				t.Fatalf("compliant spec refused: %v", err)
			}
			doc := pssDoc(t, strings.Replace(pssBase, tc.from, tc.to, 1))
			if strings.Replace(pssBase, tc.from, tc.to, 1) == pssBase {
				t.Fatal("edit did not apply")
			}
			p.CapAllow = profiles.AllCaps() // let pod security, not the allowlist, decide
			_, err := p.ApplyConfig(load(t, doc).Spec)
			if err == nil || !strings.Contains(err.Error(), tc.check+":") || !strings.Contains(err.Error(), "[podsecurity] allow") {
				t.Fatalf("err = %v, want a %s violation", err, tc.check)
			}
			p.PodSecurity.Allow = []string{tc.check}
			if _, err := p.ApplyConfig(load(t, doc).Spec); err != nil {
				t.Errorf("exempted %s still refused: %v", tc.check, err)
			}
			p.PodSecurity = PodSecurity{Level: tc.level, Mode: "warn"}
			changes, err := p.ApplyConfig(load(t, doc).Spec)
			if err != nil || !slices.ContainsFunc(changes, func(c Change) bool { return c.Kind == Warning && strings.HasPrefix(c.Msg, "pod security") }) {
				t.Errorf("warn mode: %v %v", changes, err)
			}
		})
	}
}

func TestPodSecuritySeccompUnconfined(t *testing.T) {
	p := policy(profiles.RuntimeDefault)
	p.SeccompMode = "off"
	p.PodSecurity = PodSecurity{Level: "baseline", Mode: "enforce"}
	if _, err := p.ApplyConfig(load(t, pssDoc(t, pssBase)).Spec); err == nil || !strings.Contains(err.Error(), "seccomp: linux.seccomp") {
		t.Errorf("seccomp off: %v", err)
	}
}

// pssDoc fills NSPATH with a file that is not the host's namespace (the
// runtime would fail to join it, but the checks only ask "is it the host's").
func pssDoc(t *testing.T, doc string) string {
	t.Helper()
	ns := filepath.Join(t.TempDir(), "ns")
	if err := os.WriteFile(ns, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(doc, "NSPATH", ns)
}
