package spec

import (
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/secrun/secrun/profiles"
)

// seccomp sets linux.seccomp to the node's profile, resolved for the final
// bounding set; a profile the spec brings (Kubernetes RuntimeDefault or
// Localhost) or the pod picked is merged with it so that the result allows
// nothing either denies (the merge rule: profiles/merge.go). In complain
// mode the node's profile logs instead of denying.
type seccomp struct{ p *Policy }

func (m seccomp) Modify(s *specs.Spec) ([]Change, error) {
	p := m.p
	if p.SeccompMode == "off" {
		return []Change{note("seccomp", "mode = \"off\" in %s: seccomp left as the spec has it", p.Source)}, nil
	}
	var bounding []string
	if s.Process.Capabilities != nil {
		bounding = s.Process.Capabilities.Bounding
	}
	def, err := p.Seccomp(bounding)
	if err != nil {
		return nil, err
	}
	if s.Linux == nil {
		s.Linux = &specs.Linux{}
	}
	var changes []Change
	if p.SeccompMode == "complain" {
		// Complain mode evaluates the node's profile: what it would deny is
		// logged and allowed. A profile the spec brought is set aside, so
		// that re-applying the policy gives the same spec.
		final := complain(def)
		if s.Linux.Seccomp == nil || s.Linux.Seccomp.DefaultAction != specs.ActLog {
			changes = append(changes, changed("seccomp", "complain mode: calls %s denies are logged (SCMP_ACT_LOG) and allowed", p.SeccompName))
		}
		s.Linux.Seccomp = final
		return changes, nil
	}
	if p.PodProfile != nil {
		picked, err := p.PodProfile(bounding)
		if err != nil {
			return nil, err
		}
		if err := profiles.CheckActions("the pod's seccomp profile", picked); err != nil {
			return nil, refuse("%v", err)
		}
		s.Linux.Seccomp = picked
	}
	final := def
	if user := s.Linux.Seccomp; user != nil {
		if err := profiles.CheckActions("linux.seccomp", user); err != nil {
			return nil, refuse("%v; fix the profile the spec carries", err)
		}
		if w := profiles.MergeWork(user); w > profiles.MaxMergeWork {
			return nil, refuse("linux.seccomp: the profile has %d syscall and argument alternatives, over secrun's limit of %d for merging it with %s (a rule with several conditions on one argument counts one per condition); simplify or split its rules", w, profiles.MaxMergeWork, p.SeccompName)
		}
		var narrowed []string
		final, narrowed = profiles.Merge(user, def)
		if len(narrowed) > 0 {
			changes = append(changes, changed("seccomp", "the spec's profile was merged with %s; allowed for fewer arguments or not at all: %s", p.SeccompName, strings.Join(narrowed, ", ")))
		}
	} else {
		changes = append(changes, changed("seccomp", "added %s (%d syscalls allowed, defaultAction %s)", p.SeccompName, countAllowed(def), def.DefaultAction))
	}
	if p.Notes != nil {
		changes = append(changes, p.Notes()...)
	}
	if p.LogDenials && !slices.Contains(final.Flags, specs.LinuxSeccompFlagLog) {
		final.Flags = append(slices.Clone(final.Flags), specs.LinuxSeccompFlagLog)
	}
	s.Linux.Seccomp = final
	return changes, nil
}

// complain turns every denial of p into a logged allow, except answers
// with a compatibility errno: clone3's ENOSYS is not a denial but tells
// libc to fall back to clone, and complain mode must behave as enforcement
// does there (a clone3 that ran would hide the clone the profile decides).
func complain(p *specs.LinuxSeccomp) *specs.LinuxSeccomp {
	out := *p
	out.DefaultAction, out.DefaultErrnoRet = specs.ActLog, nil
	out.Syscalls = nil
	for _, r := range p.Syscalls {
		if profiles.CompatErrno(r) {
			out.Syscalls = append(out.Syscalls, r)
			continue
		}
		if !profiles.Permissive(r.Action) {
			r.Action, r.ErrnoRet = specs.ActLog, nil
		}
		out.Syscalls = append(out.Syscalls, r)
	}
	return &out
}

func countAllowed(p *specs.LinuxSeccomp) int {
	seen := make(map[string]bool, 512) // Docker's profile allows about 370 names
	for _, r := range p.Syscalls {
		if profiles.Permissive(r.Action) {
			for _, n := range r.Names {
				seen[n] = true
			}
		}
	}
	return len(seen)
}
