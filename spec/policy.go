package spec

import specs "github.com/opencontainers/runtime-spec/specs-go"

// Policy is what secrun enforces, resolved from the node config (package
// config) into plain values. Modifiers (modifier.go) turns it into the
// ordered steps that confine a spec.
type Policy struct {
	// Source names where the policy came from, for error hints.
	Source string
	// CapAllow is the capability allowlist; OnViolation is "refuse" or "drop".
	CapAllow    []string
	OnViolation string
	// NoNewPrivileges forces process.noNewPrivileges on.
	NoNewPrivileges bool
	// SeccompMode is "enforce", "complain" or "off"; SeccompName labels the
	// profile in messages; Seccomp resolves it for a final bounding set.
	SeccompMode string
	SeccompName string
	Seccomp     func(bounding []string) (*specs.LinuxSeccomp, error)
	// PodProfile, when set, is a profile the pod picked: it takes the place
	// of the spec's own profile and is merged with the node's like one.
	PodProfile func(bounding []string) (*specs.LinuxSeccomp, error)
	// Notes, when set, returns what resolving Seccomp and PodProfile had
	// to say (a profile file bounded by runtime-default, a young profile),
	// for explain and the runtime log.
	Notes       func() []Change
	AppArmor    AppArmorPolicy
	PodSecurity PodSecurity
	// LogDenials adds SECCOMP_FILTER_FLAG_LOG in enforce mode, so denials
	// reach the kernel log for `secrun monitor`.
	LogDenials bool
	// Annotations: which runtime-interpreted annotations pass (annotations.go).
	Annotations AnnotationPolicy
}
