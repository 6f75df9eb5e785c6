package profiles

import (
	"fmt"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Permissive reports whether an action lets the syscall run (or lets an agent
// or tracer decide that it runs).
func Permissive(a specs.LinuxSeccompAction) bool {
	switch a {
	case specs.ActAllow, specs.ActLog, specs.ActTrace, specs.ActNotify:
		return true
	}
	return false
}

// Merge combines a profile a spec brought (user) with the node's default
// (def) so that the result is never weaker than def:
//
//   - A syscall def does not allow at all is denied, whatever user says; where
//     def denies it with its own rule (clone3 -> ENOSYS, so libc falls back to
//     clone), that rule is carried over.
//   - A syscall def allows only for some arguments (personality, clone,
//     socket...) gets def's argument rules in place of user's permissive ones.
//   - Everything user denies stays denied; user's argument rules on syscalls
//     def allows outright are kept.
//   - A user profile whose defaultAction lets calls run (a blocklist) is
//     replaced by def, keeping user's deny rules.
//
// It returns the result and, for explain, the syscalls user allowed that the
// result does not allow outright.
func Merge(user, def *specs.LinuxSeccomp) (*specs.LinuxSeccomp, []string) {
	uncond := map[string]bool{}
	cond := map[string][]specs.LinuxSyscall{}
	denyRules := map[string][]specs.LinuxSyscall{}
	for _, r := range def.Syscalls {
		for _, n := range r.Names {
			switch {
			case !Permissive(r.Action):
				denyRules[n] = append(denyRules[n], only(r, n))
			case len(r.Args) == 0:
				uncond[n] = true
			default:
				cond[n] = append(cond[n], only(r, n))
			}
		}
	}
	userDenies := map[string]bool{}
	for _, r := range user.Syscalls {
		if !Permissive(r.Action) && len(r.Args) == 0 {
			for _, n := range r.Names {
				userDenies[n] = true
			}
		}
	}

	if Permissive(user.DefaultAction) {
		return mergeBlocklist(user, def, userDenies)
	}

	out := *user
	out.Syscalls = nil
	emitted := map[string]bool{}
	var narrowed []string
	for _, r := range user.Syscalls {
		if !Permissive(r.Action) {
			out.Syscalls = append(out.Syscalls, r)
			continue
		}
		var keep []string
		var after []specs.LinuxSyscall
		for _, n := range r.Names {
			switch {
			case uncond[n]:
				keep = append(keep, n)
			case cond[n] != nil:
				if !emitted[n] {
					emitted[n] = true
					after = append(after, cond[n]...)
					if len(r.Args) == 0 || !slices.EqualFunc(r.Args, cond[n][0].Args, argEq) {
						narrowed = append(narrowed, n)
					}
				}
			default:
				narrowed = append(narrowed, n)
				if !emitted[n] && !userDenies[n] && denyRules[n] != nil {
					emitted[n] = true
					after = append(after, denyRules[n]...)
				}
			}
		}
		if len(keep) > 0 {
			r.Names = keep
			out.Syscalls = append(out.Syscalls, r)
		}
		out.Syscalls = append(out.Syscalls, after...)
	}
	return &out, dedupe(narrowed)
}

func mergeBlocklist(user, def *specs.LinuxSeccomp, userDenies map[string]bool) (*specs.LinuxSeccomp, []string) {
	out := *def
	out.Flags = append(slices.Clone(def.Flags), user.Flags...)
	out.ListenerPath, out.ListenerMetadata = user.ListenerPath, user.ListenerMetadata
	out.Syscalls = nil
	for _, r := range def.Syscalls {
		r.Names = slices.DeleteFunc(slices.Clone(r.Names), func(n string) bool { return userDenies[n] })
		if len(r.Names) > 0 {
			out.Syscalls = append(out.Syscalls, r)
		}
	}
	for _, r := range user.Syscalls {
		if !Permissive(r.Action) {
			out.Syscalls = append(out.Syscalls, r)
		}
	}
	return &out, []string{fmt.Sprintf("defaultAction %s (replaced by the node default's %s)", user.DefaultAction, def.DefaultAction)}
}

// only returns a copy of rule r for the single name n.
func only(r specs.LinuxSyscall, n string) specs.LinuxSyscall {
	r.Names = []string{n}
	return r
}

func argEq(a, b specs.LinuxSeccompArg) bool { return a == b }

func errnoEq(a, b *uint) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func dedupe(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}

// Normalize returns p in the form Merge produces, so that Merge(Normalize(p), p)
// is Normalize(p) byte for byte: conditional rules are split to one name each
// and each name's conditional rules stand together.
func Normalize(p *specs.LinuxSeccomp) *specs.LinuxSeccomp {
	out := *p
	out.Syscalls = nil
	for _, r := range p.Syscalls {
		if Permissive(r.Action) && len(r.Args) > 0 && len(r.Names) > 1 {
			for _, n := range r.Names {
				out.Syscalls = append(out.Syscalls, only(r, n))
			}
			continue
		}
		out.Syscalls = append(out.Syscalls, r)
	}
	m, _ := Merge(&out, &out)
	return m
}
