package tool

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/secrun/secrun/profiles"
)

func merge(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("merge", stderr)
	var caps capsFlag
	fs.Var(&caps, "caps", "bounding `LIST` Docker-format includes/excludes are resolved for (default: the 14 stock capabilities)")
	output := fs.String("output", "", "write the merged profile to `FILE` (atomically) instead of stdout")
	files, err := ParseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	} else if err != nil {
		return 2
	}
	if len(files) < 2 {
		return usageError(stderr, "merge", "give at least two profiles (got %d)", len(files))
	}
	opt := loadOptions{Caps: caps.or(profiles.StockCaps())}
	var ps []*Profile
	for _, f := range files {
		p, err := loadFile(f, opt)
		if err != nil {
			fmt.Fprintf(stderr, "secrun profile merge: %v\n", err)
			return 1
		}
		ps = append(ps, p)
	}
	out, err := mergeProfiles(ps)
	if err != nil {
		fmt.Fprintf(stderr, "secrun profile merge: %v\n", err)
		return 1
	}
	for _, p := range ps {
		fmt.Fprintf(stderr, "secrun profile merge: %s: %d allowed outright\n", p.Path, countProfile(p.Seccomp).Allowed)
		for _, n := range p.Notes {
			fmt.Fprintf(stderr, "secrun profile merge: %s: warning: %s\n", p.Path, n)
		}
	}
	fmt.Fprintf(stderr, "secrun profile merge: result: %s\n", describe(out))
	if err := writeOutput(*output, marshalProfile(out), stdout); err != nil {
		fmt.Fprintf(stderr, "secrun profile merge: %v\n", err)
		return 1
	}
	return 0
}

// mergeProfiles returns a profile that allows every call any input allows
// (for recordings of the same workload: each replica exercised other
// paths). The inputs must be allowlists with the same default action:
//
//   - a name any input allows outright is allowed outright, in one rule per
//     permissive action (ALLOW first);
//   - argument rules that allow a name are kept (once) unless some input
//     allows it outright;
//   - rules that deny a name are kept (once) unless some input allows the
//     name outright, or the deny has no arguments and some input allows the
//     name for some arguments.
func mergeProfiles(ps []*Profile) (*specs.LinuxSeccomp, error) {
	first := ps[0]
	def, defErrno := first.Seccomp.DefaultAction, errnoOf(first.Seccomp.DefaultErrnoRet)
	for _, p := range ps {
		s := p.Seccomp
		if profiles.Permissive(s.DefaultAction) {
			return nil, fmt.Errorf("%s has defaultAction %s (a blocklist): merge takes the union of allowlists", p.Path, s.DefaultAction)
		}
		if s.DefaultAction != def || errnoOf(s.DefaultErrnoRet) != defErrno && (def == specs.ActErrno || def == specs.ActTrace) {
			return nil, fmt.Errorf("different defaultActions: %s has %s, %s has %s (merge only profiles that deny the same way)",
				first.Path, actionText(specs.LinuxSyscall{Action: def, ErrnoRet: first.Seccomp.DefaultErrnoRet}),
				p.Path, actionText(specs.LinuxSyscall{Action: s.DefaultAction, ErrnoRet: s.DefaultErrnoRet}))
		}
		if s.ListenerPath != first.Seccomp.ListenerPath {
			return nil, fmt.Errorf("different listenerPaths: %s has %q, %s has %q", first.Path, first.Seccomp.ListenerPath, p.Path, s.ListenerPath)
		}
	}

	out := &specs.LinuxSeccomp{
		DefaultAction: def, DefaultErrnoRet: first.Seccomp.DefaultErrnoRet,
		ListenerPath: first.Seccomp.ListenerPath, ListenerMetadata: first.Seccomp.ListenerMetadata,
	}
	outright := map[specs.LinuxSeccompAction]map[string]bool{}
	allowedAny, allowedSome := map[string]bool{}, map[string]bool{}
	for _, p := range ps {
		for _, a := range p.Seccomp.Architectures {
			if !slices.Contains(out.Architectures, a) {
				out.Architectures = append(out.Architectures, a)
			}
		}
		for _, f := range p.Seccomp.Flags {
			if !slices.Contains(out.Flags, f) {
				out.Flags = append(out.Flags, f)
			}
		}
		for _, r := range p.Seccomp.Syscalls {
			if !profiles.Permissive(r.Action) {
				continue
			}
			for _, n := range r.Names {
				if len(r.Args) > 0 {
					allowedSome[n] = true
					continue
				}
				allowedAny[n] = true
				if outright[r.Action] == nil {
					outright[r.Action] = map[string]bool{}
				}
				outright[r.Action][n] = true
			}
		}
	}
	// One outright rule per permissive action; a name in several goes to
	// the first of ALLOW, LOG, TRACE, NOTIFY.
	placed := map[string]bool{}
	for _, act := range []specs.LinuxSeccompAction{specs.ActAllow, specs.ActLog, specs.ActTrace, specs.ActNotify} {
		var names []string
		for _, n := range sortedKeys(outright[act]) {
			if !placed[n] {
				placed[n] = true
				names = append(names, n)
			}
		}
		if len(names) > 0 {
			out.Syscalls = append(out.Syscalls, specs.LinuxSyscall{Names: names, Action: act})
		}
	}
	var conditional, deny []specs.LinuxSyscall
	for _, p := range ps {
		for _, r := range p.Seccomp.Syscalls {
			permissive := profiles.Permissive(r.Action)
			if permissive && len(r.Args) == 0 {
				continue
			}
			names := slices.DeleteFunc(slices.Clone(r.Names), func(n string) bool {
				return allowedAny[n] || !permissive && len(r.Args) == 0 && allowedSome[n]
			})
			if len(names) == 0 {
				continue
			}
			r.Names = names
			if permissive {
				conditional = appendRule(conditional, r)
			} else {
				deny = appendRule(deny, r)
			}
		}
	}
	out.Syscalls = append(append(out.Syscalls, conditional...), deny...)
	return out, nil
}

// appendRule appends r unless an equal rule is there already.
func appendRule(rules []specs.LinuxSyscall, r specs.LinuxSyscall) []specs.LinuxSyscall {
	for _, x := range rules {
		if sameRule(x, r) {
			return rules
		}
	}
	return append(rules, r)
}
