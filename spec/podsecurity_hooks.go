package spec

import (
	"fmt"
	"path/filepath"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// hookViolations: hooks run as root on the host (createRuntime, prestart,
// poststart, poststop) or before the container's confinement is complete,
// with arguments the spec picks. Only executables the node lists in
// [podsecurity] hooks_allow may run, and only while root alone can replace
// them.
func hookViolations(h *specs.Hooks, allow []string, add func(check, field, value string)) {
	if h == nil {
		return
	}
	for _, kind := range []struct {
		name  string
		hooks []specs.Hook
	}{
		{"prestart", h.Prestart}, {"createRuntime", h.CreateRuntime}, {"createContainer", h.CreateContainer},
		{"startContainer", h.StartContainer}, {"poststart", h.Poststart}, {"poststop", h.Poststop},
	} {
		for i, hk := range kind.hooks {
			field := fmt.Sprintf("hooks.%s[%d].path", kind.name, i)
			if w := hookProblem(hk.Path, allow); w != "" {
				add("hooks", field, w)
			}
		}
	}
}

func hookProblem(p string, allow []string) string {
	if !filepath.IsAbs(p) {
		return fmt.Sprintf("%q is not an absolute path (the runtime would run it relative to the bundle)", p)
	}
	resolved, err := filepath.EvalSymlinks(p)
	listed := slices.Contains(allow, filepath.Clean(p)) || (err == nil && slices.Contains(allow, resolved))
	switch {
	case !listed:
		also := ""
		if err == nil && resolved != filepath.Clean(p) {
			also = " (resolves to " + resolved + ")"
		}
		return fmt.Sprintf("%s%s is not in [podsecurity] hooks_allow (hooks run on the host with full privileges; list the executable there if the node trusts it)", p, also)
	case err != nil:
		return fmt.Sprintf("%s cannot be resolved: %v", p, err)
	}
	// The file and its directory: whoever can replace either runs as root.
	for _, q := range []string{resolved, filepath.Dir(resolved)} {
		uid, mode, err := statOwner(q)
		switch {
		case err != nil:
			return fmt.Sprintf("%s: %v", p, err)
		case uid != 0:
			return fmt.Sprintf("%s: %s is owned by uid %d, not root (fix: chown root %s)", p, q, uid, q)
		case mode.Perm()&0o022 != 0:
			return fmt.Sprintf("%s: %s is writable by group or others (mode %04o; fix: chmod go-w %s)", p, q, mode.Perm(), q)
		}
	}
	return ""
}
