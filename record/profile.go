package record

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/secrun/secrun/profiles/tool"
)

const (
	ePERM  = 1
	eNOSYS = 38
	// cloneThread is CLONE_THREAD.
	cloneThread = 0x00010000
)

// Output formats.
const (
	FormatOCI = "oci" // runtime-spec LinuxSeccomp JSON
	FormatSPO = "spo" // Security Profiles Operator SeccompProfile YAML
)

// runs reports whether a rule with action a lets the call run during the
// recording (NOTIFY answered with CONTINUE, or write's ALLOW) or under the
// base profile (ALLOW, LOG).
func runs(a specs.LinuxSeccompAction) bool {
	return a == specs.ActAllow || a == specs.ActLog || a == specs.ActNotify
}

// RecordingProfile returns the filter a container is recorded under.
//
// With no base profile, every syscall libseccomp knows on this host's
// architectures (native and compat) but write is SCMP_ACT_NOTIFY, write is
// allowed (runc refuses NOTIFY on it), and anything else (calls newer than
// libseccomp) gets ENOSYS.
//
// With a base profile (the one the policy or the bundle set), each rule that
// lets a call run (ALLOW, LOG) becomes NOTIFY with the same argument
// conditions, and every other rule and the default stay: the container can
// do nothing while recorded that the base profile denies. A base whose
// default lets calls run (a blocklist) is first turned into an allowlist of
// every known name it does not deny outright, with an ENOSYS default.
//
// ListenerPath is left for the caller to set.
func RecordingProfile(base *specs.LinuxSeccomp) (*specs.LinuxSeccomp, error) {
	enosys := uint(eNOSYS)
	if base == nil {
		arches, err := hostArches()
		if err != nil {
			return nil, err
		}
		names, err := namesOn(arches)
		if err != nil {
			return nil, err
		}
		return &specs.LinuxSeccomp{
			DefaultAction: specs.ActErrno, DefaultErrnoRet: &enosys, Architectures: arches,
			Syscalls: []specs.LinuxSyscall{
				{Names: without(names, "write"), Action: specs.ActNotify},
				{Names: []string{"write"}, Action: specs.ActAllow},
			},
		}, nil
	}
	if base.ListenerPath != "" {
		return nil, fmt.Errorf("the seccomp profile already has a listenerPath (%s): a seccomp agent handles this container, and a filter has one listener", base.ListenerPath)
	}
	for _, r := range base.Syscalls {
		if r.Action == specs.ActNotify {
			return nil, fmt.Errorf("the seccomp profile already uses SCMP_ACT_NOTIFY (for %s): a seccomp agent handles this container", strings.Join(r.Names, ", "))
		}
	}
	out := &specs.LinuxSeccomp{
		DefaultAction: base.DefaultAction, DefaultErrnoRet: base.DefaultErrnoRet,
		Architectures: slices.Clone(base.Architectures), Flags: slices.Clone(base.Flags),
	}
	if runs(base.DefaultAction) || base.DefaultAction == specs.ActTrace {
		return fromBlocklist(base, out)
	}
	for _, r := range base.Syscalls {
		if !runs(r.Action) {
			out.Syscalls = append(out.Syscalls, r)
			continue
		}
		if others := without(r.Names, "write"); len(others) > 0 {
			n := r
			n.Names, n.Action, n.ErrnoRet = others, specs.ActNotify, nil
			out.Syscalls = append(out.Syscalls, n)
		}
		if slices.Contains(r.Names, "write") {
			w := r
			w.Names = []string{"write"}
			out.Syscalls = append(out.Syscalls, w)
		}
	}
	return out, nil
}

// fromBlocklist records within a profile whose default lets calls run:
// NOTIFY for every known name it does not deny outright, its denials kept,
// ENOSYS for the rest.
func fromBlocklist(base, out *specs.LinuxSeccomp) (*specs.LinuxSeccomp, error) {
	arches := base.Architectures
	if len(arches) == 0 {
		a, err := hostArches()
		if err != nil {
			return nil, err
		}
		arches = a[:1] // a profile without architectures filters the native one only
	}
	names, err := namesOn(arches)
	if err != nil {
		return nil, err
	}
	denied := map[string]bool{}
	var denials []specs.LinuxSyscall
	for _, r := range base.Syscalls {
		if runs(r.Action) {
			continue // the default lets them run anyway
		}
		if len(r.Args) > 0 {
			return nil, fmt.Errorf("the seccomp profile's default action %s lets calls run and it denies %s only for some arguments: recording cannot keep that rule (write the profile as an allowlist, with an ERRNO default, or remove linux.seccomp to record without one)",
				base.DefaultAction, strings.Join(r.Names, ", "))
		}
		for _, n := range r.Names {
			denied[n] = true
		}
		denials = append(denials, r)
	}
	enosys := uint(eNOSYS)
	out.DefaultAction, out.DefaultErrnoRet = specs.ActErrno, &enosys
	notify := slices.DeleteFunc(names, func(n string) bool { return denied[n] || n == "write" })
	out.Syscalls = append(out.Syscalls, specs.LinuxSyscall{Names: notify, Action: specs.ActNotify})
	if !denied["write"] {
		out.Syscalls = append(out.Syscalls, specs.LinuxSyscall{Names: []string{"write"}, Action: specs.ActAllow})
	}
	out.Syscalls = append(out.Syscalls, denials...)
	return out, nil
}

// Result is a profile built from a recording, and where its names came from.
type Result struct {
	Profile *specs.LinuxSeccomp
	// Recorded lists the syscalls the recording saw. write is never among
	// them: it is allowed during the recording, not notified.
	Recorded []string
	// Runtime lists the names added because runc or crun call them after
	// loading the filter (tool.RuntimeBase), and write; not recorded.
	Runtime []string
	// Conditional lists the names allowed only for the argument values the
	// recording profile allowed them for.
	Conditional []string
	// Allowed is the number of distinct syscall names the profile lets run.
	Allowed int
}

// Build returns the profile that allows what was used (the names
// recorded), write, and what the runtimes call after loading the filter,
// each as far as the recording profile let it run: outright, or with the
// argument conditions it had. Denials of the recording profile that are not
// the plain default (clone3's ENOSYS) are carried over. The default is
// ERRNO(EPERM). When clone was not used, threads may still be created (the
// runtime's Go code may start one after the filter); when clone3 was not
// used, it answers ENOSYS so that libc falls back to clone.
func Build(rec *specs.LinuxSeccomp, used []string) *Result {
	res := &Result{}
	usedSet := map[string]bool{}
	for _, n := range used {
		usedSet[n] = true
	}
	want := map[string]bool{}
	for n := range usedSet {
		want[n] = true
	}
	for _, n := range append(runtimeBase(), "write") {
		if !want[n] {
			want[n] = true
			res.Runtime = append(res.Runtime, n)
		}
	}
	res.Recorded = sortedKeys(usedSet)
	slices.Sort(res.Runtime)

	outright := map[string]bool{}
	var conditional []specs.LinuxSyscall
	allowAs := func(name string, rules []specs.LinuxSyscall) {
		for _, r := range rules {
			conditional = append(conditional, specs.LinuxSyscall{Names: []string{name}, Action: specs.ActAllow, Args: r.Args})
		}
	}
	for _, name := range sortedKeys(want) {
		all, cond := howRuns(rec, name)
		switch {
		case all:
			outright[name] = true
		case len(cond) > 0:
			allowAs(name, cond)
			res.Conditional = append(res.Conditional, name)
		}
	}
	if !usedSet["clone"] {
		all, cond := howRuns(rec, "clone")
		if all {
			conditional = append(conditional, specs.LinuxSyscall{
				Names: []string{"clone"}, Action: specs.ActAllow,
				Args: []specs.LinuxSeccompArg{{Index: cloneFlagsArg(), Value: cloneThread, ValueTwo: cloneThread, Op: specs.OpMaskedEqual}},
			})
			res.Conditional = append(res.Conditional, "clone")
		} else if len(cond) > 0 {
			allowAs("clone", cond)
			res.Conditional = append(res.Conditional, "clone")
		}
	}
	eperm := uint(ePERM)
	p := &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno, DefaultErrnoRet: &eperm,
		Architectures: slices.Clone(rec.Architectures), Flags: slices.Clone(rec.Flags),
	}
	if len(outright) > 0 {
		p.Syscalls = append(p.Syscalls, specs.LinuxSyscall{Names: sortedKeys(outright), Action: specs.ActAllow})
	}
	p.Syscalls = append(p.Syscalls, groupRules(conditional)...)
	denies3 := false
	for _, r := range rec.Syscalls {
		if runs(r.Action) {
			continue
		}
		if r.Action == specs.ActErrno && errnoOf(r.ErrnoRet) == ePERM {
			continue // the default already
		}
		p.Syscalls = append(p.Syscalls, r)
		denies3 = denies3 || slices.Contains(r.Names, "clone3")
	}
	if !usedSet["clone3"] && !outright["clone3"] && !denies3 {
		enosys := uint(eNOSYS)
		p.Syscalls = append(p.Syscalls, specs.LinuxSyscall{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: &enosys})
	}
	res.Conditional = slices.Compact(sortedCopy(res.Conditional))
	res.Allowed = len(allowedNames(p))
	res.Profile = p
	return res
}

// howRuns says whether rec lets name run whatever its arguments (all), or
// which rules let it run for some arguments (cond).
func howRuns(rec *specs.LinuxSeccomp, name string) (all bool, cond []specs.LinuxSyscall) {
	found := false
	for _, r := range rec.Syscalls {
		if !slices.Contains(r.Names, name) || !runs(r.Action) {
			continue
		}
		found = true
		if len(r.Args) == 0 {
			return true, nil
		}
		cond = append(cond, r)
	}
	if !found && runs(rec.DefaultAction) {
		return true, nil
	}
	return false, cond
}

// allowedNames returns the names p lets run under some arguments.
func allowedNames(p *specs.LinuxSeccomp) []string {
	set := map[string]bool{}
	for _, r := range p.Syscalls {
		if runs(r.Action) {
			for _, n := range r.Names {
				set[n] = true
			}
		}
	}
	return sortedKeys(set)
}

// groupRules merges rules that differ only in their names.
func groupRules(rules []specs.LinuxSyscall) []specs.LinuxSyscall {
	var out []specs.LinuxSyscall
	index := map[string]int{}
	for _, r := range rules {
		names := r.Names
		r.Names = nil
		key, _ := json.Marshal(r)
		if i, ok := index[string(key)]; ok {
			out[i].Names = append(out[i].Names, names...)
			continue
		}
		index[string(key)] = len(out)
		r.Names = slices.Clone(names)
		out = append(out, r)
	}
	for i := range out {
		slices.Sort(out[i].Names)
		out[i].Names = slices.Compact(out[i].Names)
	}
	return out
}

func errnoOf(ret *uint) uint {
	if ret != nil {
		return *ret
	}
	return ePERM
}

// Encode writes a profile in format (FormatOCI or FormatSPO); name is the
// SeccompProfile's metadata.name for FormatSPO.
func Encode(p *specs.LinuxSeccomp, format, name string) ([]byte, error) {
	switch format {
	case FormatOCI, "":
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(p); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	case FormatSPO:
		return tool.ToSPO(p, name)
	}
	return nil, fmt.Errorf("unknown format %q (oci or spo)", format)
}

// FormatFor picks the format for an output path when none was asked for:
// .yaml and .yml are SeccompProfiles, anything else OCI JSON.
func FormatFor(path string) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml":
		return FormatSPO
	}
	return FormatOCI
}

func without(names []string, drop string) []string {
	return slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == drop })
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
