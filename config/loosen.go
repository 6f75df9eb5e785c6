package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/secrun/secrun/profiles"
	"github.com/secrun/secrun/spec"
)

// Pod, container and image names are chosen by whoever writes the pod; the
// namespace is the one match field a cluster admin controls. A rule that
// loosens the policy must therefore name a namespace, or any pod author
// could name a container to match it.

// loosens lists how rule r, applied to the node's config c, is looser than
// c ("" when it is not).
func (c *Config) loosens(r *Rule) []string {
	e := c.apply(r)
	var why []string
	node, eff := capAllow(c), capAllow(e)
	var more []string
	for _, n := range eff {
		if !slices.Contains(node, n) {
			more = append(more, n)
		}
	}
	if len(more) > 0 {
		why = append(why, "allows capabilities "+strings.Join(more, ", "))
	}
	if *c.NoNewPrivileges && !*e.NoNewPrivileges {
		why = append(why, "sets no_new_privileges = false")
	}
	if rank(levelRank, e.Level) < rank(levelRank, c.Level) {
		why = append(why, fmt.Sprintf("lowers the level to %q", e.Level))
	}
	if e.Seccomp.Profile != c.Seccomp.Profile {
		_, nodeLevel := profiles.LookupLevel(c.Seccomp.Profile)
		_, effLevel := profiles.LookupLevel(e.Seccomp.Profile)
		switch {
		case !nodeLevel || !effLevel:
			why = append(why, fmt.Sprintf("changes the seccomp profile to %q (secrun cannot tell whether it is looser)", e.Seccomp.Profile))
		case rank(levelRank, e.Seccomp.Profile) < rank(levelRank, c.Seccomp.Profile):
			why = append(why, fmt.Sprintf("lowers the seccomp profile to %q", e.Seccomp.Profile))
		}
	}
	if e.Seccomp.AllowLooser && !c.Seccomp.AllowLooser {
		why = append(why, "sets seccomp.allow_looser_than_default")
	}
	if rank(modeRank, e.Seccomp.Mode) < rank(modeRank, c.Seccomp.Mode) {
		why = append(why, fmt.Sprintf("sets seccomp mode %q", e.Seccomp.Mode))
	}
	if e.AppArmor.Profile != c.AppArmor.Profile {
		why = append(why, fmt.Sprintf("changes the AppArmor profile to %q (secrun cannot tell whether it is looser)", e.AppArmor.Profile))
	}
	if rank(pssRank, e.PodSecurity.Level) < rank(pssRank, c.PodSecurity.Level) {
		why = append(why, fmt.Sprintf("lowers podsecurity.level to %q", e.PodSecurity.Level))
	}
	if c.PodSecurity.Mode == "enforce" && e.PodSecurity.Mode != "enforce" {
		why = append(why, fmt.Sprintf("sets podsecurity.mode %q", e.PodSecurity.Mode))
	}
	if extra := notIn(e.PodSecurity.Allow, c.PodSecurity.Allow); len(extra) > 0 {
		why = append(why, "exempts podsecurity checks "+strings.Join(extra, ", "))
	}
	if extra := notIn(e.Annotations.Allow, c.Annotations.Allow); len(extra) > 0 {
		why = append(why, "allows annotations "+strings.Join(extra, ", "))
	}
	return why
}

var (
	levelRank = []string{profiles.RuntimeDefault, profiles.Restricted}
	modeRank  = []string{"off", "complain", "enforce"}
	pssRank   = []string{spec.PSSOff, spec.PSSBaseline, spec.PSSRestricted}
)

// rank is v's place from loosest to tightest; unknown values rank loosest.
func rank(order []string, v string) int { return slices.Index(order, v) }

func notIn(a, b []string) []string {
	var out []string
	for _, v := range a {
		if !slices.Contains(b, v) && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// capAllow is c's capability allowlist, canonical names (as Policy builds
// it; names that do not parse are left to Policy to report).
func capAllow(c *Config) []string {
	var allow []string
	if c.Capabilities.Allow == nil {
		if l, ok := profiles.LookupLevel(c.Level); ok {
			allow = slices.Clone(l.Caps)
		}
	}
	for _, n := range append(slices.Clone(c.Capabilities.Allow), c.capAdd...) {
		if cn, err := profiles.CanonicalCap(n); err == nil && !slices.Contains(allow, cn) {
			allow = append(allow, cn)
		}
	}
	return allow
}

// namesNamespace: the pattern has a literal character, so it cannot match
// every namespace ("*", "?*" and "[a-z]*" can).
func namesNamespace(pat string) bool {
	for i := 0; i < len(pat); i++ {
		switch pat[i] {
		case '*', '?':
		case '[':
			for i < len(pat) && pat[i] != ']' {
				i++
			}
		case '\\':
			return i+1 < len(pat)
		default:
			return true
		}
	}
	return false
}

// checkLoosening refuses a loosening rule that does not name a namespace.
func (c *Config) checkLoosening(i int) error {
	r := &c.Rules[i]
	if namesNamespace(r.Namespace) {
		return nil
	}
	why := c.loosens(r)
	if len(why) == 0 {
		return nil
	}
	ns := "no namespace"
	if r.Namespace != "" {
		ns = fmt.Sprintf("namespace = %q, which matches every namespace", r.Namespace)
	}
	return fmt.Errorf("%s loosens the policy (%s) but has %s: pod, container and image names are chosen by whoever writes the pod, so such a rule must also name a namespace (add namespace = \"...\" to it)",
		r.label(i), strings.Join(why, "; "), ns)
}
