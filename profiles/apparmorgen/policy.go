package apparmorgen

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
	"sigs.k8s.io/yaml"

	"github.com/secrun/secrun/profiles"
)

// Policy is a validated policy file.
type Policy struct {
	Name string // profile name; "" when the file has none
	Mode string // "enforce", "complain", or "" when the file does not say

	ReadOnlyPaths []Glob // may be read, never written
	// WritablePaths, when the file has the key (even as an empty list), are
	// the only places writes may go; nil means anywhere.
	WritablePaths   []Glob
	LogOnWritePaths []Glob // writable, and every write is audited
	// AllowedExecutables, when the file has the key (even as an empty
	// list), are the only programs that may be executed; nil means any.
	AllowedExecutables []Glob
	DeniedExecutables  []Glob // may never be executed

	Raw    bool // raw IP sockets (inet/inet6 SOCK_RAW)
	Packet bool // AF_PACKET sockets
	// Protocols allowed over IPv4 and IPv6: "tcp", "udp", "icmp".
	// Nil when the file does not say, which means all three.
	Protocols []string

	// Capabilities the profile allows, in AppArmor form ("chown"); any
	// other is denied.
	Capabilities []string
}

const maxPolicySize = 1 << 20

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

const maxNameLen = 128

// ValidName checks a profile name.
func ValidName(name string) error {
	switch {
	case !nameRE.MatchString(name):
		return fmt.Errorf("profile name %q must match [A-Za-z0-9][A-Za-z0-9._-]*", name)
	case len(name) > maxNameLen:
		return fmt.Errorf("profile name is longer than %d characters", maxNameLen)
	case name == "unconfined":
		return fmt.Errorf("profile name %q is reserved by AppArmor", name)
	}
	return nil
}

// ValidMode checks a mode.
func ValidMode(mode string) error {
	if mode != "enforce" && mode != "complain" {
		return fmt.Errorf("mode %q must be \"enforce\" or \"complain\"", mode)
	}
	return nil
}

// PolicyError lists every problem found in one policy file.
type PolicyError struct {
	File     string
	Problems []string
}

func (e *PolicyError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = e.File + ": " + p
	}
	return strings.Join(lines, "\n")
}

// Format is a policy file format.
type Format int

const (
	TOML Format = iota
	YAML        // YAML, and JSON as a subset of it
)

func (f Format) String() string {
	if f == TOML {
		return "TOML"
	}
	return "YAML"
}

// DetectFormat picks the format by file extension (.toml; .yaml, .yml,
// .json), else by content: a first significant line that is a [table]
// header or a key = value pair is TOML, anything else YAML. This look at
// the first line is by hand because no parser says which language a text
// is: some documents parse as both TOML and YAML.
func DetectFormat(file string, data []byte) Format {
	switch strings.ToLower(filepath.Ext(file)) {
	case ".toml":
		return TOML
	case ".yaml", ".yml", ".json":
		return YAML
	}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "[") {
			return TOML
		}
		eq, colon := strings.IndexByte(line, '='), strings.IndexByte(line, ':')
		if eq >= 0 && (colon < 0 || eq < colon) {
			return TOML
		}
		return YAML
	}
	return YAML
}

// ParsePolicy decodes and validates a policy file. file names it in errors
// and picks the format by extension.
func ParsePolicy(file string, data []byte) (*Policy, error) {
	return ParsePolicyFormat(file, data, DetectFormat(file, data))
}

// ParsePolicyFormat is ParsePolicy with the format given.
func ParsePolicyFormat(file string, data []byte, format Format) (*Policy, error) {
	if len(data) > maxPolicySize {
		return nil, &PolicyError{file, []string{fmt.Sprintf("larger than %d bytes", maxPolicySize)}}
	}
	doc, err := decode(data, format)
	if err != nil {
		return nil, &PolicyError{file, []string{fmt.Sprintf("not valid %s: %v", format, err)}}
	}
	v := validator{}
	p := v.policy(doc)
	if len(v.problems) > 0 {
		return nil, &PolicyError{file, v.problems}
	}
	return p, nil
}

func decode(data []byte, format Format) (map[string]any, error) {
	if format == TOML {
		var m map[string]any
		if err := toml.Unmarshal(data, &m); err != nil {
			var de *toml.DecodeError
			if errors.As(err, &de) {
				row, _ := de.Position()
				return nil, fmt.Errorf("line %d: %s", row, strings.TrimPrefix(de.Error(), "toml: "))
			}
			return nil, err
		}
		if m == nil {
			m = map[string]any{}
		}
		return m, nil
	}
	j, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, err
	}
	d := json.NewDecoder(bytes.NewReader(j))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	switch v := v.(type) {
	case nil:
		return map[string]any{}, nil
	case map[string]any:
		return v, nil
	}
	return nil, fmt.Errorf("the top level must be a mapping of keys to values, not %s", typeName(v))
}

type validator struct {
	problems []string
	patterns int // expanded path patterns, over the whole policy
}

// maxPolicyPatterns bounds the path rules one policy can produce.
const maxPolicyPatterns = 4096

func (v *validator) addf(key, format string, args ...any) {
	v.problems = append(v.problems, key+": "+fmt.Sprintf(format, args...))
}

// fields checks a table's keys against the known ones, reporting unknown
// keys by their full dotted name, in sorted order.
func (v *validator) fields(prefix string, m map[string]any, known ...string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ok := false
		for _, kn := range known {
			ok = ok || k == kn
		}
		if !ok {
			v.problems = append(v.problems, fmt.Sprintf("unknown key %q (known keys here: %s)", prefix+k, strings.Join(known, ", ")))
		}
	}
}

func typeName(x any) string {
	switch x.(type) {
	case nil:
		return "an empty value"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number, int64, float64:
		return "a number"
	case []any, []map[string]any:
		return "a list"
	case map[string]any:
		return "a table"
	case time.Time, toml.LocalDate, toml.LocalTime, toml.LocalDateTime:
		return "a date or time"
	}
	return fmt.Sprintf("a %T", x)
}

func (v *validator) str(key string, x any) (string, bool) {
	s, ok := x.(string)
	if !ok {
		v.addf(key, "must be a string, not %s", typeName(x))
	}
	return s, ok
}

func (v *validator) table(key string, x any) (map[string]any, bool) {
	m, ok := x.(map[string]any)
	if !ok {
		v.addf(key, "must be a table, not %s", typeName(x))
	}
	return m, ok
}

func (v *validator) strings(key string, x any) ([]string, bool) {
	list, ok := x.([]any)
	if !ok {
		if x == nil {
			v.addf(key, "has no value (write [] for an empty list)")
		} else {
			v.addf(key, "must be a list of strings, not %s", typeName(x))
		}
		return nil, false
	}
	out := make([]string, 0, len(list))
	for i, e := range list {
		s, ok := v.str(fmt.Sprintf("%s[%d]", key, i), e)
		if ok {
			out = append(out, s)
		}
	}
	return out, len(out) == len(list)
}

func (v *validator) globs(key string, x any) []Glob {
	list, ok := v.strings(key, x)
	if !ok {
		return nil
	}
	out := []Glob{} // present, even when empty
	seen := map[string]bool{}
	for i, s := range list {
		g, err := ParseGlob(s)
		if err != nil {
			v.addf(fmt.Sprintf("%s[%d]", key, i), "%v", err)
			continue
		}
		if k := strings.Join(g.texts, "\x00"); !seen[k] {
			seen[k] = true
			v.patterns += len(g.texts)
			out = append(out, g)
		}
	}
	return out
}

func (v *validator) policy(doc map[string]any) *Policy {
	p := &Policy{}
	v.fields("", doc, "name", "mode", "filesystem", "network", "capabilities")
	if x, ok := doc["name"]; ok {
		if s, ok := v.str("name", x); ok {
			if err := ValidName(s); err != nil {
				v.addf("name", "%v", err)
			}
			p.Name = s
		}
	}
	if x, ok := doc["mode"]; ok {
		if s, ok := v.str("mode", x); ok {
			if err := ValidMode(s); err != nil {
				v.addf("mode", "%v", err)
			}
			p.Mode = s
		}
	}
	if x, ok := doc["filesystem"]; ok {
		if fs, ok := v.table("filesystem", x); ok {
			v.filesystem(p, fs)
		}
	}
	if x, ok := doc["network"]; ok {
		if n, ok := v.table("network", x); ok {
			v.network(p, n)
		}
	}
	if x, ok := doc["capabilities"]; ok {
		v.capabilities(p, x)
	}
	return p
}

func (v *validator) filesystem(p *Policy, fs map[string]any) {
	v.fields("filesystem.", fs, "read_only_paths", "writable_paths", "log_on_write_paths", "allowed_executables", "denied_executables")
	for _, f := range []struct {
		key string
		dst *[]Glob
	}{
		{"read_only_paths", &p.ReadOnlyPaths},
		{"writable_paths", &p.WritablePaths},
		{"log_on_write_paths", &p.LogOnWritePaths},
		{"allowed_executables", &p.AllowedExecutables},
		{"denied_executables", &p.DeniedExecutables},
	} {
		if x, ok := fs[f.key]; ok {
			*f.dst = v.globs("filesystem."+f.key, x)
		}
	}
	if v.patterns > maxPolicyPatterns {
		v.addf("filesystem", "the paths expand to %d patterns, more than %d", v.patterns, maxPolicyPatterns)
	}
	// Deny rules win in AppArmor; the same pattern on both sides is a
	// mistake worth naming rather than a silent deny.
	v.conflicts("filesystem.read_only_paths", p.ReadOnlyPaths, "filesystem.writable_paths", p.WritablePaths)
	v.conflicts("filesystem.read_only_paths", p.ReadOnlyPaths, "filesystem.log_on_write_paths", p.LogOnWritePaths)
	v.conflicts("filesystem.denied_executables", p.DeniedExecutables, "filesystem.allowed_executables", p.AllowedExecutables)
}

func (v *validator) conflicts(ka string, a []Glob, kb string, b []Glob) {
	in := map[string]bool{}
	for _, g := range a {
		for _, t := range g.texts {
			in[t] = true
		}
	}
	for _, g := range b {
		for _, t := range g.texts {
			if in[t] {
				v.addf(kb, "%q is also in %s (as %q)", g.raw, ka, t)
				break
			}
		}
	}
}

var protocols = []string{"tcp", "udp", "icmp"}

func (v *validator) network(p *Policy, n map[string]any) {
	v.fields("network.", n, "raw", "packet", "protocols")
	for _, f := range []struct {
		key string
		dst *bool
	}{{"raw", &p.Raw}, {"packet", &p.Packet}} {
		if x, ok := n[f.key]; ok {
			b, ok := x.(bool)
			if !ok {
				v.addf("network."+f.key, "must be true or false, not %s", typeName(x))
			}
			*f.dst = b
		}
	}
	if x, ok := n["protocols"]; ok {
		list, ok := v.strings("network.protocols", x)
		if !ok {
			return
		}
		p.Protocols = []string{}
		for i, s := range list {
			s = strings.ToLower(s)
			known := false
			for _, k := range protocols {
				known = known || s == k
			}
			if !known {
				v.addf(fmt.Sprintf("network.protocols[%d]", i), "unknown protocol %q (known: tcp, udp, icmp)", list[i])
				continue
			}
			if !contains(p.Protocols, s) {
				p.Protocols = append(p.Protocols, s)
			}
		}
	}
}

func (v *validator) capabilities(p *Policy, x any) {
	key := "capabilities"
	// Either a list, or a table with an allow list (like the node config's
	// [capabilities] allow).
	if m, ok := x.(map[string]any); ok {
		v.fields("capabilities.", m, "allow")
		x, ok = m["allow"]
		if !ok {
			return
		}
		key = "capabilities.allow"
	}
	list, ok := v.strings(key, x)
	if !ok {
		return
	}
	p.Capabilities = []string{}
	for i, s := range list {
		c, err := profiles.CanonicalCap(s)
		if err != nil || strings.TrimSpace(s) != s {
			v.addf(fmt.Sprintf("%s[%d]", key, i), "unknown capability %q (write a name like chown or CAP_CHOWN)", s)
			continue
		}
		c = strings.ToLower(strings.TrimPrefix(c, "CAP_"))
		if !contains(p.Capabilities, c) {
			p.Capabilities = append(p.Capabilities, c)
		}
	}
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
