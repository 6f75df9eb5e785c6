package setup

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	cc "github.com/secrun/secrun/internal/containerdconfig"
)

const runcShim = "io.containerd.runc.v2"

const (
	criPluginV2 = cc.CRIPluginV2
	criPluginV3 = cc.CRIPluginV3
)

func containerdTable(version int) []string { return cc.ContainerdTable(version) }

func criPlugin(version int) string { return cc.CRIPlugin(version) }

func join(p []string, more ...string) []string {
	return append(append([]string(nil), p...), more...)
}

func lookup(m map[string]any, path ...string) (any, bool) { return cc.Lookup(m, path...) }

// decodeTOML decodes a document into a map, with the error naming the file.
func decodeTOML(file, text string) (map[string]any, error) { return cc.Decode(file, text) }

// configVersion reads `version` from a decoded config.
func configVersion(file string, m map[string]any) (int, error) {
	v, ok := m["version"]
	if !ok {
		return 0, fmt.Errorf("%s has no `version` key, so containerd reads it as a version 1 config, which secrun setup does not edit: "+
			"convert it first with `containerd config migrate > new.toml` (containerd 1.7 or 2.x), review new.toml and move it to %s, then run this again",
			file, file)
	}
	n, ok := v.(int64)
	if !ok {
		return 0, fmt.Errorf("%s: `version` is %v, not a number", file, v)
	}
	switch n {
	case 1:
		return 0, fmt.Errorf("%s is a version 1 config, which secrun setup does not edit: convert it first with `containerd config migrate > new.toml` "+
			"(containerd 1.7 or 2.x), review new.toml and move it to %s, then run this again", file, file)
	case 2, 3:
		return int(n), nil
	}
	return 0, fmt.Errorf("%s: config version %d is not supported (secrun setup knows version 2, read by containerd 1.6/1.7, and version 3, read by containerd 2.x)", file, n)
}

// installedConfigVersion asks a containerd binary which config version it
// writes: 1.x → 2, 2.x and later → 3. The third word of `containerd
// --version` is read by hand: containerd prints its version in no
// machine-readable form, and only the major number matters.
func installedConfigVersion(bin string) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--version").Output()
	if err != nil {
		return 0, "", fmt.Errorf("%s --version: %v", bin, err)
	}
	// "containerd github.com/containerd/containerd/v2 2.2.1 <revision>"
	fields := strings.Fields(string(out))
	if len(fields) < 3 {
		return 0, "", fmt.Errorf("%s --version printed %q, which has no version", bin, strings.TrimSpace(string(out)))
	}
	ver := strings.TrimPrefix(fields[2], "v")
	major, err := strconv.Atoi(strings.SplitN(ver, ".", 2)[0])
	if err != nil {
		return 0, "", fmt.Errorf("%s --version printed %q, which has no version", bin, strings.TrimSpace(string(out)))
	}
	if major < 2 {
		return 2, ver, nil
	}
	return 3, ver, nil
}

// importCovers reports whether an existing `imports` entry already loads
// path. Only entries that mean the same to containerd 1.x and 2.x count for
// version 2 (a relative glob does not).
func importCovers(parent string, imports []string, path string, version int) (string, bool) {
	for _, p := range imports {
		q := p
		if strings.Contains(q, "*") {
			if !filepath.IsAbs(q) {
				if version != 3 {
					continue
				}
				q = filepath.Join(filepath.Dir(parent), q)
			}
			if ok, _ := filepath.Match(filepath.Clean(q), path); ok {
				return p, true
			}
			continue
		}
		q = filepath.Clean(q)
		if !filepath.IsAbs(q) {
			q = filepath.Join(filepath.Dir(parent), q)
		}
		if q == path {
			return p, true
		}
	}
	return "", false
}

// entry is what setup registers.
type entry struct {
	version  int
	name     string
	binary   string
	options  map[string]any // the runc options copied, BinaryName set
	order    []string       // option keys in writing order
	addRunc  bool           // also register containerd's default runc entry
	setDflt  bool           // default_runtime_name = name
	prevDflt string         // the default_runtime_name in effect before
	dfltOK   bool           // the default runtime was defined before
}

// apply sets what the entry adds in a decoded config.
func (e *entry) apply(m map[string]any) {
	t := containerdTable(e.version)
	if e.setDflt {
		cc.SetPath(m, join(t, "default_runtime_name"), e.name)
	}
	if e.addRunc {
		cc.SetPath(m, join(t, "runtimes", "runc"), map[string]any{"runtime_type": runcShim})
	}
	opts := cc.DeepCopy(e.options)
	cc.SetPath(m, join(t, "runtimes", e.name), map[string]any{
		"runtime_type":    runcShim,
		"pod_annotations": []any{"secrun.io/*"},
		"options":         opts,
	})
}

var podAnnotations, _ = tomlValue([]any{"secrun.io/*"})

// tableLines writes the runtime tables (and the runc entry) as TOML.
func (e *entry) tableLines() ([]string, error) {
	t := containerdTable(e.version)
	var out []string
	if e.addRunc {
		out = append(out,
			"# containerd 1.x replaces its built-in runtimes with the ones a config lists: keep runc.",
			"["+tomlPath(join(t, "runtimes", "runc"))+"]",
			"  runtime_type = "+tomlString(runcShim),
			"")
	}
	out = append(out,
		"["+tomlPath(join(t, "runtimes", e.name))+"]",
		"  runtime_type = "+tomlString(runcShim),
		"  pod_annotations = "+podAnnotations,
		"",
		"["+tomlPath(join(t, "runtimes", e.name, "options"))+"]")
	for _, k := range e.order {
		s, err := tomlValue(e.options[k])
		if err != nil {
			return nil, fmt.Errorf("runc option %s: %v", k, err)
		}
		out = append(out, "  "+tomlKey(k)+" = "+s)
	}
	return out, nil
}

// newEntry builds the entry from the config containerd would load now:
// the runc entry's options are copied, then BinaryName points at secrun.
func newEntry(set *cc.Set, version int, name, binary string, setDflt bool) (*entry, error) {
	t := containerdTable(version)
	eff := set.Merged()
	e := &entry{version: version, name: name, binary: binary, setDflt: setDflt, options: map[string]any{}}
	if v, ok := lookup(eff, join(t, "runtimes", "runc", "options")...); ok {
		opts, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: %s is not a table", strings.Join(set.Defining(join(t, "runtimes", "runc", "options")...), ", "), tomlPath(join(t, "runtimes", "runc", "options")))
		}
		e.options = cc.DeepCopy(opts)
		e.order = set.KeyOrder(join(t, "runtimes", "runc", "options")...)
	}
	if _, ok := e.options["BinaryName"]; !ok {
		e.order = append([]string{"BinaryName"}, e.order...)
	}
	e.options["BinaryName"] = binary
	// keys KeyOrder does not see (written under another path, e.g. migrated)
	var rest []string
	for k := range e.options {
		found := false
		for _, o := range e.order {
			found = found || o == k
		}
		if !found {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	e.order = append(e.order, rest...)

	if v, ok := lookup(eff, join(t, "default_runtime_name")...); ok {
		e.prevDflt, _ = v.(string)
	}
	dflt := e.prevDflt
	if dflt == "" {
		dflt = "runc"
	}
	_, hasRuntimes := lookup(eff, join(t, "runtimes")...)
	_, hasDflt := lookup(eff, join(t, "runtimes", dflt)...)
	e.dfltOK = !hasRuntimes || hasDflt
	if version == 2 {
		// containerd 1.x decodes a CRI section's runtimes over its defaults
		// by replacing the whole map: a config that lists runtimes but not
		// runc loses runc, and the CRI plugin refuses to load when
		// default_runtime_name names a runtime that is gone.
		if _, ok := lookup(eff, join(t, "runtimes")...); !ok {
			e.addRunc = true
		}
	}
	return e, nil
}

// checkEffective checks the result as containerd will see it.
func (e *entry) checkEffective(set *cc.Set) error {
	t := containerdTable(e.version)
	eff := set.Merged()
	order := set.Paths()
	bin, _ := lookup(eff, join(t, "runtimes", e.name, "options", "BinaryName")...)
	if bin != e.binary {
		return fmt.Errorf("after the change, containerd would still not run %s for runtime %q: a file it loads later overrides it (load order: %s)",
			e.binary, e.name, strings.Join(order, ", "))
	}
	dflt, _ := lookup(eff, join(t, "default_runtime_name")...)
	if e.setDflt && dflt != e.name {
		return fmt.Errorf("after the change, default_runtime_name would still be %v, set by a file containerd loads later (load order: %s): change it there",
			dflt, strings.Join(order, ", "))
	}
	if e.version == 2 && e.dfltOK {
		name, _ := dflt.(string)
		if name == "" {
			name = "runc"
		}
		if _, ok := lookup(eff, join(t, "runtimes", name)...); !ok {
			return fmt.Errorf("after the change, the default runtime %q would not be defined and containerd 1.x would not load its CRI plugin (load order: %s)",
				name, strings.Join(order, ", "))
		}
	}
	return nil
}
