// Package check is `secrun check`: a doctor that tells an admin whether this
// node can confine containers with secrun, one pass/fail line per fact.
package check

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/secrun/secrun/config"
	cc "github.com/secrun/secrun/internal/containerdconfig"
	"github.com/secrun/secrun/profiles"
	"github.com/secrun/secrun/profiles/tool"
	"github.com/secrun/secrun/shim"
)

type report struct {
	w     io.Writer
	fails int
}

func (r *report) ok(format string, a ...any)   { fmt.Fprintf(r.w, "ok    "+format+"\n", a...) }
func (r *report) warn(format string, a ...any) { fmt.Fprintf(r.w, "warn  "+format+"\n", a...) }
func (r *report) fail(format string, a ...any) {
	r.fails++
	fmt.Fprintf(r.w, "FAIL  "+format+"\n", a...)
}

// Main runs the checks; args are the words after `secrun check`.
func Main(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("secrun check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ctrdConfig := fs.String("containerd-config", "/etc/containerd/config.toml", "containerd config to look for the runtime entry in")
	runtimeName := fs.String("runtime-name", "secrun", "name of the containerd runtime entry")
	noContainerd := fs.Bool("no-containerd", false, "skip the containerd checks (nodes where people use `secrun run` only)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	r := &report{w: stdout}
	seccompChecks(r)
	cfg := configChecks(r)
	runtimeChecks(r, cfg)
	apparmorChecks(r, cfg)
	selfChecks(r)
	if !*noContainerd {
		containerdChecks(r, *ctrdConfig, *runtimeName)
	}
	if r.fails > 0 {
		fmt.Fprintf(stdout, "%d check(s) failed\n", r.fails)
		return 1
	}
	fmt.Fprintln(stdout, "all checks passed")
	return 0
}

func seccompChecks(r *report) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil || !bytes.Contains(status, []byte("\nSeccomp:")) {
		r.fail("seccomp: the kernel does not report seccomp support in /proc/self/status (CONFIG_SECCOMP_FILTER)")
		return
	}
	actions, err := os.ReadFile("/proc/sys/kernel/seccomp/actions_avail")
	if err != nil {
		r.warn("seccomp: %v (cannot list the kernel's actions)", err)
		return
	}
	have := strings.Fields(string(actions))
	var missing []string
	for _, a := range []string{"errno", "allow", "log", "kill_process"} {
		if !contains(have, a) {
			missing = append(missing, a)
		}
	}
	if len(missing) > 0 {
		r.fail("seccomp: the kernel lacks actions %s (has %s)", strings.Join(missing, ", "), strings.Join(have, " "))
		return
	}
	r.ok("seccomp: filters supported; actions: %s", strings.Join(have, " "))
}

func configChecks(r *report) *config.Config {
	path := config.Path()
	cfg, err := config.Load(path)
	if err != nil {
		r.fail("node config: %v", err)
		return nil
	}
	if cfg.Missing {
		r.ok("node config: %s absent: the embedded default applies", path)
	} else {
		r.ok("node config: %s is valid and writable only by its owner", path)
	}
	if _, err := cfg.Policy(nil); err != nil {
		r.fail("policy: %v", err)
	} else {
		r.ok("policy: level %s, seccomp %s (%s)", cfg.Level, cfg.Seccomp.Profile, cfg.Seccomp.Mode)
	}
	for i, rule := range cfg.Rules {
		eff, label := cfg.For(ruleAnnotations(rule))
		if p, err := eff.Policy(nil); err != nil {
			r.fail("rule #%d: %v", i+1, err)
		} else if _, err := p.Seccomp(profiles.BaselineCaps()); err != nil {
			r.fail("%s: %v", label, err)
		}
	}
	profilesDirChecks(r, cfg.ProfilesDir)
	return cfg
}

// ruleAnnotations returns annotations that a rule's own selectors match,
// so each rule's policy can be resolved once.
func ruleAnnotations(rule config.Rule) map[string]string {
	lit := func(p string) string { return strings.NewReplacer("*", "x", "?", "x", "[", "", "]", "").Replace(p) }
	return map[string]string{
		config.AnnNamespace: lit(rule.Namespace), config.AnnPod: lit(rule.Pod),
		config.AnnContainer: lit(rule.Container), config.AnnImage: lit(rule.Image), config.AnnContainerType: rule.Type,
	}
}

func profilesDirChecks(r *report, dir string) {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		r.ok("profiles_dir %s: absent (built-in levels only)", dir)
		return
	}
	if err != nil {
		r.fail("profiles_dir %s: %v", dir, err)
		return
	}
	n := 0
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		fi, err := os.Stat(p)
		if err != nil || fi.IsDir() {
			continue
		}
		if fi.Mode().Perm()&0o022 != 0 {
			r.fail("profile %s is writable by group or others (mode %04o): secrun refuses it (chmod go-w %s)", p, fi.Mode().Perm(), p)
			continue
		}
		if strings.HasSuffix(e.Name(), ".json") {
			c := config.Default()
			c.ProfilesDir, c.Seccomp.Profile = dir, strings.TrimSuffix(e.Name(), ".json")
			// The file as written: in use it is merged with runtime-default,
			// which would hide a misspelt name instead of reporting it.
			c.Seccomp.AllowLooser = true
			pol, err := c.Policy(nil)
			var resolved *specs.LinuxSeccomp
			if err == nil {
				resolved, err = pol.Seccomp(profiles.BaselineCaps())
			}
			if err != nil {
				r.fail("profile %s: %v", p, err)
				continue
			}
			if bad := tool.UnknownNames(resolved); len(bad) > 0 {
				r.fail("profile %s: unknown syscall(s) %s: runtimes ignore them silently (check the spelling; `secrun profile validate %s`)", p, strings.Join(bad, ", "), p)
				continue
			}
		}
		n++
	}
	r.ok("profiles_dir %s: %d profile(s) readable and not writable by others", dir, n)
}

func runtimeChecks(r *report, cfg *config.Config) {
	candidates := config.RuntimeOnly(config.Path())
	if env := os.Getenv("SECRUN_RUNTIME"); env != "" {
		candidates = []string{env}
	} else if cfg != nil {
		candidates = cfg.Runtime
	}
	self, _ := shim.WrapperPath()
	for _, c := range candidates {
		path, err := exec.LookPath(c)
		if err != nil {
			continue
		}
		if same(path, self) {
			r.warn("runtime: %s is secrun itself, skipped", path)
			continue
		}
		out, err := exec.Command(path, "--version").Output()
		if err != nil {
			r.fail("runtime: %s --version: %v", path, err)
			return
		}
		first, _, _ := strings.Cut(string(out), "\n")
		r.ok("runtime: %s (%s)", path, first)
		feat, err := exec.Command(path, "features").Output()
		var f struct {
			Linux struct {
				Seccomp struct {
					Enabled bool     `json:"enabled"`
					Actions []string `json:"actions"`
				} `json:"seccomp"`
				Apparmor struct {
					Enabled bool `json:"enabled"`
				} `json:"apparmor"`
			} `json:"linux"`
		}
		switch {
		case err != nil:
			r.warn("runtime: %s features: not supported (%v)", path, err)
		case json.Unmarshal(feat, &f) != nil:
			r.warn("runtime: %s features: output is not JSON", path)
		case !f.Linux.Seccomp.Enabled:
			r.fail("runtime: %s was built without seccomp support", path)
		default:
			r.ok("runtime: %s features: seccomp enabled (%d actions), apparmor %v", path, len(f.Linux.Seccomp.Actions), f.Linux.Apparmor.Enabled)
		}
		return
	}
	r.fail("runtime: none of %v found in PATH (set runtime in the node config or SECRUN_RUNTIME)", candidates)
}

func apparmorChecks(r *report, cfg *config.Config) {
	h := &profiles.AppArmorHost{}
	switch {
	case h.Supported():
		r.ok("apparmor: supported; containers get %s", cfgProfile(cfg))
	case cfg != nil && cfg.AppArmor.Require:
		r.fail("apparmor: [apparmor] require = true, but this host does not support AppArmor")
	default:
		r.ok("apparmor: not supported on this host; containers run without an AppArmor profile")
	}
}

func cfgProfile(cfg *config.Config) string {
	if cfg == nil {
		return profiles.DefaultAppArmor
	}
	return cfg.AppArmor.Profile
}

// selfChecks: the wrapper containerd runs, and secrun-tools (this binary).
func selfChecks(r *report) {
	wrapper, err := shim.WrapperPath()
	if err != nil {
		r.warn("secrun binary: %v", err)
		return
	}
	tools, _ := os.Executable()
	for _, b := range []string{wrapper, tools} {
		fi, err := os.Stat(b)
		if err == nil && fi.Mode().Perm()&0o022 != 0 {
			r.fail("secrun binary %s is writable by group or others (mode %04o)", b, fi.Mode().Perm())
			return
		}
	}
	r.ok("secrun binary: %s (tools: %s)", wrapper, tools)
}

// containerdChecks looks for the runtime entry in the config containerd
// builds from its config file and the files it imports (the loader secrun
// setup uses, with containerd's import and merge rules).
func containerdChecks(r *report, path, name string) {
	text, err := os.ReadFile(path)
	if err != nil {
		r.fail("containerd: %v (register secrun with `secrun setup containerd`)", err)
		return
	}
	main, err := cc.Parse(path, string(text))
	if err != nil {
		r.fail("containerd: %v", err)
		return
	}
	if main.Version != 2 && main.Version != 3 {
		r.fail("containerd: %s: config version %d is not supported (migrate with `containerd config migrate`)", path, main.Version)
		return
	}
	set, err := cc.Load(main, cc.Options{})
	if err != nil {
		r.fail("containerd: %v", err)
		return
	}
	for _, m := range set.Missing {
		r.fail("containerd: %s", m)
	}
	for _, n := range set.Notes {
		r.warn("containerd: %s", n)
	}
	rt := append(cc.ContainerdTable(main.Version), "runtimes", name)
	entry, _ := cc.Lookup(set.Merged(), rt...)
	if entry == nil {
		r.fail("containerd: no runtime %q in %s or its imports (run `secrun setup containerd`)", name, path)
		return
	}
	from := set.Defining(rt...)
	f := from[len(from)-1]
	bin, _ := dig(entry, "options", "BinaryName").(string)
	self, _ := shim.WrapperPath()
	switch {
	case bin == "":
		r.fail("containerd: %s: runtime %q has no options.BinaryName", f, name)
	case !same(bin, self):
		r.warn("containerd: %s: runtime %q runs %s, not this secrun (%s)", f, name, bin, self)
	default:
		r.ok("containerd: %s: runtime %q runs %s", f, name, bin)
	}
	if ann, _ := dig(entry, "pod_annotations").([]any); !containsAny(ann, "secrun.io/*") {
		r.warn("containerd: runtime %q lacks pod_annotations = [\"secrun.io/*\"]: pods cannot pick profiles", name)
	}
}

func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func same(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func containsAny(list []any, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
