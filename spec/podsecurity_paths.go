package spec

import (
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Host paths no mount or root may expose: the path, anything under it, and
// any of its parents (mounting /var exposes /var/run/docker.sock).
var sensitiveTrees = []string{
	"/proc", "/sys", "/etc", "/dev", "/boot", "/root", "/var/lib/kubelet/pki",
	"/var/run/docker.sock", "/run/docker.sock", "/run/containerd/containerd.sock",
	"/var/run/containerd/containerd.sock", "/run/crio/crio.sock", "/var/run/crio/crio.sock",
}

// Runtime and kubelet state: a container that can write its runtime's
// state.json gets unconfined execs, one that reads kubelet's dirs gets
// other pods' secrets. Sensitive like sensitiveTrees, except the per-pod
// files the runtimes and kubelet themselves mount (stateExempt).
var stateTrees = []string{
	"/run/runc", "/var/run/runc", "/run/crun", "/var/run/crun",
	"/run/containerd", "/var/run/containerd", "/var/lib/containerd",
	"/run/docker", "/var/run/docker", "/var/lib/docker",
	"/var/lib/kubelet",
	"/run/secrun", "/var/run/secrun", "/var/lib/secrun",
}

// stateExempt are patterns (path.Match per component) of what ordinary
// pods mount from stateTrees; a path matching a pattern, or below a match,
// is not sensitive for being in a state tree.
var stateExempt = []string{
	// kubelet: volumes, subPath mounts, /etc/hosts, termination logs.
	"/var/lib/kubelet/pods/*/volumes/*",
	"/var/lib/kubelet/pods/*/volume-subpaths/*/*/*",
	"/var/lib/kubelet/pods/*/etc-hosts",
	"/var/lib/kubelet/pods/*/containers/*/*",
	// containerd's CRI: the sandbox's hosts, resolv.conf, hostname and
	// /dev/shm, image volumes.
	"/var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/*/hosts",
	"/var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/*/resolv.conf",
	"/var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/*/hostname",
	"/var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/*/shm",
	"/var/lib/containerd/io.containerd.grpc.v1.cri/containers/*/volumes/*",
	"/run/containerd/io.containerd.grpc.v1.cri/sandboxes/*/shm",
	"/var/run/containerd/io.containerd.grpc.v1.cri/sandboxes/*/shm",
	// Docker: per-container files and mounts, named volumes, and the
	// graph drivers' merged roots (Docker's root.path).
	"/var/lib/docker/containers/*/hosts",
	"/var/lib/docker/containers/*/hostname",
	"/var/lib/docker/containers/*/resolv.conf",
	"/var/lib/docker/containers/*/mounts/*",
	"/var/lib/docker/volumes/*/_data",
	"/var/lib/docker/overlay2/*/merged",
	"/var/lib/docker/fuse-overlayfs/*/merged",
	"/var/lib/docker/vfs/dir/*",
	"/var/lib/docker/btrfs/subvolumes/*",
	"/var/lib/docker/zfs/graph/*",
	"/var/lib/docker/rootfs/*/*",
}

// Filesystems whose mount source the kernel ignores: they are the
// container's own (or namespaced) instances.
var pseudoFS = []string{"proc", "sysfs", "tmpfs", "devpts", "mqueue", "cgroup", "cgroup2", "ramfs", "hugetlbfs", "bpf", "none"}

// Filesystems with one instance per host, shared with the host whatever the
// source: mounting one hands the container a host kernel interface
// (binfmt_misc registers interpreters the host runs as root).
var hostFS = []string{"debugfs", "tracefs", "securityfs", "efivarfs", "pstore", "configfs", "binfmt_misc", "fusectl", "selinuxfs", "nfsd", "rpc_pipefs"}

// hostPaths resolves and judges host paths as the runtime will use them.
type hostPaths struct {
	bundle string   // relative sources are relative to it (runc and crun chdir there)
	extra  []string // more sensitive trees: secrun's dirs, the runtime's --root
}

func under(p, dir string) bool { return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/") }

// raw joins a relative path to the bundle without cleaning it: ".." after a
// symbolic link must be resolved on the host, not lexically.
func (h hostPaths) raw(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return h.bundle + "/" + p
}

// resolve returns the path the kernel will reach for p: symbolic links
// followed on the host as far as the path exists, the rest cleaned.
func resolve(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	rest := ""
	for q := filepath.Clean(p); ; {
		parent := filepath.Dir(q)
		if parent == q {
			return filepath.Clean(p)
		}
		rest = filepath.Join(filepath.Base(q), rest)
		q = parent
		if r, err := filepath.EvalSymlinks(q); err == nil {
			return filepath.Join(r, rest)
		}
	}
}

// why says why the host path p is sensitive, "" when it is not. stateOK
// skips the runtime state trees (the container's own rootfs in its bundle).
func (h hostPaths) why(p string, stateOK bool) string {
	for _, t := range append(slices.Clone(sensitiveTrees), h.extra...) {
		if under(p, t) {
			return "a sensitive host path, under " + t
		}
		if under(t, p) {
			return "a parent of the sensitive host path " + t
		}
	}
	for _, t := range stateTrees {
		if p == t {
			return "the runtime state directory " + t
		}
		if under(t, p) {
			return "a parent of the runtime state directory " + t
		}
		if under(p, t) && !stateOK && !exempt(p) {
			return "runtime or kubelet state, under " + t
		}
	}
	return ""
}

func exempt(p string) bool {
	parts := strings.Split(p, "/")
	for _, pat := range stateExempt {
		pp := strings.Split(pat, "/")
		if len(parts) < len(pp) {
			continue
		}
		ok := true
		for i := range pp {
			if m, _ := path.Match(pp[i], parts[i]); !m {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// check judges a host path as given and as resolved: either sensitive is
// refused. It returns a description for the violation, "" when fine.
func (h hostPaths) check(p string, stateOK bool) string {
	given := filepath.Clean(h.raw(p))
	if w := h.why(given, stateOK); w != "" {
		return fmt.Sprintf("%s (%s)", p, w)
	}
	if r := resolve(h.raw(p)); r != given {
		if w := h.why(r, stateOK); w != "" {
			return fmt.Sprintf("%s (resolves on the host to %s: %s)", p, r, w)
		}
	}
	return ""
}

func isBind(m specs.Mount) bool {
	return m.Type == "bind" || m.Type == "rbind" || slices.Contains(m.Options, "bind") || slices.Contains(m.Options, "rbind")
}

// overlayDirs are overlay's options that name host directories.
var overlayDirs = []string{"lowerdir", "lowerdir+", "datadir+", "upperdir", "workdir"}

// splitLower splits overlay's lowerdir list at unescaped colons.
func splitLower(v string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(v); i++ {
		switch {
		case v[i] == '\\' && i+1 < len(v):
			i++
			cur.WriteByte(v[i])
		case v[i] == ':':
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(v[i])
		}
	}
	return append(out, cur.String())
}

// mountViolations checks what each mount takes from the host.
func (h hostPaths) mountViolations(mounts []specs.Mount, add func(check, field, value string)) {
	for i, m := range mounts {
		field := fmt.Sprintf("mounts[%d]", i)
		typ := m.Type
		if typ == "" {
			typ = "(no type)"
		}
		bad := func(what string) { add("host-path", field, fmt.Sprintf("%s -> %s: %s", typ, m.Destination, what)) }
		switch {
		case isBind(m):
			if w := h.check(m.Source, false); w != "" {
				bad("bind source " + w)
			}
		case slices.Contains(hostFS, m.Type):
			bad("the host's single " + m.Type + " instance (a host kernel interface)")
		case m.Type == "overlay":
			for _, o := range m.Options {
				k, v, ok := strings.Cut(o, "=")
				if !ok || !slices.Contains(overlayDirs, k) {
					continue
				}
				dirs := []string{v}
				if strings.HasPrefix(k, "lowerdir") {
					dirs = splitLower(v)
				}
				for _, d := range dirs {
					if !filepath.IsAbs(d) {
						bad(fmt.Sprintf("overlay %s %q is relative (the kernel resolves it against the runtime's working directory); use an absolute path", k, d))
					} else if w := h.check(d, false); w != "" {
						bad("overlay " + k + " " + w)
					}
				}
			}
		case slices.Contains(pseudoFS, m.Type):
		default:
			// A block device or a file system image: the source is a host path.
			src := m.Source
			switch {
			case filepath.IsAbs(src):
				if w := h.check(src, false); w != "" {
					bad("source " + w)
				}
			case slices.Contains(strings.Split(src, "/"), ".."):
				bad(fmt.Sprintf("source %q climbs out with '..' (resolved against the runtime's working directory); use an absolute path", src))
			}
		}
	}
}

// rootViolation checks root.path: the container's whole filesystem. One
// inside the bundle (containerd's bundle/rootfs) may sit in a runtime state
// tree; elsewhere it must not be sensitive (a root of / is the host).
func (h hostPaths) rootViolation(root *specs.Root, add func(check, field, value string)) {
	if root == nil || root.Path == "" {
		return
	}
	bundle := resolve(h.bundle)
	inBundle := under(filepath.Clean(h.raw(root.Path)), filepath.Clean(h.bundle)) && under(resolve(h.raw(root.Path)), bundle)
	if w := h.check(root.Path, inBundle); w != "" {
		add("host-path", "root.path", w)
	}
}
