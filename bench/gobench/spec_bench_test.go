package gobench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	mobyseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/secrun/secrun/config"
	"github.com/secrun/secrun/profiles"
	"github.com/secrun/secrun/spec"
)

// The steps `secrun create` runs between process start and execve, one by
// one and together, on containerd-shaped configs padded to 10, 20 and 30 KB.

var sizes = []int{10, 20, 30}

// podSpec is a spec shaped like the one containerd writes for a pod's
// container (compact JSON, CRI annotations, the stock capabilities, no
// seccomp), padded with environment variables and annotations to at least
// kb KiB. withProfile adds Docker's default profile, as containerd does for
// seccompProfile RuntimeDefault (secrun then merges instead of adding).
func podSpec(tb testing.TB, kb int, withProfile bool) []byte {
	tb.Helper()
	caps := profiles.StockCaps()
	s := &specs.Spec{
		Version:  specs.Version,
		Hostname: "web-7d9f8b6c5-abcde",
		Process: &specs.Process{
			User: specs.User{UID: 65532, GID: 65532, AdditionalGids: []uint32{65532}},
			Args: []string{"/app/server", "--port=8080"},
			Env:  []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=web"},
			Cwd:  "/",
			Capabilities: &specs.LinuxCapabilities{
				Bounding: caps, Effective: caps, Permitted: caps,
			},
			OOMScoreAdj: intPtr(1000),
		},
		Root: &specs.Root{Path: "rootfs"},
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
			{Destination: "/etc/hosts", Type: "bind", Source: "/var/lib/kubelet/pods/0f2c/etc-hosts", Options: []string{"rbind", "rprivate", "rw"}},
			{Destination: "/dev/termination-log", Type: "bind", Source: "/var/lib/kubelet/pods/0f2c/containers/web/1a2b", Options: []string{"rbind", "rprivate", "rw"}},
			{Destination: "/etc/hostname", Type: "bind", Source: "/var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/5e6f/hostname", Options: []string{"rbind", "rprivate", "rw"}},
			{Destination: "/etc/resolv.conf", Type: "bind", Source: "/var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/5e6f/resolv.conf", Options: []string{"rbind", "rprivate", "rw"}},
			{Destination: "/dev/shm", Type: "bind", Source: "/run/containerd/io.containerd.grpc.v1.cri/sandboxes/5e6f/shm", Options: []string{"rbind", "rprivate", "rw"}},
			{Destination: "/var/run/secrets/kubernetes.io/serviceaccount", Type: "bind", Source: "/var/lib/kubelet/pods/0f2c/volumes/kubernetes.io~projected/kube-api-access-x", Options: []string{"rbind", "rprivate", "ro"}},
		},
		Annotations: map[string]string{
			config.AnnContainerType: "container",
			config.AnnNamespace:     "default",
			config.AnnPod:           "web-7d9f8b6c5-abcde",
			config.AnnContainer:     "web",
			config.AnnImage:         "registry.example/web:1.2.3",
		},
		Linux: &specs.Linux{
			CgroupsPath: "kubepods-besteffort-pod0f2c.slice:cri-containerd:9a8b7c",
			Resources:   &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}},
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace},
				// CRI joins the sandbox's namespaces by path; the Pod Security
				// checks stat such paths and refuse one that does not exist,
				// so the benchmark's spec makes new ones.
				{Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace},
				{Type: specs.MountNamespace},
				{Type: specs.NetworkNamespace},
			},
			MaskedPaths: []string{"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
				"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"},
			ReadonlyPaths: []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
		},
	}
	if withProfile {
		p, err := mobyseccomp.GetDefaultProfile(s)
		if err != nil {
			tb.Fatal(err)
		}
		s.Linux.Seccomp = p
	}
	for i := 0; ; i++ {
		data, err := json.Marshal(s)
		if err != nil {
			tb.Fatal(err)
		}
		if len(data) >= kb<<10 {
			return data
		}
		pad := fmt.Sprintf("%080d", i)
		if i%2 == 0 {
			s.Process.Env = append(s.Process.Env, fmt.Sprintf("PAD_%04d=%s", i, pad))
		} else {
			s.Annotations[fmt.Sprintf("example.com/pad-%04d", i)] = pad
		}
	}
}

func intPtr(i int) *int { return &i }

// bundle writes data as config.json of a new bundle in dir (a temp dir when
// empty) and returns the bundle directory.
func bundle(tb testing.TB, dir string, data []byte) string {
	tb.Helper()
	if dir == "" {
		dir = tb.TempDir()
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// nodeConfigFile is a copy of deploy/config.toml, the node config `make
// install` installs; without it, a missing file: secrun's embedded default.
func nodeConfigFile(tb testing.TB) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "config.toml")
	data, err := os.ReadFile("../../deploy/config.toml")
	if err != nil {
		return path
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

func policy(tb testing.TB, ann map[string]string) *spec.Policy {
	tb.Helper()
	c, err := config.Load(nodeConfigFile(tb))
	if err != nil {
		tb.Fatal(err)
	}
	p, _, err := c.PolicyFor(nil, ann)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

type input struct {
	name        string
	kb          int
	withProfile bool
}

func inputs() []input {
	var in []input
	for _, kb := range sizes {
		in = append(in, input{fmt.Sprintf("%dKB", kb), kb, false})
	}
	// RuntimeDefault: the profile alone is over 30 KB; secrun merges.
	return append(in, input{"RuntimeDefault", 0, true})
}

// BenchmarkNodeConfig: read and resolve the node config (TOML) into a policy.
func BenchmarkNodeConfig(b *testing.B) {
	path := nodeConfigFile(b)
	ann := map[string]string{config.AnnContainerType: "container", config.AnnNamespace: "default"}
	b.ReportAllocs()
	for b.Loop() {
		c, err := config.Load(path)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := c.PolicyFor(nil, ann); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSeccompResolve: Docker's default profile resolved for a bounding set.
func BenchmarkSeccompResolve(b *testing.B) {
	p := policy(b, nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Seccomp(profiles.BaselineCaps()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadConfig: read and parse config.json (raw object and typed spec).
func BenchmarkLoadConfig(b *testing.B) {
	for _, in := range inputs() {
		dir := bundle(b, "", podSpec(b, in.kb, in.withProfile))
		b.Run(in.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := spec.LoadConfig(dir, ""); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkApplyConfig: the policy steps on a freshly parsed spec.
func BenchmarkApplyConfig(b *testing.B) {
	for _, in := range inputs() {
		data := podSpec(b, in.kb, in.withProfile)
		var s0 specs.Spec
		if err := json.Unmarshal(data, &s0); err != nil {
			b.Fatal(err)
		}
		p := policy(b, s0.Annotations)
		b.Run(in.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				var s specs.Spec
				json.Unmarshal(data, &s)
				b.StartTimer()
				if _, err := p.ApplyConfig(&s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEncode: the confined spec written back (owned fields spliced
// into the original bytes).
func BenchmarkEncode(b *testing.B) {
	for _, in := range inputs() {
		dir := bundle(b, "", podSpec(b, in.kb, in.withProfile))
		c, err := spec.LoadConfig(dir, "")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := policy(b, c.Spec.Annotations).ApplyConfig(c.Spec); err != nil {
			b.Fatal(err)
		}
		b.Run(in.name, func(b *testing.B) {
			b.ReportAllocs()
			var n int
			for b.Loop() {
				data, err := c.Encode()
				if err != nil {
					b.Fatal(err)
				}
				n = len(data)
			}
			b.ReportMetric(float64(n)/1024, "KB-out")
		})
	}
}

// saveDirs are where Save is measured: the test's temp dir (often disk) and
// /dev/shm when it is tmpfs, like /run where containerd keeps bundles.
// An empty dir means the test's temp dir.
func saveDirs(b *testing.B) []struct{ fs, dir string } {
	dirs := []struct{ fs, dir string }{{fsName(os.TempDir()), ""}}
	if dirs[0].fs != "tmpfs" && fsName("/dev/shm") == "tmpfs" {
		d, err := os.MkdirTemp("/dev/shm", "secrun-bench-")
		if err == nil {
			b.Cleanup(func() { os.RemoveAll(d) })
			dirs = append(dirs, struct{ fs, dir string }{"tmpfs", d})
		}
	}
	return dirs
}

func fsName(path string) string {
	var st syscall.Statfs_t
	if syscall.Statfs(path, &st) != nil {
		return "unknown"
	}
	switch uint64(st.Type) {
	case 0x01021994:
		return "tmpfs"
	case 0xef53:
		return "ext4"
	case 0x58465342:
		return "xfs"
	case 0x9123683e:
		return "btrfs"
	case 0x794c7630:
		return "overlayfs"
	}
	return fmt.Sprintf("fs%x", uint64(st.Type))
}

// BenchmarkSave: the atomic write (temp file, fsync, rename, fsync of the
// directory) of the confined spec.
func BenchmarkSave(b *testing.B) {
	for _, sd := range saveDirs(b) {
		fs, base := sd.fs, sd.dir
		for _, in := range inputs() {
			dir := b.TempDir()
			if base != "" {
				dir = filepath.Join(base, in.name)
				os.MkdirAll(dir, 0o755)
			}
			bundle(b, dir, podSpec(b, in.kb, in.withProfile))
			c, err := spec.LoadConfig(dir, "")
			if err != nil {
				b.Fatal(err)
			}
			if _, err := policy(b, c.Spec.Annotations).ApplyConfig(c.Spec); err != nil {
				b.Fatal(err)
			}
			data, err := c.Encode()
			if err != nil {
				b.Fatal(err)
			}
			b.Run(in.name+"/"+fs, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					// Orig is what was read, so Save always writes.
					if _, err := c.Save(data); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkCreatePath: everything `secrun create` does in-process: node
// config, policy, load, apply, encode, save, on each filesystem of
// BenchmarkSave. The config is restored to the original (untimed) before
// each iteration.
func BenchmarkCreatePath(b *testing.B) {
	cfgPath := nodeConfigFile(b)
	for _, sd := range saveDirs(b) {
		fs, base := sd.fs, sd.dir
		for _, in := range inputs() {
			orig := podSpec(b, in.kb, in.withProfile)
			dir := b.TempDir()
			if base != "" {
				dir = filepath.Join(base, "create-"+in.name)
				os.MkdirAll(dir, 0o755)
			}
			bundle(b, dir, orig)
			b.Run(in.name+"/"+fs, func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					bundle(b, dir, orig)
					b.StartTimer()
					node, err := config.Load(cfgPath)
					if err != nil {
						b.Fatal(err)
					}
					c, err := spec.LoadConfig(dir, "")
					if err != nil {
						b.Fatal(err)
					}
					pol, _, err := node.PolicyFor(nil, c.Spec.Annotations)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := pol.ApplyConfig(c.Spec); err != nil {
						b.Fatal(err)
					}
					data, err := c.Encode()
					if err != nil {
						b.Fatal(err)
					}
					if changed, err := c.Save(data); err != nil || !changed {
						b.Fatalf("save: changed=%v err=%v", changed, err)
					}
				}
			})
		}
	}
}

// TestInputs checks what the benchmarks measure (no timing): the padded
// configs have their sizes, parse, and come out confined.
func TestInputs(t *testing.T) {
	for _, in := range inputs() {
		data := podSpec(t, in.kb, in.withProfile)
		if in.kb > 0 && (len(data) < in.kb<<10 || len(data) > in.kb<<10+256) {
			t.Errorf("%s: %d bytes", in.name, len(data))
		}
		c, err := spec.LoadConfig(bundle(t, "", data), "")
		if err != nil {
			t.Fatalf("%s: %v", in.name, err)
		}
		if _, err := policy(t, c.Spec.Annotations).ApplyConfig(c.Spec); err != nil {
			t.Fatalf("%s: %v", in.name, err)
		}
		if c.Spec.Linux.Seccomp == nil || !c.Spec.Process.NoNewPrivileges {
			t.Errorf("%s: not confined", in.name)
		}
	}
}
