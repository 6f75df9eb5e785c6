package spec

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/secrun/secrun/profiles"
)

// AppArmorPolicy says what profile to attach and whether the host can.
type AppArmorPolicy struct {
	Profile string
	Require bool
	// HostSupports reports AppArmor support; Ensure loads a profile if
	// needed. Ensure is a side effect on the host: it runs in HostEffects,
	// after every check passed, never from a modifier (explain runs those).
	HostSupports bool
	Ensure       func(name string) error
}

// apparmor names the container's AppArmor profile: the spec's own, else the
// policy's; "unconfined" is refused. On a host without AppArmor the spec is
// left alone (runc fails to start a container whose profile it cannot
// apply), or refused when the policy requires AppArmor.
type apparmor struct{ p *Policy }

func (m apparmor) Modify(s *specs.Spec) ([]Change, error) {
	p, a := m.p, m.p.AppArmor
	if !a.HostSupports {
		if a.Require {
			return nil, refuse("AppArmor is required by [apparmor] require = true in %s, but this host does not support it (no /sys/kernel/security/apparmor or apparmor_parser)", p.Source)
		}
		return []Change{note("apparmor", "this host has no AppArmor; apparmorProfile left as it is")}, nil
	}
	name := s.Process.ApparmorProfile
	if name == "unconfined" {
		return nil, refuse("apparmorProfile \"unconfined\" is not allowed by secrun's policy (set a profile, or leave it empty for %q)", a.Profile)
	}
	if name != "" {
		return nil, nil
	}
	name = a.Profile
	if p.SeccompMode == "complain" && name == profiles.DefaultAppArmor {
		// The same switch puts AppArmor in complain mode: a copy of the
		// default profile loaded with the complain flag.
		name = profiles.DefaultAppArmorComplain
	}
	s.Process.ApparmorProfile = name
	return []Change{changed("apparmorProfile", "set %s", name)}, nil
}

// execAppArmor gives an exec'd process its container's profile: runtimes
// do not carry it over to exec'd processes.
type execAppArmor struct {
	p         *Policy
	container *specs.Process
}

func (m execAppArmor) Modify(s *specs.Spec) ([]Change, error) {
	p, proc := m.p, s.Process
	if !p.AppArmor.HostSupports {
		if p.AppArmor.Require {
			return nil, refuse("AppArmor is required by [apparmor] require = true in %s, but this host does not support it", p.Source)
		}
		return nil, nil
	}
	want := p.AppArmor.Profile
	if m.container != nil && m.container.ApparmorProfile != "" {
		want = m.container.ApparmorProfile
	}
	if proc.ApparmorProfile == want {
		return nil, nil
	}
	old := proc.ApparmorProfile
	proc.ApparmorProfile = want
	return []Change{changed("apparmorProfile", "%q -> %q (the container's)", old, want)}, nil
}

// HostEffects does what the confined spec needs of the host: it loads the
// AppArmor profile the spec names. It runs after the modifiers and every
// other check passed and before the spec is saved, so a refused container
// changes nothing on the host, and `secrun explain` (which never calls it)
// writes nothing.
func (p *Policy) HostEffects(s *specs.Spec) error {
	a := p.AppArmor
	if !a.HostSupports || a.Ensure == nil || s.Process == nil || s.Process.ApparmorProfile == "" {
		return nil
	}
	return a.Ensure(s.Process.ApparmorProfile)
}
