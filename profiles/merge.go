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
// (def) so that the result allows nothing def denies and nothing user denies:
//
//   - A syscall def does not allow at all is denied, whatever user says; where
//     def denies it with its own rule (clone3 -> ENOSYS, so libc falls back to
//     clone), that rule is carried over.
//   - A syscall def allows only for some arguments (personality, clone,
//     socket...) and user allows outright gets def's argument rules; where
//     both have argument rules, the result allows their intersection (and
//     denies where an intersection cannot be written exactly).
//   - Everything user denies stays denied; user's argument rules on syscalls
//     def allows outright are kept.
//   - A user profile whose defaultAction lets calls run (a blocklist) is
//     replaced by def, with each syscall user denies (with or without
//     argument rules) denied outright.
//
// It returns the result and, for explain, the syscalls user allowed that the
// result allows only partly or not at all.
func Merge(user, def *specs.LinuxSeccomp) (*specs.LinuxSeccomp, []string) {
	// Sized for Docker's profile (~370 names): growing maps is most of the
	// allocation on the create path.
	uncond := make(map[string]bool, 512)
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
		// In a blocklist, a deny with argument rules denies the syscall
		// outright: an allow beside a conditional deny is not something
		// every libseccomp compiles the same way.
		for _, r := range user.Syscalls {
			if !Permissive(r.Action) {
				for _, n := range r.Names {
					userDenies[n] = true
				}
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
		keep := make([]string, 0, len(r.Names))
		var after []specs.LinuxSyscall
		for _, n := range r.Names {
			switch {
			case uncond[n]:
				keep = append(keep, n)
			case cond[n] != nil && len(r.Args) == 0:
				// def's argument rules replace an outright allow.
				if !emitted[n] {
					emitted[n] = true
					after = append(after, cond[n]...)
					narrowed = append(narrowed, n)
				}
			case cond[n] != nil:
				// Both have argument rules: allow only what both allow.
				for _, u := range splitOr(r.Args) {
					for _, d := range cond[n] {
						if args, ok := intersect(u, d.Args); ok {
							after = appendUnique(after, specs.LinuxSyscall{Names: []string{n}, Action: r.Action, ErrnoRet: r.ErrnoRet, Args: args})
						}
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
			r.Args = nil
			out.Syscalls = appendUnique(out.Syscalls, r)
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

// splitOr turns a rule's conditions into the alternatives runc compiles:
// conditions on distinct arguments are ANDed (one alternative); a rule with
// several conditions on one argument is one alternative per condition.
func splitOr(args []specs.LinuxSeccompArg) [][]specs.LinuxSeccompArg {
	if !isOr(args) {
		return [][]specs.LinuxSeccompArg{args}
	}
	out := make([][]specs.LinuxSeccompArg, len(args))
	for i := range args {
		out[i] = args[i : i+1 : i+1]
	}
	return out
}

// isOr reports whether two conditions name the same argument. Without a
// map: this runs for every rule pair on every create.
func isOr(args []specs.LinuxSeccompArg) bool {
	for i := range args {
		for j := range i {
			if args[i].Index == args[j].Index {
				return true
			}
		}
	}
	return false
}

// intersect returns conditions that hold exactly when both u and d hold,
// each a conjunction with at most one condition per argument. Where two
// conditions on one argument cannot be combined exactly, it reports false:
// the call is left denied rather than allowed too widely.
func intersect(u, d []specs.LinuxSeccompArg) ([]specs.LinuxSeccompArg, bool) {
	if isOr(d) {
		return nil, false // def's rule is itself an OR: not combined
	}
	// Decide before allocating: most pairs contradict each other (a
	// profile merged with itself pairs personality(0) with personality(8)).
	for _, dc := range d {
		if i := argIndex(u, dc.Index); i >= 0 {
			if _, ok := combine(u[i], dc); !ok {
				return nil, false
			}
		}
	}
	out := slices.Clone(u)
	for _, dc := range d {
		i := argIndex(out, dc.Index)
		if i < 0 {
			out = append(out, dc)
			continue
		}
		out[i], _ = combine(out[i], dc)
	}
	return out, true
}

func argIndex(args []specs.LinuxSeccompArg, index uint) int {
	return slices.IndexFunc(args, func(c specs.LinuxSeccompArg) bool { return c.Index == index })
}

// combine returns the one condition that holds exactly when uc and dc (on
// the same argument) both hold, if there is one.
func combine(uc, dc specs.LinuxSeccompArg) (specs.LinuxSeccompArg, bool) {
	var v [6]uint64
	switch {
	case uc == dc:
		return uc, true
	case uc.Op == specs.OpEqualTo && uc.Index < 6:
		v[uc.Index] = uc.Value
		return uc, condMatch(dc, v)
	case dc.Op == specs.OpEqualTo && dc.Index < 6:
		v[dc.Index] = dc.Value
		return dc, condMatch(uc, v)
	}
	return specs.LinuxSeccompArg{}, false
}

func appendUnique(rules []specs.LinuxSyscall, r specs.LinuxSyscall) []specs.LinuxSyscall {
	for _, x := range rules {
		if slices.Equal(x.Names, r.Names) && x.Action == r.Action && errnoEq(x.ErrnoRet, r.ErrnoRet) && slices.EqualFunc(x.Args, r.Args, argEq) {
			return rules
		}
	}
	return append(rules, r)
}

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
