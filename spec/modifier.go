package spec

import specs "github.com/opencontainers/runtime-spec/specs-go"

// A Modifier is one step of the policy: Modify changes the spec in place
// and says what it did, or refuses the spec with an *Error. A modifier has
// no effect outside the spec (host side effects are HostEffects).
type Modifier interface {
	Modify(s *specs.Spec) ([]Change, error)
}

// Modifiers is the policy for a container's spec, in the one order that is
// right:
//   - annotations first: a runtime extension such as run.oci.seccomp_bpf_data
//     would override what every later step sets;
//   - capabilities before seccomp: Docker's profile grants calls by
//     capability (mount with CAP_SYS_ADMIN, ptrace with CAP_SYS_PTRACE), so
//     it is resolved for the final bounding set (containerd's
//     WithDefaultProfile must follow WithCapabilities for the same reason);
//   - no-new-privileges and AppArmor depend on nothing after them;
//   - Pod Security last of the checks: it judges the spec as the runtime
//     will run it;
//   - the marker last: it records the policy that was applied.
func (p *Policy) Modifiers() []Modifier {
	return []Modifier{annotations{p}, capabilities{p, nil}, noNewPrivileges{p}, seccomp{p}, apparmor{p}, podSecurity{p}, mark{p}}
}

// RecordingModifiers are what decides which calls a container can make, so
// that `secrun record` runs the workload as secrun would run it; the spec's
// shape (Pod Security) and AppArmor are left to the create that uses the
// profile.
func (p *Policy) RecordingModifiers() []Modifier {
	return []Modifier{capabilities{p, nil}, noNewPrivileges{p}, seccomp{p}}
}

// ExecModifiers confine a process exec'd into a running container whose
// confined process is container (nil when unknown): at most the
// container's capabilities, no-new-privileges, the container's AppArmor
// profile, and under restricted Pod Security not as root. Seccomp needs no step: the runtime applies the container's
// filter to every process it execs into it.
func (p *Policy) ExecModifiers(container *specs.Process) []Modifier {
	limit := (*specs.LinuxCapabilities)(nil)
	if container != nil {
		limit = container.Capabilities
		if limit == nil {
			limit = &specs.LinuxCapabilities{}
		}
	}
	return []Modifier{capabilities{p, limit}, noNewPrivileges{p}, execAppArmor{p, container}, execPodSecurity{p}}
}

// Apply runs modifiers in order on s; the first refusal stops it.
func Apply(s *specs.Spec, modifiers []Modifier) ([]Change, error) {
	var changes []Change
	for _, m := range modifiers {
		c, err := m.Modify(s)
		if err != nil {
			return nil, err
		}
		changes = append(changes, c...)
	}
	return changes, nil
}

// ApplyConfig confines a container's spec in place.
func (p *Policy) ApplyConfig(s *specs.Spec) ([]Change, error) { return Apply(s, p.Modifiers()) }

// ApplyRecording confines the spec of a container about to be recorded.
func (p *Policy) ApplyRecording(s *specs.Spec) ([]Change, error) {
	return Apply(s, p.RecordingModifiers())
}

// ApplyExec confines a process about to be exec'd into a container.
func (p *Policy) ApplyExec(proc, container *specs.Process) ([]Change, error) {
	return Apply(&specs.Spec{Process: proc}, p.ExecModifiers(container))
}
