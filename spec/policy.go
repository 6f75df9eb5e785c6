package spec

import (
	"fmt"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/secrun/secrun/profiles"
)

// Policy is what secrun enforces, resolved from the node config.
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
	// to say (a profile file bounded by runtime-default), for explain.
	Notes       func() []string
	AppArmor    AppArmorPolicy
	PodSecurity PodSecurity
	// LogDenials adds SECCOMP_FILTER_FLAG_LOG in enforce mode, so denials
	// reach the kernel log for `secrun monitor`.
	LogDenials bool
	// Annotations: which runtime-interpreted annotations pass (annotations.go).
	Annotations AnnotationPolicy
}

// AppArmorPolicy says what profile to attach and whether the host can.
type AppArmorPolicy struct {
	Profile string
	Require bool
	// HostSupports reports AppArmor support; Ensure loads a profile if
	// needed. Ensure is a side effect on the host: it runs in HostEffects,
	// after every check passed, never from ApplyConfig (explain runs that).
	HostSupports bool
	Ensure       func(name string) error
}

// Error is a policy refusal: the container must not start.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

func refuse(format string, a ...any) error { return &Error{Msg: fmt.Sprintf(format, a...)} }

// ApplyConfig confines a container's spec in place and returns what changed.
func (p *Policy) ApplyConfig(s *specs.Spec) ([]string, error) {
	var changes []string
	for _, step := range []func(*specs.Spec) ([]string, error){
		p.annotationsStep, p.capabilitiesStep, p.noNewPrivilegesStep, p.seccompStep, p.apparmorStep, p.podSecurityStep, p.markStep,
	} {
		c, err := step(s)
		if err != nil {
			return nil, err
		}
		changes = append(changes, c...)
	}
	return changes, nil
}

// ApplyRecording applies what decides which calls a container can make
// (capabilities, no-new-privileges, seccomp), so that `secrun record` runs
// the workload as secrun would run it; the spec's shape (Pod Security) and
// AppArmor are left to the create that uses the profile.
func (p *Policy) ApplyRecording(s *specs.Spec) ([]string, error) {
	var changes []string
	for _, step := range []func(*specs.Spec) ([]string, error){p.capabilitiesStep, p.noNewPrivilegesStep, p.seccompStep} {
		c, err := step(s)
		if err != nil {
			return nil, err
		}
		changes = append(changes, c...)
	}
	return changes, nil
}

// ApplyExec confines a process about to be exec'd into a container whose
// (already confined) process is container; container may be nil if unknown.
func (p *Policy) ApplyExec(proc, container *specs.Process) ([]string, error) {
	var limit *specs.LinuxCapabilities
	if container != nil {
		limit = container.Capabilities
		if limit == nil {
			limit = &specs.LinuxCapabilities{}
		}
	}
	changes, err := p.capabilities(proc, limit)
	if err != nil {
		return nil, err
	}
	if p.NoNewPrivileges && !proc.NoNewPrivileges {
		proc.NoNewPrivileges = true
		changes = append(changes, "noNewPrivileges: set")
	}
	if p.AppArmor.HostSupports {
		want := p.AppArmor.Profile
		if container != nil && container.ApparmorProfile != "" {
			want = container.ApparmorProfile
		}
		if proc.ApparmorProfile != want {
			changes = append(changes, fmt.Sprintf("apparmorProfile: %q -> %q (the container's)", proc.ApparmorProfile, want))
			proc.ApparmorProfile = want
		}
	} else if p.AppArmor.Require {
		return nil, refuse("AppArmor is required by [apparmor] require = true in %s, but this host does not support it", p.Source)
	}
	return changes, nil
}

func (p *Policy) capabilitiesStep(s *specs.Spec) ([]string, error) {
	return p.capabilities(s.Process, nil)
}

// capabilities limits every set to the allowlist (and to limit, for exec).
func (p *Policy) capabilities(proc *specs.Process, limit *specs.LinuxCapabilities) ([]string, error) {
	c := proc.Capabilities
	if c == nil {
		return nil, nil
	}
	sets := []*[]string{&c.Bounding, &c.Effective, &c.Permitted, &c.Inheritable, &c.Ambient}
	names := []string{"bounding", "effective", "permitted", "inheritable", "ambient"}
	var limits []*[]string
	if limit != nil {
		limits = []*[]string{&limit.Bounding, &limit.Effective, &limit.Permitted, &limit.Inheritable, &limit.Ambient}
	}
	asked := map[string]bool{}
	for i, set := range sets {
		for _, n := range *set {
			if !profiles.IsCap(n) {
				return nil, refuse("unknown capability %q in process.capabilities.%s (capabilities are written CAP_NAME, e.g. CAP_CHOWN)", n, names[i])
			}
			asked[n] = true
		}
	}
	allowed := func(n string) bool { return slices.Contains(p.CapAllow, n) }
	if !allowed("CAP_SYS_ADMIN") {
		all := true
		for _, n := range profiles.AllCaps() {
			all = all && asked[n]
		}
		if asked["CAP_SYS_ADMIN"] || all {
			what := "CAP_SYS_ADMIN"
			if all {
				what = "every capability"
			}
			return nil, refuse("container looks privileged: it asks for %s; secrun refuses privileged containers (to allow it on this node, add \"CAP_SYS_ADMIN\" to [capabilities] allow in %s, preferably in a rule for this workload)", what, p.Source)
		}
	}
	var refused, dropped []string
	for n := range asked {
		if allowed(n) {
			continue
		}
		dropped = append(dropped, n)
		if !slices.Contains(profiles.Stock, n) && p.OnViolation != "drop" {
			refused = append(refused, n)
		}
	}
	if len(refused) > 0 {
		slices.Sort(refused)
		return nil, refuse("capability %s is not allowed by secrun's policy (to allow it, add it to [capabilities] allow in %s; or set on_violation = \"drop\" there to drop it instead)", strings.Join(refused, ", "), p.Source)
	}
	var changes []string
	for i, set := range sets {
		before := *set
		keep := slices.DeleteFunc(slices.Clone(before), func(n string) bool {
			return !allowed(n) || (limits != nil && !slices.Contains(*limits[i], n))
		})
		if len(keep) == len(before) {
			continue
		}
		if keep == nil {
			keep = []string{}
		}
		*set = keep
		var gone []string
		for _, n := range before {
			if !slices.Contains(keep, n) {
				gone = append(gone, n)
			}
		}
		changes = append(changes, fmt.Sprintf("capabilities.%s: dropped %s", names[i], strings.Join(gone, ", ")))
	}
	return changes, nil
}

func (p *Policy) noNewPrivilegesStep(s *specs.Spec) ([]string, error) {
	if !p.NoNewPrivileges || s.Process.NoNewPrivileges {
		return nil, nil
	}
	s.Process.NoNewPrivileges = true
	return []string{"noNewPrivileges: set"}, nil
}

func (p *Policy) seccompStep(s *specs.Spec) ([]string, error) {
	if p.SeccompMode == "off" {
		return []string{"note: seccomp: mode = \"off\" in " + p.Source + ": seccomp left as the spec has it"}, nil
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
	var changes []string
	if p.SeccompMode == "complain" {
		// Complain mode evaluates the node's profile: what it would deny is
		// logged and allowed. A profile the spec brought is set aside, so
		// that re-applying the policy gives the same spec.
		final := complain(def)
		if s.Linux.Seccomp == nil || s.Linux.Seccomp.DefaultAction != specs.ActLog {
			changes = append(changes, fmt.Sprintf("seccomp: complain mode: calls %s denies are logged (SCMP_ACT_LOG) and allowed", p.SeccompName))
		}
		s.Linux.Seccomp = final
		return changes, nil
	}
	if p.PodProfile != nil {
		picked, err := p.PodProfile(bounding)
		if err != nil {
			return nil, err
		}
		s.Linux.Seccomp = picked
	}
	final := def
	if user := s.Linux.Seccomp; user != nil {
		if w := profiles.MergeWork(user); w > profiles.MaxMergeWork {
			return nil, refuse("linux.seccomp: the profile has %d syscall and argument alternatives, over secrun's limit of %d for merging it with %s (a rule with several conditions on one argument counts one per condition); simplify or split its rules", w, profiles.MaxMergeWork, p.SeccompName)
		}
		var narrowed []string
		final, narrowed = profiles.Merge(user, def)
		if len(narrowed) > 0 {
			changes = append(changes, fmt.Sprintf("seccomp: the spec's profile was merged with %s; allowed for fewer arguments or not at all: %s", p.SeccompName, strings.Join(narrowed, ", ")))
		}
	} else {
		changes = append(changes, fmt.Sprintf("seccomp: added %s (%d syscalls allowed, defaultAction %s)", p.SeccompName, countAllowed(def), def.DefaultAction))
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

// AnnPolicy marks a spec secrun confined, with the policy in force, for
// `secrun monitor` and for people reading the spec.
const AnnPolicy = "secrun.io/policy"

func (p *Policy) markStep(s *specs.Spec) ([]string, error) {
	v := p.SeccompName + "/" + p.SeccompMode
	if s.Annotations[AnnPolicy] == v {
		return nil, nil
	}
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	s.Annotations[AnnPolicy] = v
	return nil, nil
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
	seen := map[string]bool{}
	for _, r := range p.Syscalls {
		if profiles.Permissive(r.Action) {
			for _, n := range r.Names {
				seen[n] = true
			}
		}
	}
	return len(seen)
}

func (p *Policy) apparmorStep(s *specs.Spec) ([]string, error) {
	a := p.AppArmor
	if !a.HostSupports {
		if a.Require {
			return nil, refuse("AppArmor is required by [apparmor] require = true in %s, but this host does not support it (no /sys/kernel/security/apparmor or apparmor_parser)", p.Source)
		}
		return []string{"note: apparmor: this host has no AppArmor; apparmorProfile left as it is"}, nil
	}
	name := s.Process.ApparmorProfile
	if name == "unconfined" {
		return nil, refuse("apparmorProfile \"unconfined\" is not allowed by secrun's policy (set a profile, or leave it empty for %q)", a.Profile)
	}
	var changes []string
	if name == "" {
		name = a.Profile
		if p.SeccompMode == "complain" && name == profiles.DefaultAppArmor {
			// The same switch puts AppArmor in complain mode: a copy of
			// the default profile loaded with the complain flag.
			name = profiles.DefaultAppArmorComplain
		}
		s.Process.ApparmorProfile = name
		changes = append(changes, "apparmorProfile: set "+name)
	}
	return changes, nil
}

// HostEffects does what the confined spec needs of the host: it loads the
// AppArmor profile the spec names. It runs after ApplyConfig and every
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
