package profiles

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// severity orders actions the way the kernel ranks them: when several rules
// match one call, the most severe wins.
var severity = map[specs.LinuxSeccompAction]int{
	specs.ActKillProcess: 8, specs.ActKill: 7, specs.ActKillThread: 7, specs.ActTrap: 6,
	specs.ActErrno: 5, specs.ActNotify: 4, specs.ActTrace: 3, specs.ActLog: 2, specs.ActAllow: 1,
}

// Evaluate returns the action p gives the call name(args...), following how
// runc compiles a profile: a rule's conditions are ANDed, except that a rule
// with several conditions on one argument becomes one rule per condition.
// It ignores architectures; it is for reasoning about profiles, not a filter.
func Evaluate(p *specs.LinuxSeccomp, name string, args [6]uint64) specs.LinuxSeccompAction {
	best, found := p.DefaultAction, false
	for _, r := range p.Syscalls {
		if !containsName(r.Names, name) || !argsMatch(r.Args, args) {
			continue
		}
		if !found || severity[r.Action] > severity[best] {
			best, found = r.Action, true
		}
	}
	return best
}

func containsName(names []string, n string) bool {
	for _, x := range names {
		if x == n {
			return true
		}
	}
	return false
}

func argsMatch(conds []specs.LinuxSeccompArg, args [6]uint64) bool {
	if len(conds) == 0 {
		return true
	}
	var count [6]int
	repeated := false
	for _, c := range conds {
		if c.Index < 6 {
			count[c.Index]++
			repeated = repeated || count[c.Index] > 1
		}
	}
	for _, c := range conds {
		ok := condMatch(c, args)
		if repeated && ok {
			return true
		}
		if !repeated && !ok {
			return false
		}
	}
	return !repeated
}

func condMatch(c specs.LinuxSeccompArg, args [6]uint64) bool {
	if c.Index >= 6 {
		return false
	}
	v := args[c.Index]
	switch c.Op {
	case specs.OpNotEqual:
		return v != c.Value
	case specs.OpLessThan:
		return v < c.Value
	case specs.OpLessEqual:
		return v <= c.Value
	case specs.OpEqualTo:
		return v == c.Value
	case specs.OpGreaterEqual:
		return v >= c.Value
	case specs.OpGreaterThan:
		return v > c.Value
	case specs.OpMaskedEqual:
		return v&c.Value == c.ValueTwo
	}
	return false
}

// CheckActions reports the first action in p that is not an OCI seccomp
// action, by field path under prefix. Evaluate and Merge rank actions by
// severity, so an unknown one would be reasoned about as if it denied;
// the runtime would refuse it later, with a less helpful message.
func CheckActions(prefix string, p *specs.LinuxSeccomp) error {
	if _, ok := severity[p.DefaultAction]; !ok {
		return fmt.Errorf("%s.defaultAction = %q is not a seccomp action (one of SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_LOG, …)", prefix, p.DefaultAction)
	}
	for i, r := range p.Syscalls {
		if _, ok := severity[r.Action]; !ok {
			return fmt.Errorf("%s.syscalls[%d].action = %q is not a seccomp action (one of SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_LOG, …)", prefix, i, r.Action)
		}
	}
	return nil
}
