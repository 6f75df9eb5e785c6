package spec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hostile edits of pssBase: each must fail its check, naming the field.
func TestPodSecurityHostile(t *testing.T) {
	tmp := t.TempDir()
	// bundle is deep enough that ../ x8 reaches / from it.
	bundle := filepath.Join(tmp, "a/b/c/bundle")
	os.MkdirAll(filepath.Join(bundle, "rootfs"), 0o755)
	os.Symlink("/etc", filepath.Join(bundle, "etclink"))
	os.MkdirAll("/tmp", 0o755)
	os.Symlink("/etc/ssl", filepath.Join(bundle, "ssl"))
	writable := filepath.Join(tmp, "hook")
	os.WriteFile(writable, []byte("#!/bin/sh\n"), 0o757)
	os.Chmod(writable, 0o757)
	mount := func(m string) [2]string { return [2]string{`"mounts":[`, `"mounts":[` + m + `,`} }
	hook := func(h string) [2]string {
		return [2]string{`"root":{"path":"rootfs"}`, `"root":{"path":"rootfs"},"hooks":` + h}
	}
	root := func(r string) [2]string { return [2]string{`"root":{"path":"rootfs"}`, `"root":{"path":"` + r + `"}`} }
	cases := []struct {
		name, check, field string
		edit               [2]string
		ps                 func(*PodSecurity)
	}{
		{"relative bind source", "host-path", "mounts[0]", mount(`{"destination":"/h","type":"bind","source":"../../../../../../../../etc","options":["rbind"]}`), nil},
		{"type bind without bind option", "host-path", "mounts[0]", mount(`{"destination":"/h","type":"bind","source":"/etc"}`), nil},
		{"bind in options of another type", "host-path", "mounts[0]", mount(`{"destination":"/h","type":"tmpfs","source":"/etc","options":["bind"]}`), nil},
		{"rbind in options, no type", "host-path", "mounts[0]", mount(`{"destination":"/h","source":"/root","options":["rbind","ro"]}`), nil},
		{"symlink to /etc", "host-path", "mounts[0]", mount(`{"destination":"/h","type":"bind","source":"etclink","options":["bind"]}`), nil},
		{"symlink then ..", "host-path", "mounts[0]", mount(`{"destination":"/h","type":"bind","source":"ssl/../passwd","options":["bind"]}`), nil},
		{"overlay lowerdir /etc", "host-path", "mounts[0]", mount(`{"destination":"/h","type":"overlay","source":"overlay","options":["lowerdir=/etc"]}`), nil},
		{"overlay second lower dir", "host-path", "mounts[0]", mount(`{"destination":"/h","type":"overlay","source":"overlay","options":["lowerdir=/tmp/x:/etc/kubernetes"]}`), nil},
		{"overlay upperdir", "host-path", "mounts[0]", mount(`{"destination":"/h","type":"overlay","source":"overlay","options":["lowerdir=/tmp/x","upperdir=/var/lib/kubelet/pki","workdir=/tmp/w"]}`), nil},
		{"overlay relative lowerdir", "host-path", "mounts[0]", mount(`{"destination":"/h","type":"overlay","source":"overlay","options":["lowerdir=../../../etc"]}`), nil},
		{"block device", "host-path", "mounts[0]", mount(`{"destination":"/h","type":"ext4","source":"/dev/sda1"}`), nil},
		{"block device relative", "host-path", "mounts[0]", mount(`{"destination":"/h","type":"ext4","source":"../../../dev/sda1"}`), nil},
		{"debugfs", "host-path", "mounts[0]", mount(`{"destination":"/h","type":"debugfs","source":"debugfs"}`), nil},
		{"binfmt_misc", "host-path", "mounts[0]", mount(`{"destination":"/h","type":"binfmt_misc","source":"binfmt_misc"}`), nil},
		{"runc state", "host-path", "mounts[0]", mount(`{"destination":"/h","type":"bind","source":"/run/runc","options":["rbind"]}`), nil},
		{"crun state", "host-path", "mounts[0]", mount(`{"destination":"/h","type":"bind","source":"/run/crun/x/status","options":["rbind"]}`), nil},
		{"containerd runc root", "host-path", "mounts[0]", mount(`{"destination":"/h","type":"bind","source":"/run/containerd/runc/k8s.io","options":["rbind"]}`), nil},
		{"another bundle", "host-path", "mounts[0]", mount(`{"destination":"/h","type":"bind","source":"/run/containerd/io.containerd.runtime.v2.task/k8s.io/other","options":["rbind"]}`), nil},
		{"kubelet pods", "host-path", "mounts[0]", mount(`{"destination":"/h","type":"bind","source":"/var/lib/kubelet/pods","options":["rbind"]}`), nil},
		{"kubelet plugins", "host-path", "mounts[0]", mount(`{"destination":"/h","type":"bind","source":"/var/lib/kubelet/plugins","options":["rbind"]}`), nil},
		{"cri sandbox dir", "host-path", "mounts[0]", mount(`{"destination":"/h","type":"bind","source":"/var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/abc","options":["rbind"]}`), nil},
		{"snapshots", "host-path", "mounts[0]", mount(`{"destination":"/h","type":"bind","source":"/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs","options":["rbind"]}`), nil},
		{"docker state", "host-path", "mounts[0]", mount(`{"destination":"/h","type":"bind","source":"/var/run/docker/runtime-runc/moby","options":["rbind"]}`), nil},
		{"secrun state", "host-path", "mounts[0]", mount(`{"destination":"/h","type":"bind","source":"/var/lib/secrun","options":["rbind"]}`), nil},
		{"recordings dir", "host-path", "mounts[0]", mount(`{"destination":"/h","type":"bind","source":"/srv/rec/ns","options":["rbind"]}`), func(p *PodSecurity) { p.HostDirs = []string{"/srv/rec"} }},
		{"runtime --root", "host-path", "mounts[0]", mount(`{"destination":"/h","type":"bind","source":"/srv/state","options":["rbind"]}`), func(p *PodSecurity) { p.HostDirs = []string{"/srv/state/k8s.io"} }},
		{"root /", "host-path", "root.path", root("/"), nil},
		{"root /etc", "host-path", "root.path", root("/etc"), nil},
		{"root relative up to /", "host-path", "root.path", root("../../../../../../../../.."), nil},
		{"root /var/lib", "host-path", "root.path", root("/var/lib"), nil},
		{"root symlink to /etc", "host-path", "root.path", root("etclink"), nil},
		{"root another runtime's state", "host-path", "root.path", root("/run/runc"), nil},
		{"pid namespace of pid 2", "host-pid", "linux.namespaces[0].path", [2]string{`{"type":"pid"}`, `{"type":"pid","path":"/proc/2/ns/pid"}`}, nil},
		{"pid namespace of self", "host-pid", "linux.namespaces[0].path", [2]string{`{"type":"pid"}`, `{"type":"pid","path":"/proc/self/ns/pid"}`}, nil},
		{"ipc namespace of self", "host-ipc", "linux.namespaces[1].path", [2]string{`{"type":"ipc"}`, `{"type":"ipc","path":"/proc/thread-self/ns/ipc"}`}, nil},
		{"net namespace of self", "host-network", "linux.namespaces[2].path", [2]string{`"path":"NSPATH"`, `"path":"/proc/self/ns/net"`}, nil},
		{"net namespace missing file", "host-network", "linux.namespaces[2].path", [2]string{`"path":"NSPATH"`, `"path":"/nonexistent/ns/net"`}, nil},
		{"no mount namespace", "host-mount", "linux.namespaces", [2]string{`,{"type":"mount"}`, ``}, nil},
		{"host mount namespace", "host-mount", "linux.namespaces[3].path", [2]string{`{"type":"mount"}`, `{"type":"mount","path":"/proc/self/ns/mnt"}`}, nil},
		{"every device, type a", "privileged", "linux.resources.devices[0]", [2]string{`"maskedPaths"`, `"resources":{"devices":[{"allow":true,"type":"a","access":"rwm"}]},"maskedPaths"`}, nil},
		{"every device, major -1", "privileged", "linux.resources.devices[1]", [2]string{`"maskedPaths"`, `"resources":{"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"a","major":-1,"minor":-1,"access":"rw"}]},"maskedPaths"`}, nil},
		{"every block device", "privileged", "linux.resources.devices[0]", [2]string{`"maskedPaths"`, `"resources":{"devices":[{"allow":true,"type":"b","access":"r"}]},"maskedPaths"`}, nil},
		{"maskedPaths without kcore", "proc-mount", "linux.maskedPaths", [2]string{`"/proc/kcore",`, ``}, nil},
		{"maskedPaths one entry", "proc-mount", "linux.maskedPaths", [2]string{`"maskedPaths":[`, `"maskedPaths":["/proc/kcore"],"x":[`}, nil},
		{"readonlyPaths without /proc/sys", "proc-mount", "linux.readonlyPaths", [2]string{`"/proc/sys",`, ``}, nil},
		{"readonlyPaths empty", "proc-mount", "linux.readonlyPaths", [2]string{`"readonlyPaths":[`, `"readonlyPaths":[],"y":[`}, nil},
		{"second procfs", "proc-mount", "mounts[0]", mount(`{"destination":"/proc2","type":"proc","source":"proc"}`), nil},
		{"sysfs elsewhere", "proc-mount", "mounts[0]", mount(`{"destination":"/s","type":"sysfs","source":"sysfs","options":["ro"]}`), nil},
		{"sysfs read-write", "proc-mount", "mounts[0]", mount(`{"destination":"/sys","type":"sysfs","source":"sysfs","options":["ro","rw"]}`), nil},
		{"prestart hook", "hooks", "hooks.prestart[0].path", hook(`{"prestart":[{"path":"/bin/sh","args":["sh","-c","id"]}]}`), nil},
		{"createRuntime hook", "hooks", "hooks.createRuntime[0].path", hook(`{"createRuntime":[{"path":"/usr/bin/env"}]}`), nil},
		{"createContainer hook", "hooks", "hooks.createContainer[0].path", hook(`{"createContainer":[{"path":"/usr/bin/env"}]}`), nil},
		{"startContainer hook", "hooks", "hooks.startContainer[0].path", hook(`{"startContainer":[{"path":"/bin/sh"}]}`), nil},
		{"poststart hook", "hooks", "hooks.poststart[0].path", hook(`{"poststart":[{"path":"/bin/sh"}]}`), nil},
		{"poststop hook, second", "hooks", "hooks.poststop[1].path", hook(`{"poststop":[{"path":"/usr/bin/true"},{"path":"/bin/sh"}]}`), func(p *PodSecurity) { p.HooksAllow = []string{"/usr/bin/true"} }},
		{"relative hook", "hooks", "hooks.prestart[0].path", hook(`{"prestart":[{"path":"true"}]}`), func(p *PodSecurity) { p.HooksAllow = []string{"/usr/bin/true"} }},
		{"allowed but writable hook", "hooks", "hooks.prestart[0].path", hook(`{"prestart":[{"path":"` + writable + `"}]}`), func(p *PodSecurity) { p.HooksAllow = []string{writable} }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ps := PodSecurity{Level: PSSBaseline, Bundle: bundle}
			if tc.ps != nil {
				tc.ps(&ps)
			}
			if v := checkDoc(t, pssBase, ps); v != nil {
				t.Fatalf("compliant spec: %v", v)
			}
			doc := strings.Replace(pssBase, tc.edit[0], tc.edit[1], 1)
			if doc == pssBase {
				t.Fatal("edit did not apply")
			}
			var found []string
			for _, v := range checkDoc(t, doc, ps) {
				found = append(found, v.String())
				if v.Check == tc.check && v.Field == tc.field {
					t.Logf("%s", v)
					return
				}
			}
			t.Errorf("want a %s violation at %s, got %v", tc.check, tc.field, found)
		})
	}
}

// What ordinary CRI and Docker containers mount must still pass.
func TestPodSecurityOrdinary(t *testing.T) {
	bind := func(src string) [2]string {
		return [2]string{`"mounts":[`, `"mounts":[{"destination":"/x","type":"bind","source":"` + src + `","options":["rbind","rprivate"]},`}
	}
	cases := []struct {
		name   string
		edit   [2]string
		bundle string
		ps     func(*PodSecurity)
	}{
		{"emptyDir", bind("/var/lib/kubelet/pods/0a1b/volumes/kubernetes.io~empty-dir/cache"), "", nil},
		{"secret volume", bind("/var/lib/kubelet/pods/0a1b/volumes/kubernetes.io~projected/kube-api-access-x"), "", nil},
		{"subPath", bind("/var/lib/kubelet/pods/0a1b/volume-subpaths/cfg/app/0"), "", nil},
		{"etc-hosts", bind("/var/lib/kubelet/pods/0a1b/etc-hosts"), "", nil},
		{"termination log", bind("/var/lib/kubelet/pods/0a1b/containers/app/3c4d"), "", nil},
		{"sandbox hosts", bind("/var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/abc/hosts"), "", nil},
		{"sandbox resolv.conf", bind("/var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/abc/resolv.conf"), "", nil},
		{"sandbox hostname", bind("/var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/abc/hostname"), "", nil},
		{"sandbox shm", bind("/run/containerd/io.containerd.grpc.v1.cri/sandboxes/abc/shm"), "", nil},
		{"image volume", bind("/var/lib/containerd/io.containerd.grpc.v1.cri/containers/abc/volumes/0f"), "", nil},
		{"docker resolv.conf", bind("/var/lib/docker/containers/abc/resolv.conf"), "", nil},
		{"docker shm", bind("/var/lib/docker/containers/abc/mounts/shm"), "", nil},
		{"docker volume", bind("/var/lib/docker/volumes/data/_data"), "", nil},
		{"hostPath elsewhere", bind("/srv/data"), "", nil},
		{"relative inside bundle", bind("data"), "", nil},
		{"containerd rootfs in its bundle", [2]string{}, "/run/containerd/io.containerd.runtime.v2.task/k8s.io/abc", nil},
		{"docker root", [2]string{`"root":{"path":"rootfs"}`, `"root":{"path":"/var/lib/docker/overlay2/abc/merged"}`}, "/run/containerd/io.containerd.runtime.v2.task/moby/abc", nil},
		{"mknod-only devices (Docker)", [2]string{`"maskedPaths"`, `"resources":{"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","access":"m"},{"allow":true,"type":"b","access":"m"},{"allow":true,"type":"c","major":136,"access":"rwm"}]},"maskedPaths"`}, "", nil},
		{"masked /proc as a whole", [2]string{`"maskedPaths":[`, `"maskedPaths":["/proc","/sys/firmware"],"x":[`}, "", nil},
		{"allowed hook through a link", [2]string{`"root":{"path":"rootfs"}`, `"root":{"path":"rootfs"},"hooks":{"prestart":[{"path":"/bin/true"}]}`}, "", func(p *PodSecurity) {
			if r, _ := filepath.EvalSymlinks("/bin/true"); r != "" {
				p.HooksAllow = []string{r}
			}
		}},
		{"tmpfs and mqueue", [2]string{`"mounts":[`, `"mounts":[{"destination":"/t","type":"tmpfs","source":"tmpfs"},{"destination":"/dev/mqueue","type":"mqueue","source":"mqueue"},{"destination":"/sys","type":"sysfs","source":"sysfs","options":["nosuid","ro"]},`}, "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ps := PodSecurity{Level: PSSBaseline, Bundle: tc.bundle}
			if ps.Bundle == "" {
				ps.Bundle = t.TempDir()
			}
			if tc.ps != nil {
				tc.ps(&ps)
			}
			doc := pssBase
			if tc.edit[0] != "" {
				doc = strings.Replace(pssBase, tc.edit[0], tc.edit[1], 1)
				if doc == pssBase {
					t.Fatal("edit did not apply")
				}
			}
			if v := checkDoc(t, doc, ps); v != nil {
				t.Errorf("refused: %v", v)
			}
		})
	}
}

// Case variants of root and hooks keys: runc reads them, crun does not.
func TestHostFieldsCaseVariants(t *testing.T) {
	for _, edit := range [][2]string{
		{`"root":{"path":"rootfs"}`, `"Root":{"path":"/"}`},
		{`"root":{"path":"rootfs"}`, `"root":{"PATH":"/"}`},
		{`"root":{"path":"rootfs"}`, `"root":{"path":"rootfs"},"Hooks":{"prestart":[{"path":"/bin/sh"}]}`},
		{`"root":{"path":"rootfs"}`, `"root":{"path":"rootfs"},"hooks":{"preStart":[{"path":"/bin/sh"}]}`},
		{`"root":{"path":"rootfs"}`, `"root":{"path":"rootfs"},"hooks":{"prestart":[{"Path":"/bin/sh"}]}`},
	} {
		doc := pssDoc(t, strings.Replace(pssBase, edit[0], edit[1], 1))
		_, err := ParseConfig("config.json", []byte(doc))
		if err == nil || !strings.Contains(err.Error(), "must be spelled") {
			t.Errorf("%s: err = %v, want a spelling refusal", edit[1], err)
		}
	}
}

func checkDoc(t *testing.T, doc string, ps PodSecurity) []Violation {
	t.Helper()
	c := load(t, pssDoc(t, doc))
	// The base has no profile: the policy's seccomp step adds one before
	// the checks run.
	var v []Violation
	for _, x := range CheckPodSecurity(c.Spec, ps) {
		if x.Check != "seccomp" {
			v = append(v, x)
		}
	}
	return v
}
