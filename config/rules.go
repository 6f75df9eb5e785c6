package config

import (
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/secrun/secrun/profiles"
)

// CRI annotations containerd writes into every spec it creates.
const (
	AnnContainerType = "io.kubernetes.cri.container-type"
	AnnNamespace     = "io.kubernetes.cri.sandbox-namespace"
	AnnPod           = "io.kubernetes.cri.sandbox-name"
	AnnContainer     = "io.kubernetes.cri.container-name"
	AnnImage         = "io.kubernetes.cri.image-name"
	// AnnSeccompProfile lets a pod pick a profile from profiles_dir by name.
	// It can only tighten: the picked profile is merged with the node's.
	AnnSeccompProfile = "secrun.io/seccomp-profile"
	// AnnRecord turns recording on for a container; its value names the
	// recording, which lands under recordings_dir.
	AnnRecord = "secrun.io/record"
)

// RecordingPath is where the recording NAME of a container goes:
// recordings_dir/NAMESPACE/POD/CONTAINER-NAME.json, from CRI's annotations
// (the container ID for specs without them).
func (c *Config) RecordingPath(ann map[string]string, id, name string) (string, error) {
	if err := ValidateName("annotation "+AnnRecord, name); err != nil {
		return "", err
	}
	part := func(key, fallback string) string {
		v := ann[key]
		if ValidateName("", v) != nil {
			return fallback
		}
		return v
	}
	ctr := part(AnnContainer, "")
	if ctr == "" {
		ctr = part("", "container")
		if ValidateName("", id) == nil {
			ctr = id
		}
	}
	return filepath.Join(c.RecordingsDir, part(AnnNamespace, "_"), part(AnnPod, "_"), ctr+"-"+name+".json"), nil
}

// Rule loosens or changes the policy for the workloads it matches. Matching
// uses only what containerd's CRI writes into the spec, never annotations a
// pod can set itself. Empty match fields match anything; values are globs.
type Rule struct {
	Name      string `toml:"name"`
	Namespace string `toml:"namespace"`
	Pod       string `toml:"pod"`
	Container string `toml:"container"`
	Image     string `toml:"image"`
	// Type is "sandbox" (the pod's pause container) or "container".
	Type string `toml:"type"`

	Level           string        `toml:"level"`
	NoNewPrivileges *bool         `toml:"no_new_privileges"`
	Seccomp         SeccompConfig `toml:"seccomp"`
	Capabilities    RuleCaps      `toml:"capabilities"`
	AppArmor        struct {
		Profile string `toml:"profile"`
	} `toml:"apparmor"`
	// PodSecurity overrides level and mode; its allow adds to the node's.
	PodSecurity PodSecurity `toml:"podsecurity"`
	// Annotations.Allow adds to the node's list.
	Annotations AnnotationsConfig `toml:"annotations"`
}

// RuleCaps replaces (allow) or extends (add) the capability allowlist.
type RuleCaps struct {
	Allow       []string `toml:"allow"`
	Add         []string `toml:"add"`
	OnViolation string   `toml:"on_violation"`
}

func (r *Rule) label(i int) string {
	if r.Name != "" {
		return fmt.Sprintf("rule %q", r.Name)
	}
	return fmt.Sprintf("rule #%d", i+1)
}

func (r *Rule) matches(ann map[string]string) bool {
	// A spec without CRI annotations (ctr, nerdctl, a person) matches only
	// rules that select nothing.
	// Every field is checked, also when two share a value (namespace =
	// "web", container = "web"): a map keyed by pattern would keep one.
	for _, f := range [...]struct{ pat, key string }{
		{r.Namespace, AnnNamespace}, {r.Pod, AnnPod}, {r.Container, AnnContainer}, {r.Image, AnnImage}, {r.Type, AnnContainerType},
	} {
		if f.pat == "" {
			continue
		}
		if ok, _ := path.Match(f.pat, ann[f.key]); !ok {
			return false
		}
	}
	return true
}

func (r *Rule) validate(i int) error {
	for _, pat := range []string{r.Namespace, r.Pod, r.Container, r.Image} {
		if _, err := path.Match(pat, ""); err != nil {
			return fmt.Errorf("%s: bad pattern %q: %v", r.label(i), pat, err)
		}
	}
	if _, ok := profiles.LookupLevel(r.Level); r.Level != "" && !ok {
		return fmt.Errorf("%s: level = %q: must be one of %v", r.label(i), r.Level, profiles.LevelNames())
	}
	if r.Type != "" && r.Type != "sandbox" && r.Type != "container" {
		return fmt.Errorf("%s: type = %q: must be \"sandbox\" or \"container\"", r.label(i), r.Type)
	}
	if r.Seccomp.Mode != "" {
		if err := oneOf(r.label(i)+": seccomp.mode", r.Seccomp.Mode, "enforce", "complain", "off"); err != nil {
			return err
		}
	}
	if r.Seccomp.AllowLooser && (r.Namespace == "" || strings.ContainsAny(r.Namespace, "*?[\\")) {
		return fmt.Errorf("%s: seccomp.allow_looser_than_default = true needs namespace set to one namespace (no glob), not %q: it lets a profile allow what runtime-default denies", r.label(i), r.Namespace)
	}
	if r.Seccomp.Profile != "" {
		if err := ValidateProfileRef(r.label(i)+": seccomp.profile", r.Seccomp.Profile); err != nil {
			return err
		}
	}
	if r.Capabilities.OnViolation != "" {
		if err := oneOf(r.label(i)+": capabilities.on_violation", r.Capabilities.OnViolation, "refuse", "drop"); err != nil {
			return err
		}
	}
	if err := r.PodSecurity.validate(r.label(i) + ": podsecurity"); err != nil {
		return err
	}
	if r.AppArmor.Profile != "" {
		if err := ValidateName(r.label(i)+": apparmor.profile", r.AppArmor.Profile); err != nil {
			return err
		}
	}
	return r.Annotations.validate(r.label(i) + ": annotations")
}

// For returns the config in effect for a spec with these annotations: the
// node's, with the first matching rule applied, and a label for that rule
// ("" when none matched).
func (c *Config) For(ann map[string]string) (*Config, string) {
	for i := range c.Rules {
		r := &c.Rules[i]
		if !r.matches(ann) {
			continue
		}
		return c.apply(r), r.label(i)
	}
	return c, ""
}

// apply returns the node's config with rule r applied.
func (c *Config) apply(r *Rule) *Config {
	e := *c
	e.Rules = nil
	if r.Level != "" {
		e.Level = r.Level
		if r.Seccomp.Profile == "" && c.Seccomp.Profile == c.Level {
			e.Seccomp.Profile = r.Level
		}
	}
	if r.NoNewPrivileges != nil {
		e.NoNewPrivileges = r.NoNewPrivileges
	}
	if r.Seccomp.Profile != "" {
		e.Seccomp.Profile = r.Seccomp.Profile
	}
	if r.Seccomp.Mode != "" {
		e.Seccomp.Mode = r.Seccomp.Mode
	}
	e.Seccomp.AllowLooser = r.Seccomp.AllowLooser
	if r.Capabilities.Allow != nil {
		e.Capabilities.Allow = r.Capabilities.Allow
	}
	if r.Capabilities.Add != nil {
		e.capAdd = slices.Clone(r.Capabilities.Add)
	}
	if r.Capabilities.OnViolation != "" {
		e.Capabilities.OnViolation = r.Capabilities.OnViolation
	}
	if r.AppArmor.Profile != "" {
		e.AppArmor.Profile = r.AppArmor.Profile
	}
	if r.PodSecurity.Level != "" {
		e.PodSecurity.Level = r.PodSecurity.Level
	}
	if r.PodSecurity.Mode != "" {
		e.PodSecurity.Mode = r.PodSecurity.Mode
	}
	e.PodSecurity.Allow = append(slices.Clone(c.PodSecurity.Allow), r.PodSecurity.Allow...)
	e.Annotations.Allow = append(slices.Clone(c.Annotations.Allow), r.Annotations.Allow...)
	return &e
}

// Describe is a one-line summary of the effective policy, for debug logs.
func (c *Config) Describe(rule string) string {
	if rule == "" {
		rule = "no rule"
	}
	allow := "level default"
	if c.Capabilities.Allow != nil {
		allow = strings.Join(c.Capabilities.Allow, ",")
	}
	if len(c.capAdd) > 0 {
		allow += " +" + strings.Join(c.capAdd, ",")
	}
	return fmt.Sprintf("%s; level=%s seccomp=%s/%s caps=[%s] on_violation=%s no_new_privileges=%v apparmor=%s podsecurity=%s/%s allow=[%s]",
		rule, c.Level, c.Seccomp.Profile, c.Seccomp.Mode, allow, c.Capabilities.OnViolation, *c.NoNewPrivileges, c.AppArmor.Profile,
		c.PodSecurity.Level, c.PodSecurity.Mode, strings.Join(c.PodSecurity.Allow, ","))
}
