// Package config reads secrun's node configuration (TOML) and resolves it
// into the policy the spec modifiers apply.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/secrun/secrun/spec"
)

// DefaultPath is where the node config lives unless SECRUN_CONFIG says otherwise.
const DefaultPath = "/etc/secrun/config.toml"

// Config is the node configuration. Zero values mean "the embedded default".
type Config struct {
	Level           string         `toml:"level"`
	Runtime         Runtimes       `toml:"runtime"`
	ProfilesDir     string         `toml:"profiles_dir"`
	RecordingsDir   string         `toml:"recordings_dir"`
	NoNewPrivileges *bool          `toml:"no_new_privileges"`
	Seccomp         SeccompConfig  `toml:"seccomp"`
	Capabilities    CapConfig      `toml:"capabilities"`
	AppArmor        AppArmorConfig `toml:"apparmor"`
	Log             LogConfig      `toml:"log"`
	PodSecurity     PodSecurity    `toml:"podsecurity"`
	Monitor         MonitorConfig  `toml:"monitor"`
	Rules           []Rule         `toml:"rules"`

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
		if !slices.Contains(spec.PSSChecks, a) {
			return fmt.Errorf("%s.allow: unknown check %q (checks: %s)", key, a, strings.Join(spec.PSSChecks, ", "))
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

func (r *Runtimes) UnmarshalTOML(v any) error {
	switch t := v.(type) {
	case string:
		*r = Runtimes{t}
	case []any:
		for _, x := range t {
			s, ok := x.(string)
			if !ok {
				return fmt.Errorf("runtime: list entries must be strings, got %T", x)
			}
			*r = append(*r, s)
		}
	default:
		return fmt.Errorf("runtime: must be a string or a list of strings, got %T", v)
	}
	return nil
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
	md, err := toml.Decode(string(data), c)
	if err != nil {
		return nil, fmt.Errorf("node config %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		var keys []string
		for _, k := range und {
			keys = append(keys, k.String())
		}
		return nil, fmt.Errorf("node config %s: unknown key %s (see the README's node configuration section for the keys secrun reads)", path, strings.Join(keys, ", "))
	}
	c.fill()
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("node config %s: %w", path, err)
	}
	return c, nil
}

// readTrusted reads a file that controls every container on the node, and
// refuses it when anyone but its owner could have written it.
func readTrusted(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("%s: is a directory, expected a file", path)
	}
	if m := fi.Mode().Perm(); m&0o022 != 0 {
		return nil, fmt.Errorf("%s: is writable by group or others (mode %04o); whoever can write it controls every container on this node, so secrun refuses it (fix: chmod go-w %s)", path, m, path)
	}
	if fi.Size() > 4<<20 {
		return nil, fmt.Errorf("%s: is %d bytes, too large for a policy file", path, fi.Size())
	}
	return os.ReadFile(path)
}

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
	for i := range c.Rules {
		if err := c.Rules[i].validate(i); err != nil {
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
