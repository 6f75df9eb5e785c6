package spec

import (
	"fmt"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// runc and crun read some annotations as settings: they change confinement
// outside the spec fields secrun polices (crun's run.oci.seccomp_bpf_data
// replaces linux.seccomp with raw BPF). Every key under a namespace a
// runtime interprets is refused unless it is known to be harmless or the
// node admin allows it; other annotations (io.kubernetes.*, secrun.io/*,
// a pod's own) pass.

// AnnotationPolicy is the node's word on runtime-interpreted annotations.
type AnnotationPolicy struct {
	// Allow lists more keys to accept: exact keys, or prefixes ending in
	// "*" ("org.systemd.property.*").
	Allow []string
}

// RuntimeAnnotations returns the annotation namespaces (prefixes) and the
// single keys that runc or crun read settings from: what the annotations
// modifier refuses unless harmless or allowed. Copies, for tests and docs.
func RuntimeAnnotations() (prefixes, keys []string) {
	return slices.Clone(runtimePrefixes), slices.Clone(runtimeKeys)
}

// runtimePrefixes are the namespaces runc or crun read settings from
// (compared case-insensitively: refusing a spelling no runtime reads costs
// nothing).
var runtimePrefixes = []string{
	"run.oci.",              // crun's extensions
	"org.systemd.property.", // runc and crun, systemd cgroup driver: unit properties
	"org.criu.",             // runc and crun: CRIU configuration file
	"krun.",                 // crun's libkrun handler
	"module.wasm.image/",    // crun's wasm handler
	"org.opencontainers.",   // reserved by the OCI for runtimes
}

// runtimeKeys are single keys a runtime reads.
var runtimeKeys = []string{
	// runc keeps annotations as "key=value" labels followed by its own
	// "bundle=DIR" and takes the first: exec without --process would load
	// its process from this directory's config.json.
	"bundle",
}

// harmlessAnnotations are keys under a runtime namespace that do not
// loosen confinement (prefixes end in "*").
var harmlessAnnotations = []string{
	// crun fails on a syscall name it does not know instead of skipping it.
	"run.oci.seccomp_fail_unknown_syscall",
	// Image metadata (podman copies it); no runtime reads it.
	"org.opencontainers.image.*",
}

// annotationRisks says why the keys runc and crun read are refused.
var annotationRisks = map[string]string{
	"run.oci.seccomp_bpf_data":        "crun loads its value as the seccomp filter in place of linux.seccomp, so secrun's profile is not applied",
	"run.oci.seccomp.plugins":         "crun dlopen()s these libraries (host paths) in the runtime, as root, to answer seccomp notifications",
	"run.oci.seccomp.receiver":        "crun sends the container's seccomp notification fd to this host socket, whose owner then answers the container's syscalls",
	"run.oci.keep_original_groups":    "crun skips setgroups, so the container keeps the runtime's supplementary groups (root's, on the host)",
	"run.oci.hooks.stdout":            "crun creates and appends to this host file as root",
	"run.oci.hooks.stderr":            "crun creates and appends to this host file as root",
	"run.oci.handler":                 "crun runs the container with another handler (krun: a microVM, wasm), outside what secrun checked",
	"run.oci.systemd.subgroup":        "crun puts the container in a cgroup of this name under its scope",
	"run.oci.delegate-cgroup":         "crun hands a sub-cgroup to the container to manage",
	"run.oci.systemd.force_cgroup_v1": "crun mounts the host's cgroup v1 name=systemd hierarchy at this path in the container",
	"run.oci.timens_offset":           "crun (1.8) writes it to the time namespace's offsets",
	"run.oci.mount_context_type":      "crun changes how SELinux labels are applied to volumes",
	"run.oci.pidfd_receiver":          "crun sends a pidfd of the container process to this host socket",
	"org.criu.config":                 "runc and crun have CRIU read this file at checkpoint and restore; its options (action-script...) run as root on the host",
	"module.wasm.image/variant":       "crun runs the container with its wasm handler",
	"bundle":                          "runc reads it as the bundle directory: exec without --process would take its process, capabilities and profiles from that directory's config.json",
	"org.systemd.property.":           "the systemd cgroup driver sets it as a property of the container's unit (DeviceAllow, Delegate, resource limits...)",
	"krun.":                           "crun's krun handler reads it",
	"run.oci.":                        "crun reads run.oci.* annotations as extensions to the spec",
	"org.opencontainers.":             "the namespace is reserved for runtimes",
}

// Check refuses keys a runtime would read as settings, unless
// they are harmless or allowed. source names the node config, for the fix.
func (a AnnotationPolicy) Check(ann map[string]string, source string) error {
	var refused []string
	for _, k := range sortedKeys(ann) {
		if i := strings.IndexFunc(k, func(r rune) bool { return r < 0x20 || r == 0x7f }); i >= 0 {
			// crun cuts a key at NUL: "run.oci.x\x00y" is run.oci.x to it.
			return refuse("annotation %q: the key has a control character (byte %d); runtimes read such keys differently (crun cuts them at NUL), so secrun refuses them", k, i)
		}
		if strings.Contains(k, "=") {
			// runc stores annotations as "key=value" labels: "bundle=/x"
			// as a key would read as the label bundle.
			return refuse("annotation %q: the key has '='; runc stores annotations as key=value labels, where such a key reads as another one, so secrun refuses it", k)
		}
		if !runtimeInterpreted(k) || matchAny(harmlessAnnotations, k) || matchAny(a.Allow, k) {
			continue
		}
		refused = append(refused, fmt.Sprintf("%q (%s)", k, annotationRisk(k)))
	}
	if len(refused) == 0 {
		return nil
	}
	return refuse("annotation %s: runtime extensions that change confinement outside the spec are refused by secrun's policy (if this node needs it, add the key to [annotations] allow in %s, preferably in a rule for this workload)", strings.Join(refused, ", "), source)
}

// annotations refuses runtime-interpreted annotations the policy does not
// allow (see Check).
type annotations struct{ p *Policy }

func (m annotations) Modify(s *specs.Spec) ([]Change, error) {
	return nil, m.p.Annotations.Check(s.Annotations, m.p.Source)
}

// runtimeInterpreted reports whether runc or crun may read key.
func runtimeInterpreted(key string) bool {
	lower := strings.ToLower(key)
	for _, p := range runtimePrefixes {
		if strings.HasPrefix(lower, p) {
			return true
		}
	}
	return slices.Contains(runtimeKeys, lower)
}

// matchAny: an exact key, or a prefix ending in "*".
func matchAny(patterns []string, key string) bool {
	for _, p := range patterns {
		if pre, ok := strings.CutSuffix(p, "*"); ok {
			if strings.HasPrefix(key, pre) {
				return true
			}
		} else if p == key {
			return true
		}
	}
	return false
}

func annotationRisk(key string) string {
	if r := annotationRisks[key]; r != "" {
		return r
	}
	lower := strings.ToLower(key)
	best := ""
	for p := range annotationRisks {
		if strings.HasSuffix(p, ".") && strings.HasPrefix(lower, p) && len(p) > len(best) {
			best = p
		}
	}
	if best != "" {
		return annotationRisks[best]
	}
	return "a runtime reads annotations in this namespace, and this key is not known to be harmless"
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
