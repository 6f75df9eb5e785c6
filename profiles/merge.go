package profiles

import (
	"fmt"
	"slices"
	"strconv"

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

// ENOSYS is what a kernel without a syscall answers.
const ENOSYS = 38

// CompatErrno reports whether r answers with ERRNO(ENOSYS): not a denial but
// "no such call", after which libc falls back to an older call (clone3 ->
// clone). Complain mode keeps such rules and findings do not count them.
func CompatErrno(r specs.LinuxSyscall) bool {
	return r.Action == specs.ActErrno && r.ErrnoRet != nil && *r.ErrnoRet == ENOSYS
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
	out.Architectures = mergeArches(user.Architectures, def.Architectures)
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
		var seen ruleSet
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
				after = intersections(after, &seen, n, r, cond[n])
				if !covered(r.Args, cond[n]) {
					narrowed = append(narrowed, n)
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
	out.Architectures = mergeArches(user.Architectures, def.Architectures)
	out.Flags = append(slices.Clone(def.Flags), user.Flags...)
	out.ListenerPath, out.ListenerMetadata = user.ListenerPath, user.ListenerMetadata
	out.Syscalls = nil
	for _, r := range def.Syscalls {
		r.Names = slices.DeleteFunc(slices.Clone(r.Names), func(n string) bool { return userDenies[n] })
		if len(r.Names) > 0 {
			out.Syscalls = append(out.Syscalls, r)
		}
	}
	var seen ruleSet
	for _, r := range out.Syscalls {
		seen.add(r)
	}
	for _, r := range user.Syscalls {
		if !Permissive(r.Action) {
			r.Args = nil
			if seen.add(r) {
				out.Syscalls = append(out.Syscalls, r)
			}
		}
	}
	return &out, []string{fmt.Sprintf("defaultAction %s (replaced by the node default's %s)", user.DefaultAction, def.DefaultAction)}
}

// only returns a copy of rule r for the single name n.
func only(r specs.LinuxSyscall, n string) specs.LinuxSyscall {
	r.Names = []string{n}
	return r
}

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

// isOr reports whether two conditions name the same argument. A bitmask,
// not a map: this runs for every rule pair on every create.
func isOr(args []specs.LinuxSeccompArg) bool {
	var seen uint64
	var big map[uint]bool // indexes past 63: not a syscall argument, but possible input
	for _, a := range args {
		if a.Index < 64 {
			if seen&(1<<a.Index) != 0 {
				return true
			}
			seen |= 1 << a.Index
			continue
		}
		if big == nil {
			big = map[uint]bool{}
		}
		if big[a.Index] {
			return true
		}
		big[a.Index] = true
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
// the same argument) both hold, if there is one. It reports false both when
// no value satisfies both (the call is rightly denied) and when the
// conjunction is not one condition (the call is left denied rather than
// allowed too widely; Merge reports it narrowed). A rule cannot carry both:
// libseccomp refuses two comparisons on one argument in a rule (EINVAL), so
// runc and crun add each as a rule of its own, an OR.
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
	case uc.Op == specs.OpMaskedEqual && dc.Op == specs.OpMaskedEqual:
		return maskedBoth(uc, dc)
	}
	if lo, hi := lowerBound(uc.Op), lowerBound(dc.Op); lo && hi || upperBound(uc.Op) && upperBound(dc.Op) {
		// Two bounds on the same side: the tighter one is the conjunction.
		if tighter(uc, dc) {
			return uc, true
		}
		return dc, true
	}
	return specs.LinuxSeccompArg{}, false
}

// maskedBoth is the conjunction of (x & m1) == v1 and (x & m2) == v2, which
// constrain each bit of x separately: bit b must equal v1's where b is in
// m1 and v2's where b is in m2. So the conjunction is empty when v1 has a bit
// outside m1 (no x matches the first at all), v2 one outside m2, or v1 and
// v2 differ on a bit of m1 & m2; otherwise it fixes exactly the bits of
// m1 | m2 to v1 | v2 (v1's bits on m1, v2's on m2, the same on both), which
// is the single condition (x & (m1|m2)) == (v1|v2).
func maskedBoth(a, b specs.LinuxSeccompArg) (specs.LinuxSeccompArg, bool) {
	m1, v1, m2, v2 := a.Value, a.ValueTwo, b.Value, b.ValueTwo
	if v1&^m1 != 0 || v2&^m2 != 0 || (v1^v2)&m1&m2 != 0 {
		return specs.LinuxSeccompArg{}, false
	}
	return specs.LinuxSeccompArg{Index: a.Index, Value: m1 | m2, ValueTwo: v1 | v2, Op: specs.OpMaskedEqual}, true
}

func lowerBound(op specs.LinuxSeccompOperator) bool {
	return op == specs.OpGreaterThan || op == specs.OpGreaterEqual
}

func upperBound(op specs.LinuxSeccompOperator) bool {
	return op == specs.OpLessThan || op == specs.OpLessEqual
}

// tighter reports whether bound a implies bound b (both lower or both
// upper bounds on one argument).
func tighter(a, b specs.LinuxSeccompArg) bool {
	// Compare the least (or greatest) value each admits, as x >= lo or
	// x <= hi; a bound admitting nothing (x < 0, x > max) implies any.
	norm := func(c specs.LinuxSeccompArg) (uint64, bool) {
		switch c.Op {
		case specs.OpGreaterThan:
			return c.Value + 1, c.Value != ^uint64(0)
		case specs.OpLessThan:
			return c.Value - 1, c.Value != 0
		}
		return c.Value, true
	}
	av, aok := norm(a)
	bv, bok := norm(b)
	switch {
	case !aok:
		return true
	case !bok:
		return false
	case lowerBound(a.Op):
		return av >= bv
	}
	return av <= bv
}

// ruleSet finds repeated rules in time linear in their number: a profile
// from a pod can have thousands.
type ruleSet map[string]bool

// add reports whether r was new.
func (s *ruleSet) add(r specs.LinuxSyscall) bool {
	if *s == nil {
		*s = ruleSet{}
	}
	b := make([]byte, 0, 64)
	for _, n := range r.Names {
		b = append(append(b, n...), 0)
	}
	b = append(append(b, 1), r.Action...)
	if r.ErrnoRet != nil {
		b = strconv.AppendUint(append(b, 2), uint64(*r.ErrnoRet), 10)
	}
	for _, a := range r.Args {
		b = strconv.AppendUint(append(b, 3), uint64(a.Index), 10)
		b = strconv.AppendUint(append(b, 4), a.Value, 10)
		b = strconv.AppendUint(append(b, 5), a.ValueTwo, 10)
		b = append(append(b, 6), a.Op...)
	}
	k := string(b)
	if (*s)[k] {
		return false
	}
	(*s)[k] = true
	return true
}

// split returns p with its conditional rules split to one name each.
func split(p *specs.LinuxSeccomp) specs.LinuxSeccomp {
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
	return out
}

// intersections appends to after, once each, the rules allowing n where
// one of r's alternatives and one of conds both hold.
func intersections(after []specs.LinuxSyscall, seen *ruleSet, n string, r specs.LinuxSyscall, conds []specs.LinuxSyscall) []specs.LinuxSyscall {
	for _, u := range splitOr(r.Args) {
		for _, d := range conds {
			if args, ok := intersect(u, d.Args); ok {
				rule := specs.LinuxSyscall{Names: []string{n}, Action: r.Action, ErrnoRet: r.ErrnoRet, Args: args}
				if seen.add(rule) {
					after = append(after, rule)
				}
			}
		}
	}
	return after
}

// covered reports whether each alternative of args lies within one of def's
// argument rules, so that intersecting changed nothing. It may say false
// for an alternative that only a union of def's rules covers: explain then
// lists the name as narrowed, which errs on the side of saying so.
func covered(args []specs.LinuxSeccompArg, def []specs.LinuxSyscall) bool {
	for _, u := range splitOr(args) {
		ok := false
		for _, d := range def {
			if in, exact := intersect(u, d.Args); exact && sameConds(in, u) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func sameConds(a, b []specs.LinuxSeccompArg) bool {
	if len(a) != len(b) {
		return false
	}
	for _, c := range a {
		if !slices.Contains(b, c) {
			return false
		}
	}
	return true
}

// MaxMergeWork bounds MergeWork for a profile secrun merges: Docker's
// default is about 400; the bound keeps a crafted profile from making every
// create on the node slow (each alternative meets each of the default's
// argument rules for that name).
const MaxMergeWork = 20000

// MergeWork is the number of name × argument-alternative pairs in p, which
// bounds the work and output of Merge(p, def).
func MergeWork(p *specs.LinuxSeccomp) int {
	n := 0
	for _, r := range p.Syscalls {
		alts := 1
		if isOr(r.Args) {
			alts = len(r.Args)
		}
		n += len(r.Names) * alts
	}
	return n
}

func dedupe(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}

// Normalize returns p in the form Merge produces, so that Merge(Normalize(p), p)
// is Normalize(p) byte for byte: conditional rules are split to one name each
// and each name's conditional rules stand together.
//
// It is Merge(q, q) for q = p split (TestNormalizeIsSelfMerge holds it to
// that), computed without Merge's maps over every name: it runs on every
// create, and only the few names with argument rules change.
func Normalize(p *specs.LinuxSeccomp) *specs.LinuxSeccomp {
	out := split(p)
	if Permissive(out.DefaultAction) {
		m, _ := Merge(&out, &out) // a blocklist: Merge rebuilds it
		return m
	}
	// The names with argument rules, and which of them some rule also
	// allows outright (those keep their rules as they are).
	cond := map[string][]specs.LinuxSyscall{}
	for _, r := range out.Syscalls {
		if Permissive(r.Action) && len(r.Args) > 0 {
			for _, n := range r.Names {
				cond[n] = append(cond[n], r)
			}
		}
	}
	uncond := map[string]bool{}
	for _, r := range out.Syscalls {
		if Permissive(r.Action) && len(r.Args) == 0 {
			for _, n := range r.Names {
				if cond[n] != nil {
					uncond[n] = true
				}
			}
		}
	}
	res := out
	res.Syscalls = make([]specs.LinuxSyscall, 0, len(out.Syscalls))
	for _, r := range out.Syscalls {
		if !Permissive(r.Action) || len(r.Args) == 0 {
			if !Permissive(r.Action) || len(r.Names) > 0 {
				res.Syscalls = append(res.Syscalls, r)
			}
			continue
		}
		// As Merge: names allowed outright elsewhere keep this rule;
		// the others get every intersection with their argument rules.
		var keep []string
		var after []specs.LinuxSyscall
		var seen ruleSet
		for _, n := range r.Names {
			if uncond[n] {
				keep = append(keep, n)
				continue
			}
			after = intersections(after, &seen, n, r, cond[n])
		}
		if len(keep) > 0 {
			r.Names = keep
			res.Syscalls = append(res.Syscalls, r)
		}
		res.Syscalls = append(res.Syscalls, after...)
	}
	return &res
}
