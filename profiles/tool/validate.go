package tool

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/secrun/secrun/profiles"
)

func validate(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("validate", stderr)
	var caps capsFlag
	fs.Var(&caps, "caps", "bounding `LIST` Docker-format includes/excludes are resolved for (default: the 14 stock capabilities)")
	allowUnknown := fs.Bool("allow-unknown", false, "report syscall names libseccomp does not know as warnings, not errors")
	files, err := ParseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	} else if err != nil {
		return 2
	}
	if len(files) == 0 {
		return usageError(stderr, "validate", "no profile given")
	}
	opt := loadOptions{Caps: caps.or(profiles.StockCaps())}
	status := 0
	for _, f := range files {
		p, err := loadFile(f, opt)
		if err != nil {
			fmt.Fprintf(stdout, "%s: error: %v\n", f, strings.TrimPrefix(err.Error(), f+": "))
			fmt.Fprintf(stdout, "%s: FAILED\n", f)
			status = 1
			continue
		}
		r := checkProfile(p.Seccomp, *allowUnknown)
		r.Warnings = append(p.Notes, r.Warnings...)
		fmt.Fprintf(stdout, "%s: %s profile: %s\n", f, p.Format, describe(p.Seccomp))
		for _, e := range r.Errors {
			fmt.Fprintf(stdout, "%s: error: %s\n", f, e)
		}
		for _, w := range r.Warnings {
			fmt.Fprintf(stdout, "%s: warning: %s\n", f, w)
		}
		for _, n := range r.Notes {
			fmt.Fprintf(stdout, "%s: note: %s\n", f, n)
		}
		if r.Instructions > 0 {
			fmt.Fprintf(stdout, "%s: compiled by libseccomp %s: %d BPF instructions\n", f, libseccompVersion(), r.Instructions)
		}
		if len(r.Errors) > 0 {
			fmt.Fprintf(stdout, "%s: FAILED: %d errors, %d warnings\n", f, len(r.Errors), len(r.Warnings))
			status = 1
		} else {
			fmt.Fprintf(stdout, "%s: ok (%d warnings)\n", f, len(r.Warnings))
		}
	}
	return status
}

// checkResult is what validate found in one profile.
type checkResult struct {
	Errors, Warnings, Notes []string
	Instructions            int // BPF instructions libseccomp produced
	Unknown                 []string
}

// checkProfile checks p as runc would load it and compiles it with
// libseccomp. Unknown names are errors unless allowUnknown, or unless they
// are syscalls newer than this libseccomp (listed by Docker's profile).
func checkProfile(p *specs.LinuxSeccomp, allowUnknown bool) checkResult {
	var r checkResult
	errf := func(format string, a ...any) { r.Errors = append(r.Errors, fmt.Sprintf(format, a...)) }
	warnf := func(format string, a ...any) { r.Warnings = append(r.Warnings, fmt.Sprintf(format, a...)) }

	switch {
	case p.DefaultAction == "":
		errf("defaultAction is empty (an allowlist uses SCMP_ACT_ERRNO)")
	case !validActions[p.DefaultAction]:
		errf("defaultAction %q is not a seccomp action (SCMP_ACT_ERRNO, SCMP_ACT_ALLOW, SCMP_ACT_KILL_PROCESS, ...)", p.DefaultAction)
	case p.DefaultAction == specs.ActNotify:
		errf("defaultAction SCMP_ACT_NOTIFY is refused by runc and crun (it would send every call to the agent); use it on rules")
	}
	if p.DefaultErrnoRet != nil && p.DefaultAction != specs.ActErrno && p.DefaultAction != specs.ActTrace {
		warnf("defaultErrnoRet %d is ignored with defaultAction %s", *p.DefaultErrnoRet, p.DefaultAction)
	}

	arches := p.Architectures
	seenArch := map[specs.Arch]bool{}
	for _, a := range p.Architectures {
		if _, err := scmpArch(a); err != nil {
			errf("architectures: %v (names look like SCMP_ARCH_X86_64)", err)
		}
		if seenArch[a] {
			warnf("architecture %s is listed twice", a)
		}
		seenArch[a] = true
	}
	if len(arches) == 0 {
		if native, err := nativeOCIArch(); err == nil {
			arches = []specs.Arch{native}
			r.Notes = append(r.Notes, fmt.Sprintf("no architectures listed: the filter covers only the native %s (calls of other ABIs, e.g. 32-bit, hit libseccomp's bad-architecture action: the thread is killed)", native))
		}
	}
	for _, f := range p.Flags {
		if !validFlags[f] {
			errf("flag %q is not one runc or crun accepts (SECCOMP_FILTER_FLAG_LOG, SECCOMP_FILTER_FLAG_SPEC_ALLOW, SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)", f)
		}
	}

	defErrno := errnoOf(p.DefaultErrnoRet)
	type use struct {
		rule int
		key  string // action, errno and arguments
	}
	uses := map[string][]use{}
	for i, rule := range p.Syscalls {
		n := i + 1
		label := fmt.Sprintf("rule %d (%s)", n, summarizeNames(rule.Names))
		if len(rule.Names) == 0 {
			errf("rule %d has no names", n)
		}
		switch {
		case rule.Action == "":
			errf("%s has no action", label)
		case !validActions[rule.Action]:
			errf("%s: action %q is not a seccomp action", label, rule.Action)
		case rule.Action == specs.ActNotify && p.ListenerPath == "":
			errf("%s: SCMP_ACT_NOTIFY needs listenerPath (the seccomp agent's socket); runc and crun refuse the profile", label)
		}
		isErrno := rule.Action == specs.ActErrno || rule.Action == specs.ActTrace
		if rule.ErrnoRet != nil && !isErrno {
			warnf("%s: errnoRet %d is ignored with %s", label, *rule.ErrnoRet, rule.Action)
		}
		if rule.Action == p.DefaultAction && (!isErrno || errnoOf(rule.ErrnoRet) == defErrno) {
			warnf("%s has the default action %s: it changes nothing (runc skips it; libseccomp refuses such rules)", label, rule.Action)
		}
		for _, a := range rule.Args {
			if _, ok := validOps[a.Op]; !ok {
				errf("%s: operator %q is not one of SCMP_CMP_NE, _LT, _LE, _EQ, _GE, _GT, _MASKED_EQ", label, a.Op)
			}
			if a.Index > 5 {
				errf("%s: argument index %d (a syscall has arguments 0 to 5)", label, a.Index)
			}
		}
		key := fmt.Sprintf("%s/%d/%v", rule.Action, errnoOf(rule.ErrnoRet), rule.Args)
		if !isErrno {
			key = fmt.Sprintf("%s/%v", rule.Action, rule.Args)
		}
		inRule := map[string]bool{}
		for _, name := range rule.Names {
			if name == "" {
				errf("rule %d has an empty name", n)
				continue
			}
			if inRule[name] {
				warnf("duplicate: %s is listed twice in rule %d", name, n)
				continue
			}
			inRule[name] = true
			uses[name] = append(uses[name], use{n, key})
		}
	}

	// Duplicates (same rule twice) and conflicts (different actions, no
	// argument conditions on either side) between rules.
	for _, name := range sortedKeys(uses) {
		us := uses[name]
		for i := 0; i < len(us); i++ {
			for j := i + 1; j < len(us); j++ {
				a, b := us[i], us[j]
				ra, rb := p.Syscalls[a.rule-1], p.Syscalls[b.rule-1]
				switch {
				case a.key == b.key:
					warnf("duplicate: %s is in rules %d and %d with the same action and arguments", name, a.rule, b.rule)
				case len(ra.Args) == 0 && len(rb.Args) == 0:
					errf("conflict: %s is %s in rule %d and %s in rule %d (the kernel applies the more severe; keep one)",
						name, actionText(ra), a.rule, actionText(rb), b.rule)
				}
			}
		}
	}

	// Every name against libseccomp's table, for every architecture.
	missing := map[specs.Arch][]string{}
	var newer []string
	for _, name := range sortedKeys(uses) {
		info := resolveName(name, arches)
		if !info.Known {
			r.Unknown = append(r.Unknown, name)
			rules := ruleList(uses[name], func(u use) int { return u.rule })
			switch {
			case newerThanLibseccomp(name):
				newer = append(newer, name)
			case allowUnknown:
				warnf("unknown syscall %s (%s): libseccomp %s has no such name; runc and crun skip it", name, rules, libseccompVersion())
			default:
				errf("unknown syscall %s (%s): libseccomp %s has no such name on any architecture (check the spelling; --allow-unknown if it is newer than libseccomp)", name, rules, libseccompVersion())
			}
			continue
		}
		for _, a := range info.Missing {
			missing[a] = append(missing[a], name)
		}
	}
	if len(newer) > 0 {
		warnf("%d syscalls are newer than libseccomp %s on this host, so runc and crun here leave them out of the filter (upgrade libseccomp to enforce them): %s",
			len(newer), libseccompVersion(), strings.Join(newer, " "))
	}
	for _, a := range arches {
		if m := missing[a]; len(m) > 0 {
			r.Notes = append(r.Notes, fmt.Sprintf("%d names do not exist on %s and are left out of its filter (normal for multi-architecture profiles): %s",
				len(m), a, summarizeNames(m)))
		}
	}

	// Compiled even when the checks failed, for the count; what libseccomp
	// refuses is an error of its own.
	c := compile(p)
	r.Errors = append(r.Errors, c.Errors...)
	r.Instructions = c.Instructions
	return r
}

func actionText(r specs.LinuxSyscall) string {
	if r.Action == specs.ActErrno || r.Action == specs.ActTrace {
		return fmt.Sprintf("%s(errno %d)", r.Action, errnoOf(r.ErrnoRet))
	}
	return string(r.Action)
}

// summarizeNames shows up to five names.
func summarizeNames(names []string) string {
	if len(names) <= 5 {
		return strings.Join(names, " ")
	}
	return fmt.Sprintf("%s ... %d more", strings.Join(names[:5], " "), len(names)-5)
}

func ruleList[T any](xs []T, rule func(T) int) string {
	var n []string
	for _, x := range xs {
		n = append(n, fmt.Sprint(rule(x)))
	}
	n = slices.Compact(n)
	if len(n) == 1 {
		return "rule " + n[0]
	}
	return "rules " + strings.Join(n, ", ")
}
