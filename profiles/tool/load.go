package tool

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	mobyseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"sigs.k8s.io/yaml"
)

// Formats a profile file can be in.
const (
	FormatOCI    = "oci"         // runtime-spec LinuxSeccomp JSON
	FormatDocker = "docker"      // Docker's format: archMap, includes/excludes, minKernel
	FormatConfig = "config.json" // a full OCI config.json; its linux.seccomp
	FormatSPO    = "spo"         // Security Profiles Operator SeccompProfile (YAML or JSON)
)

// maxProfileSize bounds what is read: Docker's default profile is ~25 KiB.
const maxProfileSize = 16 << 20

// Profile is a loaded seccomp profile, resolved to runtime-spec form.
type Profile struct {
	Path    string
	Format  string
	Seccomp *specs.LinuxSeccomp
	Name    string   // metadata.name of an SPO profile
	Notes   []string // warnings from loading
}

// loadOptions controls how profiles are resolved.
type loadOptions struct {
	// Caps is the bounding set Docker-format includes/excludes are
	// resolved for (profiles.StockCaps() unless --caps says otherwise).
	Caps []string
}

// loadFile reads and detects the format of one profile file.
func loadFile(path string, opt loadOptions) (*Profile, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, unwrapPathError(err))
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s: is a directory (give a profile file)", path)
	}
	if st.Size() > maxProfileSize {
		return nil, fmt.Errorf("%s: %d bytes is too large for a seccomp profile (limit %d)", path, st.Size(), maxProfileSize)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, unwrapPathError(err))
	}
	p, err := parseProfile(data, opt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	p.Path = path
	return p, nil
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// parseProfile detects the format of data and resolves it.
func parseProfile(data []byte, opt loadOptions) (*Profile, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, errors.New("empty file (expected a seccomp profile)")
	}
	if trimmed[0] != '{' {
		return parseSPO(data)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, jsonError(data, err)
	}
	switch {
	case top["kind"] != nil || top["apiVersion"] != nil:
		return parseSPO(data)
	case top["ociVersion"] != nil || top["linux"] != nil || top["process"] != nil:
		return parseConfig(data, top)
	case isDockerFormat(top):
		return parseDocker(data, opt)
	case top["defaultAction"] != nil || top["syscalls"] != nil:
		return parseOCI(data)
	}
	return nil, errors.New("not a seccomp profile: expected OCI LinuxSeccomp JSON (defaultAction, syscalls), " +
		"Docker's format (archMap, includes/excludes), an OCI config.json with linux.seccomp, " +
		"or a Security Profiles Operator SeccompProfile")
}

// isDockerFormat reports a profile that uses Docker's extensions.
func isDockerFormat(top map[string]json.RawMessage) bool {
	if top["archMap"] != nil {
		return true
	}
	var rules []map[string]json.RawMessage
	if json.Unmarshal(top["syscalls"], &rules) != nil {
		return false
	}
	for _, r := range rules {
		for _, k := range []string{"includes", "excludes", "name", "comment"} {
			if r[k] != nil {
				return true
			}
		}
	}
	return false
}

func parseOCI(data []byte) (*Profile, error) {
	var s specs.LinuxSeccomp
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%w (OCI LinuxSeccomp fields: defaultAction, defaultErrnoRet, architectures, flags, listenerPath, listenerMetadata, syscalls)", jsonError(data, err))
	}
	return &Profile{Format: FormatOCI, Seccomp: &s}, nil
}

func parseDocker(data []byte, opt loadOptions) (*Profile, error) {
	s, err := mobyseccomp.LoadProfile(string(data), &specs.Spec{Process: &specs.Process{
		Capabilities: &specs.LinuxCapabilities{Bounding: opt.Caps},
	}})
	if err != nil {
		return nil, fmt.Errorf("Docker-format profile: %w", err)
	}
	if s == nil {
		return nil, errors.New("Docker-format profile with no defaultAction and no syscalls (Docker reads that as seccomp disabled)")
	}
	return &Profile{Format: FormatDocker, Seccomp: s}, nil
}

func parseConfig(data []byte, top map[string]json.RawMessage) (*Profile, error) {
	var linux struct {
		Seccomp *specs.LinuxSeccomp `json:"seccomp"`
	}
	if raw := top["linux"]; raw != nil {
		if err := json.Unmarshal(raw, &linux); err != nil {
			return nil, fmt.Errorf("config.json linux.seccomp: %v", err)
		}
	}
	if linux.Seccomp == nil {
		return nil, errors.New("OCI config.json without linux.seccomp (no filter to check; `secrun explain --bundle DIR` shows what secrun would set)")
	}
	return &Profile{Format: FormatConfig, Seccomp: linux.Seccomp}, nil
}

// spoGroup is the API group of the Security Profiles Operator.
const spoGroup = "security-profiles-operator.x-k8s.io"

// spoAPIVersion is what from-strace writes: SeccompProfile is served (and
// stored) as v1 by current releases; v1beta1 and v1alpha1 are read too.
const spoAPIVersion = spoGroup + "/v1"

type spoProfile struct {
	APIVersion string      `json:"apiVersion"`
	Kind       string      `json:"kind"`
	Metadata   spoMetadata `json:"metadata"`
	Spec       spoSpec     `json:"spec"`
}

type spoMetadata struct {
	Name      string `json:"name,omitempty"`
	Namespace string `json:"namespace,omitempty"`
}

type spoSpec struct {
	BaseProfileName  string                   `json:"baseProfileName,omitempty"`
	Disabled         bool                     `json:"disabled,omitempty"`
	DefaultAction    specs.LinuxSeccompAction `json:"defaultAction"`
	Architectures    []specs.Arch             `json:"architectures,omitempty"`
	ListenerPath     string                   `json:"listenerPath,omitempty"`
	ListenerMetadata string                   `json:"listenerMetadata,omitempty"`
	Syscalls         []spoSyscall             `json:"syscalls,omitempty"`
	Flags            []specs.LinuxSeccompFlag `json:"flags,omitempty"`
}

type spoSyscall struct {
	Names    []string                 `json:"names"`
	Action   specs.LinuxSeccompAction `json:"action"`
	ErrnoRet uint                     `json:"errnoRet,omitempty"`
	Args     []spoArg                 `json:"args,omitempty"`
}

type spoArg struct {
	Index    uint                       `json:"index"`
	Value    uint64                     `json:"value,omitempty"`
	ValueTwo uint64                     `json:"valueTwo,omitempty"`
	Op       specs.LinuxSeccompOperator `json:"op"`
}

func parseSPO(data []byte) (*Profile, error) {
	docs := splitYAML(data)
	var found []*spoProfile
	for _, d := range docs {
		var p spoProfile
		if err := yaml.Unmarshal(d, &p); err != nil {
			return nil, fmt.Errorf("YAML: %v", err)
		}
		if p.Kind == "" && p.APIVersion == "" {
			continue
		}
		group, _, _ := strings.Cut(p.APIVersion, "/")
		if p.Kind != "SeccompProfile" || group != spoGroup {
			return nil, fmt.Errorf("kind %q, apiVersion %q: expected a SeccompProfile of %s (apiVersion %s)", p.Kind, p.APIVersion, spoGroup, spoAPIVersion)
		}
		found = append(found, &p)
	}
	switch len(found) {
	case 0:
		return nil, errors.New("not a seccomp profile: no JSON object and no YAML document with kind SeccompProfile")
	case 1:
	default:
		return nil, fmt.Errorf("%d SeccompProfile documents in one file: give each its own file", len(found))
	}
	p := found[0]
	out := &Profile{Format: FormatSPO, Name: p.Metadata.Name, Seccomp: p.Spec.toOCI()}
	if p.Spec.BaseProfileName != "" {
		out.Notes = append(out.Notes, fmt.Sprintf("spec.baseProfileName %q is not resolved here: only this profile's own rules are checked", p.Spec.BaseProfileName))
	}
	if p.Spec.Disabled {
		out.Notes = append(out.Notes, "spec.disabled is true: the operator does not install this profile")
	}
	return out, nil
}

// splitYAML splits a YAML stream at "---" document markers.
func splitYAML(data []byte) [][]byte {
	var docs [][]byte
	var cur []string
	for _, line := range strings.Split(string(data), "\n") {
		if strings.TrimRight(line, " \r") == "---" {
			docs = append(docs, []byte(strings.Join(cur, "\n")))
			cur = nil
			continue
		}
		cur = append(cur, line)
	}
	return append(docs, []byte(strings.Join(cur, "\n")))
}

func (s *spoSpec) toOCI() *specs.LinuxSeccomp {
	out := &specs.LinuxSeccomp{
		DefaultAction: s.DefaultAction, Architectures: s.Architectures, Flags: s.Flags,
		ListenerPath: s.ListenerPath, ListenerMetadata: s.ListenerMetadata,
	}
	for _, r := range s.Syscalls {
		rule := specs.LinuxSyscall{Names: r.Names, Action: r.Action}
		if r.ErrnoRet != 0 { // SPO: 0 means unset
			e := r.ErrnoRet
			rule.ErrnoRet = &e
		}
		for _, a := range r.Args {
			rule.Args = append(rule.Args, specs.LinuxSeccompArg{Index: a.Index, Value: a.Value, ValueTwo: a.ValueTwo, Op: a.Op})
		}
		out.Syscalls = append(out.Syscalls, rule)
	}
	return out
}

// ToSPO writes p as a SeccompProfile named name. SPO has no
// defaultErrnoRet: runtimes return EPERM for an ERRNO default.
func ToSPO(p *specs.LinuxSeccomp, name string) ([]byte, error) {
	if p.DefaultErrnoRet != nil && *p.DefaultErrnoRet != ePERM {
		return nil, fmt.Errorf("defaultErrnoRet %d cannot be written as a SeccompProfile (the operator's spec has no such field; runtimes use EPERM)", *p.DefaultErrnoRet)
	}
	out := spoProfile{
		APIVersion: spoAPIVersion, Kind: "SeccompProfile",
		Metadata: spoMetadata{Name: name},
		Spec: spoSpec{
			DefaultAction: p.DefaultAction, Architectures: p.Architectures, Flags: p.Flags,
			ListenerPath: p.ListenerPath, ListenerMetadata: p.ListenerMetadata,
		},
	}
	for _, r := range p.Syscalls {
		s := spoSyscall{Names: r.Names, Action: r.Action}
		if r.ErrnoRet != nil {
			s.ErrnoRet = *r.ErrnoRet
		}
		for _, a := range r.Args {
			s.Args = append(s.Args, spoArg{Index: a.Index, Value: a.Value, ValueTwo: a.ValueTwo, Op: a.Op})
		}
		out.Spec.Syscalls = append(out.Spec.Syscalls, s)
	}
	return yaml.Marshal(out)
}

// ValidK8sName checks a metadata.name (RFC 1123 subdomain).
func ValidK8sName(n string) bool {
	if n == "" || len(n) > 253 {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && !(c == '-' || c == '.') || (i == 0 || i == len(n)-1) && !alnum {
			return false
		}
	}
	return true
}

// jsonError adds the line and column to a JSON decoding error.
func jsonError(data []byte, err error) error {
	var off int64 = -1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	if off < 0 || off > int64(len(data)) {
		return fmt.Errorf("JSON: %v", err)
	}
	line := 1 + bytes.Count(data[:off], []byte("\n"))
	col := int(off) - bytes.LastIndexByte(data[:off], '\n')
	return fmt.Errorf("JSON line %d column %d: %v", line, col, err)
}
