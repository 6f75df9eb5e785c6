package spec

import (
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/secrun/secrun/profiles"
)

// capabilities limits every capability set of the process to the
// allowlist, and for an exec to limit, the container's own sets. It refuses
// what looks privileged and what is beyond the runtimes' stock set and the
// allowlist (unless on_violation = "drop"); a stock capability the
// allowlist lacks (CAP_NET_RAW by default) is dropped quietly.
type capabilities struct {
	p     *Policy
	limit *specs.LinuxCapabilities
}

func (m capabilities) Modify(s *specs.Spec) ([]Change, error) {
	p := m.p
	c := s.Process.Capabilities
	if c == nil {
		// Absent or null: runc 1.1 and crun drop every capability, runc
		// 1.2+ keeps every one it has. Empty sets mean none to all three.
		s.Process.Capabilities = &specs.LinuxCapabilities{}
		return []Change{changed("capabilities", "none given: written as empty sets, which every runtime reads as no capabilities")}, nil
	}
	sets := []*[]string{&c.Bounding, &c.Effective, &c.Permitted, &c.Inheritable, &c.Ambient}
	names := []string{"bounding", "effective", "permitted", "inheritable", "ambient"}
	var limits []*[]string
	if l := m.limit; l != nil {
		limits = []*[]string{&l.Bounding, &l.Effective, &l.Permitted, &l.Inheritable, &l.Ambient}
	}
	asked := map[string]bool{}
	for i, set := range sets {
		for _, n := range *set {
			if !profiles.IsCap(n) {
				return nil, refuse("unknown capability %q in process.capabilities.%s (capabilities are written CAP_NAME, e.g. CAP_CHOWN)", n, names[i])
			}
			asked[n] = true
		}
	}
	allowed := func(n string) bool { return slices.Contains(p.CapAllow, n) }
	if !allowed("CAP_SYS_ADMIN") {
		all := true
		for _, n := range profiles.AllCaps() {
			all = all && asked[n]
		}
		if asked["CAP_SYS_ADMIN"] || all {
			what := "CAP_SYS_ADMIN"
			if all {
				what = "every capability"
			}
			return nil, refuse("container looks privileged: it asks for %s; secrun refuses privileged containers (to allow it on this node, add \"CAP_SYS_ADMIN\" to [capabilities] allow in %s, preferably in a rule for this workload)", what, p.Source)
		}
	}
	var refused []string
	for n := range asked {
		if !allowed(n) && !slices.Contains(profiles.StockCaps(), n) && p.OnViolation != "drop" {
			refused = append(refused, n)
		}
	}
	if len(refused) > 0 {
		slices.Sort(refused)
		return nil, refuse("capability %s is not allowed by secrun's policy (to allow it, add it to [capabilities] allow in %s; or set on_violation = \"drop\" there to drop it instead)", strings.Join(refused, ", "), p.Source)
	}
	var changes []Change
	for i, set := range sets {
		before := *set
		keep := slices.DeleteFunc(slices.Clone(before), func(n string) bool {
			return !allowed(n) || (limits != nil && !slices.Contains(*limits[i], n))
		})
		if len(keep) == len(before) {
			continue
		}
		if keep == nil {
			keep = []string{}
		}
		*set = keep
		var gone []string
		for _, n := range before {
			if !slices.Contains(keep, n) {
				gone = append(gone, n)
			}
		}
		changes = append(changes, changed("capabilities", "%s: dropped %s", names[i], strings.Join(gone, ", ")))
	}
	return changes, nil
}
