// Package config reads secrun's node configuration (TOML) and resolves it
// into the policy the spec modifiers apply.
//
// It reads TOML with go-toml/v2, the project's one TOML library (the tools
// use it too, to edit containerd's config).
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"

	"github.com/secrun/secrun/spec"
)

// DefaultPath is where the node config lives unless SECRUN_CONFIG says otherwise.
const DefaultPath = "/etc/secrun/config.toml"

// Config is the node configuration. Zero values mean "the embedded default".
type Config struct {
	Level           string            `toml:"level"`
	Runtime         Runtimes          `toml:"runtime"`
	ProfilesDir     string            `toml:"profiles_dir"`
	RecordingsDir   string            `toml:"recordings_dir"`
	NoNewPrivileges *bool             `toml:"no_new_privileges"`
	Seccomp         SeccompConfig     `toml:"seccomp"`
	Capabilities    CapConfig         `toml:"capabilities"`
	AppArmor        AppArmorConfig    `toml:"apparmor"`
	Log             LogConfig         `toml:"log"`
	PodSecurity     PodSecurity       `toml:"podsecurity"`
	Monitor         MonitorConfig     `toml:"monitor"`
	Annotations     AnnotationsConfig `toml:"annotations"`
	Rules           []Rule            `toml:"rules"`

	// capAdd extends the allowlist, from a matching rule's capabilities.add.
	capAdd []string

	// Path is the file the config came from, or was looked for.
	Path string `toml:"-"`
	// Missing is true when Path does not exist and the embedded default is used.
	Missing bool `toml:"-"`
}

type SeccompConfig struct {
	Profile string `toml:"profile"`
	Mode    string `toml:"mode"`
	// Architectures is "all" (the profile's native and compat ABIs, as
	// Docker does) or "native": smaller filters, compiled several times
	// faster by runc, but 32-bit binaries in containers stop working.
	Architectures string `toml:"architectures"`
	// AllowLooser lets a profile file allow what runtime-default denies.
	// Without it every profile file (a recording, the node's, a pod's pick)
	// is used merged with runtime-default for the container's capabilities.
	// Only a rule pinned to one namespace may set it.
	AllowLooser bool `toml:"allow_looser_than_default"`
	// BurnIn: an enforced profile file younger than this (a Go duration,
	// "0": never) is used with a warning in the runtime log.
	BurnIn string `toml:"burn_in"`
}

type CapConfig struct {
	Allow       []string `toml:"allow"`
	OnViolation string   `toml:"on_violation"`
}

type AppArmorConfig struct {
	Profile string `toml:"profile"`
	Require bool   `toml:"require"`
}

// MonitorConfig: with findings on, enforce-mode profiles carry
// SECCOMP_FILTER_FLAG_LOG so that denials reach `secrun monitor`.
type MonitorConfig struct {
	Findings bool `toml:"findings"`
}

// PodSecurity holds the Pod Security Standards checks run on every spec.
type PodSecurity struct {
	Level string   `toml:"level"` // baseline (default) | restricted | off
	Mode  string   `toml:"mode"`  // enforce (default) | warn
	Allow []string `toml:"allow"` // check names exempted
	// HooksAllow lists the OCI hook executables the node trusts (node-wide
	// only: hooks run as root on the host).
	HooksAllow []string `toml:"hooks_allow"`
}

func (p *PodSecurity) validate(key string) error {
	if p.Level != "" {
		if err := oneOf(key+".level", p.Level, spec.PSSBaseline, spec.PSSRestricted, spec.PSSOff); err != nil {
			return err
		}
	}
	if p.Mode != "" {
		if err := oneOf(key+".mode", p.Mode, "enforce", "warn"); err != nil {
			return err
		}
	}
	for _, a := range p.Allow {
		if !slices.Contains(spec.PodSecurityChecks(), a) {
			return fmt.Errorf("%s.allow: unknown check %q (checks: %s)", key, a, strings.Join(spec.PodSecurityChecks(), ", "))
		}
	}
	if key != "podsecurity" && p.HooksAllow != nil {
		return fmt.Errorf("%s.hooks_allow: is node-wide only; list hooks in [podsecurity] hooks_allow (a rule may still allow the \"hooks\" check)", key)
	}
	for _, h := range p.HooksAllow {
		// Whether root owns the file is checked when a hook names it: a
		// missing tool (no GPU on this node) must not break the config.
		if !filepath.IsAbs(h) || filepath.Clean(h) != h {
			return fmt.Errorf("%s.hooks_allow: %q must be an absolute, clean path (no '..', '//' or trailing '/')", key, h)
		}
	}
	return nil
}

// AnnotationsConfig: runtime-interpreted annotations (run.oci.*,
// org.systemd.property.*...) the node accepts beyond the harmless ones.
type AnnotationsConfig struct {
	// Allow holds keys, or prefixes ending in "*".
	Allow []string `toml:"allow"`
}

func (a *AnnotationsConfig) validate(key string) error {
	for _, k := range a.Allow {
		pre, _ := strings.CutSuffix(k, "*")
		if pre == "" || strings.ContainsAny(pre, "*=") || strings.IndexFunc(k, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
			return fmt.Errorf("%s.allow: %q: must be an annotation key, or a prefix ending in \"*\" (e.g. \"org.systemd.property.*\")", key, k)
		}
	}
	return nil
}

type LogConfig struct {
	// Level is "error" (default), "warn", "info" or "debug"; --debug raises it.
	Level string `toml:"level"`
}

// Runtimes is one runtime or a list tried in turn.
type Runtimes []string

// UnmarshalTOML takes one runtime (runtime = "crun") or a list.
func (r *Runtimes) UnmarshalTOML(n *unstable.Node) error {
	switch n.Kind {
	case unstable.String:
		*r = Runtimes{string(n.Data)}
		return nil
	case unstable.Array:
		*r = Runtimes{}
		for it := n.Children(); it.Next(); {
			c := it.Node()
			if c.Kind != unstable.String {
				return fmt.Errorf("runtime: list entries must be strings, got %s", c.Kind)
			}
			*r = append(*r, string(c.Data))
		}
		return nil
	}
	return fmt.Errorf("runtime: must be a string or a list of strings, got %s", n.Kind)
}

// Path returns the node config path in effect.
func Path() string {
	if p := os.Getenv("SECRUN_CONFIG"); p != "" {
		return p
	}
	return DefaultPath
}

// Default returns the embedded default config.
func Default() *Config {
	c := &Config{}
	c.fill()
	return c
}

func (c *Config) fill() {
	if c.Level == "" {
		c.Level = "runtime-default"
	}
	if len(c.Runtime) == 0 {
		c.Runtime = Runtimes{"runc"}
	}
	if c.ProfilesDir == "" {
		c.ProfilesDir = "/etc/secrun/profiles"
	}
	if c.RecordingsDir == "" {
		c.RecordingsDir = "/var/lib/secrun/recordings"
	}
	if c.NoNewPrivileges == nil {
		t := true
		c.NoNewPrivileges = &t
	}
	if c.Seccomp.Profile == "" {
		c.Seccomp.Profile = c.Level
	}
	if c.Seccomp.Mode == "" {
		c.Seccomp.Mode = "enforce"
	}
	if c.Seccomp.Architectures == "" {
		c.Seccomp.Architectures = "all"
	}
	if c.Seccomp.BurnIn == "" {
		c.Seccomp.BurnIn = "72h"
	}
	if c.Capabilities.OnViolation == "" {
		c.Capabilities.OnViolation = "refuse"
	}
	if c.AppArmor.Profile == "" {
		c.AppArmor.Profile = "secrun-default"
	}
	if c.Log.Level == "" {
		c.Log.Level = "error"
	}
	if c.PodSecurity.Level == "" {
		c.PodSecurity.Level = spec.PSSBaseline
	}
	if c.PodSecurity.Mode == "" {
		c.PodSecurity.Mode = "enforce"
	}
}

// Load reads the config at path. A missing file is the embedded default.
func Load(path string) (*Config, error) {
	data, err := readTrusted(path)
	if errors.Is(err, fs.ErrNotExist) {
		c := Default()
		c.Path, c.Missing = path, true
		return c, nil
	}
	if err != nil {
		return nil, err
	}
	c := &Config{Path: path}
	if err := decodeTOML(data, c, true); err != nil {
		return nil, fmt.Errorf("node config %s: %w", path, err)
	}
	c.fill()
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("node config %s: %w", path, err)
	}
	return c, nil
}

// readTrusted reads a file that controls every container on the node
// (trust.go says when it is trusted).
func readTrusted(path string) ([]byte, error) { return ReadTrusted(path) }

func oneOf(key, v string, allowed ...string) error {
	if !slices.Contains(allowed, v) {
		return fmt.Errorf("%s = %q: must be one of %s", key, v, strings.Join(allowed, ", "))
	}
	return nil
}

func (c *Config) validate() error {
	if err := oneOf("seccomp.mode", c.Seccomp.Mode, "enforce", "complain", "off"); err != nil {
		return err
	}
	if err := oneOf("seccomp.architectures", c.Seccomp.Architectures, "all", "native"); err != nil {
		return err
	}
	if _, err := time.ParseDuration(c.Seccomp.BurnIn); err != nil && c.Seccomp.BurnIn != "0" {
		return fmt.Errorf("seccomp.burn_in = %q: a duration such as \"72h\" or \"0\" (never warn): %v", c.Seccomp.BurnIn, err)
	}
	if c.Seccomp.AllowLooser {
		return fmt.Errorf("seccomp.allow_looser_than_default: allowed only in a [[rules]] entry with namespace set to one namespace (no glob): it lets a profile allow what runtime-default denies")
	}
	if err := oneOf("capabilities.on_violation", c.Capabilities.OnViolation, "refuse", "drop"); err != nil {
		return err
	}
	if err := oneOf("log.level", c.Log.Level, "error", "warn", "info", "debug"); err != nil {
		return err
	}
	if err := ValidateProfileRef("seccomp.profile", c.Seccomp.Profile); err != nil {
		return err
	}
	if err := ValidateName("apparmor.profile", c.AppArmor.Profile); err != nil {
		return err
	}
	if !filepath.IsAbs(c.RecordingsDir) {
		return fmt.Errorf("recordings_dir = %q: must be an absolute path", c.RecordingsDir)
	}
	if !filepath.IsAbs(c.ProfilesDir) {
		return fmt.Errorf("profiles_dir = %q: must be an absolute path", c.ProfilesDir)
	}
	for _, r := range c.Runtime {
		if r == "" {
			return fmt.Errorf("runtime: empty entry")
		}
	}
	if err := c.PodSecurity.validate("podsecurity"); err != nil {
		return err
	}
	if err := c.Annotations.validate("annotations"); err != nil {
		return err
	}
	for i := range c.Rules {
		if err := c.Rules[i].validate(i); err != nil {
			return fmt.Errorf("[[rules]] %w", err)
		}
		if err := c.checkLoosening(i); err != nil {
			return fmt.Errorf("[[rules]] %w", err)
		}
	}
	return nil
}

// ValidateName checks a profile name: a plain file name, never a path.
func ValidateName(key, name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00") || strings.HasPrefix(name, ".") {
		return fmt.Errorf("%s = %q: must be a plain profile name (no '/', no leading '.')", key, name)
	}
	// A newline in a file name forges lines in logs and listings.
	if strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return fmt.Errorf("%s = %q: must be a plain profile name (no control characters)", key, name)
	}
	return nil
}

// ValidateProfileRef accepts a name or an absolute path.
func ValidateProfileRef(key, ref string) error {
	if filepath.IsAbs(ref) {
		if filepath.Clean(ref) != ref {
			return fmt.Errorf("%s = %q: path must be clean (no '..' or '//')", key, ref)
		}
		return nil
	}
	return ValidateName(key, ref)
}

// decodeTOML decodes data into v; strict refuses keys v has no field for.
func decodeTOML(data []byte, v any, strict bool) error {
	d := toml.NewDecoder(bytes.NewReader(data)).EnableUnmarshalerInterface()
	if strict {
		d.DisallowUnknownFields()
	}
	err := d.Decode(v)
	var missing *toml.StrictMissingError
	if errors.As(err, &missing) {
		var keys []string
		for _, e := range missing.Errors {
			keys = append(keys, strings.Join(e.Key(), "."))
		}
		return fmt.Errorf("unknown key %s (the keys secrun reads are listed in docs/configuration.md; deploy/config.toml has them all)", strings.Join(keys, ", "))
	}
	if err != nil && strings.Contains(err.Error(), "struct field ") {
		return typeError(err)
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, col := de.Position()
		if k := de.Key(); len(k) > 0 {
			return fmt.Errorf("line %d, column %d: %s: %s", row, col, strings.Join(k, "."), de.Error())
		}
		return fmt.Errorf("line %d, column %d: %s", row, col, de.Error())
	}
	return err
}

// typeError names the TOML key of go-toml's "cannot decode TOML string into
// struct field config.Config.NoNewPrivileges of type *bool".
func typeError(err error) error {
	msg := err.Error()
	_, field, _ := strings.Cut(msg, "struct field ")
	field, _, _ = strings.Cut(field, " ")
	parts := strings.Split(field, ".") // package, type, field
	if len(parts) != 3 {
		return err
	}
	seen := map[reflect.Type]bool{}
	var find func(t reflect.Type) string
	find = func(t reflect.Type) string {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || seen[t] {
			return ""
		}
		seen[t] = true
		for i := range t.NumField() {
			f := t.Field(i)
			if t.Name() == parts[1] && f.Name == parts[2] {
				return strings.Split(f.Tag.Get("toml"), ",")[0]
			}
			if k := find(f.Type); k != "" {
				return k
			}
		}
		return ""
	}
	if key := find(reflect.TypeFor[Config]()); key != "" {
		return fmt.Errorf("%s: %s", key, strings.TrimPrefix(msg, "toml: "))
	}
	return err
}
