package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	mobyseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/secrun/secrun/profiles"
	"github.com/secrun/secrun/spec"
)

// Policy resolves the config into what the spec modifiers enforce. The
// AppArmor host probe runs only here, on the create/exec path.
func (c *Config) Policy(aa *profiles.AppArmorHost) (*spec.Policy, error) {
	p, _, err := c.policy(aa)
	return p, err
}

// policy is Policy, and the notes its profile resolvers add to.
func (c *Config) policy(aa *profiles.AppArmorHost) (*spec.Policy, *[]spec.Change, error) {
	src := c.Path
	switch {
	case src == "":
		src = "the embedded default"
	case c.Missing:
		src += " (absent: embedded default)"
	}
	level, ok := profiles.LookupLevel(c.Level)
	if !ok {
		return nil, nil, fmt.Errorf("node config %s: level = %q: must be one of %v", src, c.Level, profiles.LevelNames())
	}
	allow := level.Caps
	if c.Capabilities.Allow != nil {
		allow = nil
	}
	for _, n := range append(slices.Clone(c.Capabilities.Allow), c.capAdd...) {
		cn, err := profiles.CanonicalCap(n)
		if err != nil {
			return nil, nil, fmt.Errorf("node config %s: capabilities: %w", src, err)
		}
		if !slices.Contains(allow, cn) {
			allow = append(slices.Clone(allow), cn)
		}
	}
	notes := &[]spec.Change{}
	resolve, err := c.profileResolver(c.Seccomp.Profile, notes)
	if err != nil {
		return nil, nil, fmt.Errorf("node config %s: %w", src, err)
	}
	if c.Seccomp.Architectures == "native" {
		resolve = nativeOnly(resolve)
	}
	p := &spec.Policy{
		Source:          src,
		CapAllow:        allow,
		OnViolation:     c.Capabilities.OnViolation,
		NoNewPrivileges: *c.NoNewPrivileges,
		SeccompMode:     c.Seccomp.Mode,
		SeccompName:     c.Seccomp.Profile,
		Seccomp:         resolve,
		AppArmor: spec.AppArmorPolicy{
			Profile: c.AppArmor.Profile,
			Require: c.AppArmor.Require,
		},
		Notes:       func() []spec.Change { return *notes },
		LogDenials:  c.Monitor.Findings,
		Annotations: spec.AnnotationPolicy{Allow: c.Annotations.Allow},
		PodSecurity: spec.PodSecurity{
			Level: c.PodSecurity.Level, Mode: c.PodSecurity.Mode, Allow: c.PodSecurity.Allow,
			HooksAllow: c.PodSecurity.HooksAllow,
			// secrun's own files: whoever writes them sets the policy.
			HostDirs: []string{"/etc/secrun", c.ProfilesDir, c.RecordingsDir},
		},
	}
	if aa != nil && aa.Supported() {
		p.AppArmor.HostSupports = true
		p.AppArmor.Ensure = func(name string) error { return ensureAppArmor(aa, name, c.ProfilesDir) }
	}
	return p, notes, nil
}

// PolicyFor is Policy for one container: the first matching rule applied,
// and a seccomp profile the pod picked by annotation. It also returns a
// one-line description of the effective policy, for the debug log.
func (c *Config) PolicyFor(aa *profiles.AppArmorHost, ann map[string]string) (*spec.Policy, string, error) {
	eff, rule := c.For(ann)
	rule = eff.Describe(rule)
	p, notes, err := eff.policy(aa)
	if err != nil {
		return nil, rule, err
	}
	if name, ok := ann[AnnSeccompProfile]; ok {
		if err := ValidateName("annotation "+AnnSeccompProfile, name); err != nil {
			return nil, rule, &spec.Error{Msg: err.Error()}
		}
		resolve, err := eff.profileResolver(name, notes)
		if err != nil {
			return nil, rule, &spec.Error{Msg: fmt.Sprintf("annotation %s: %v (profiles available to pods are the files NAME.json in %s and the built-in levels %v)", AnnSeccompProfile, err, eff.ProfilesDir, profiles.LevelNames())}
		}
		p.PodProfile = resolve
		p.SeccompName += "+" + name
	}
	return p, rule, nil
}

// nativeOnly keeps the first architecture of a resolved profile: the
// native one (moby lists it before its compat sub-architectures).
func nativeOnly(resolve func([]string) (*specs.LinuxSeccomp, error)) func([]string) (*specs.LinuxSeccomp, error) {
	return func(bounding []string) (*specs.LinuxSeccomp, error) {
		p, err := resolve(bounding)
		if err == nil && len(p.Architectures) > 1 {
			p.Architectures = p.Architectures[:1]
		}
		return p, err
	}
}

// profileResolver returns the function that builds a seccomp profile for a
// container's final bounding set: a built-in level, or a profile file
// (Docker's format with includes/excludes, or plain OCI) merged with
// runtime-default for that set, unless allow_looser_than_default. What the
// merge took away is added to notes, for explain and the debug log.
func (c *Config) profileResolver(ref string, notes *[]spec.Change) (func([]string) (*specs.LinuxSeccomp, error), error) {
	if l, ok := profiles.LookupLevel(ref); ok {
		return l.Seccomp, nil
	}
	path := ref
	if !filepath.IsAbs(ref) {
		path = filepath.Join(c.ProfilesDir, ref+".json")
	}
	data, err := readTrusted(path)
	if err != nil {
		return nil, fmt.Errorf("seccomp.profile = %q: %w", ref, err)
	}
	c.burnIn(path, notes)
	return func(bounding []string) (*specs.LinuxSeccomp, error) {
		p, err := mobyseccomp.LoadProfile(string(data), &specs.Spec{Process: &specs.Process{
			Capabilities: &specs.LinuxCapabilities{Bounding: bounding},
		}})
		if err != nil {
			return nil, fmt.Errorf("seccomp profile %s: %w", path, err)
		}
		if p == nil {
			return nil, fmt.Errorf("seccomp profile %s: has no defaultAction and no syscalls", path)
		}
		if c.Seccomp.AllowLooser {
			*notes = append(*notes, seccompNote(spec.Note, "profile %s is used as it is, not bounded by %s (allow_looser_than_default in a rule)", path, profiles.RuntimeDefault))
			return profiles.Normalize(p), nil
		}
		return boundByDefault(path, p, bounding, notes)
	}, nil
}

// boundByDefault merges a profile file with runtime-default for the final
// bounding set: a recording or a hand-written profile never allows what
// runtime-default denies (clone with namespace flags, clone3, keyctl...),
// whether it is the node's profile, a rule's, or a pod's pick.
func boundByDefault(path string, p *specs.LinuxSeccomp, bounding []string, notes *[]spec.Change) (*specs.LinuxSeccomp, error) {
	if w := profiles.MergeWork(p); w > profiles.MaxMergeWork {
		return nil, fmt.Errorf("seccomp profile %s: %d syscall and argument alternatives, over secrun's limit of %d for merging it with %s; simplify or split its rules", path, w, profiles.MaxMergeWork, profiles.RuntimeDefault)
	}
	def, err := profiles.LevelNamed(profiles.RuntimeDefault).Seccomp(bounding)
	if err != nil {
		return nil, err
	}
	merged, narrowed := profiles.Merge(profiles.Normalize(p), def)
	what := "it allows nothing runtime-default denies"
	if len(narrowed) > 0 {
		what = "narrowed to what runtime-default allows: " + strings.Join(narrowed, ", ")
	}
	*notes = append(*notes, seccompNote(spec.Note, "profile %s is used merged with %s for the container's capabilities (a profile file never allows what %s denies); %s",
		path, profiles.RuntimeDefault, profiles.RuntimeDefault, what))
	return merged, nil
}

// ensureAppArmor loads profile name if it is not loaded, from profiles_dir
// only when that file is trusted (trust.go), as the seccomp profiles are.
func ensureAppArmor(aa *profiles.AppArmorHost, name, dir string) error {
	if ok, err := aa.Loaded(name); err == nil && ok {
		return nil
	}
	if name != profiles.DefaultAppArmor && name != profiles.DefaultAppArmorComplain {
		if _, err := CheckTrusted(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("AppArmor profile %q: %w", name, err)
		}
	}
	return aa.Ensure(name, dir)
}

func seccompNote(kind spec.Kind, format string, a ...any) spec.Change {
	return spec.Change{Step: "seccomp", Kind: kind, Msg: fmt.Sprintf(format, a...)}
}

// burnIn warns while an enforced profile file is younger than
// [seccomp] burn_in: a recording holds only what the workload did while it
// was recorded, and a young one has not yet seen the workload's whole life
// (its periodic jobs, reloads, admin commands). The warning reaches the
// runtime log on every create until the profile is older, or until the
// workload runs in complain mode (a rule with [rules.seccomp] mode =
// "complain" and [monitor] findings) while it settles.
func (c *Config) burnIn(path string, notes *[]spec.Change) {
	if c.Seccomp.Mode != "enforce" || c.Seccomp.BurnIn == "" || c.Seccomp.BurnIn == "0" {
		return
	}
	period, err := time.ParseDuration(c.Seccomp.BurnIn)
	fi, serr := os.Stat(path)
	if err != nil || serr != nil {
		return
	}
	if age := time.Since(fi.ModTime()); age < period {
		*notes = append(*notes, seccompNote(spec.Warning, "profile %s is %s old, younger than [seccomp] burn_in = %q, and enforced: a recording allows only what the workload did while recorded; run it in complain mode with findings until it has seen the workload's whole life (%s)",
			path, age.Round(time.Minute), c.Seccomp.BurnIn, "docs/profiles.md"))
	}
}
