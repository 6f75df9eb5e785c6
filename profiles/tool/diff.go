package tool

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/secrun/secrun/profiles"
)

func diff(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("diff", stderr)
	var caps capsFlag
	fs.Var(&caps, "caps", "bounding `LIST` Docker-format includes/excludes are resolved for (default: the 14 stock capabilities)")
	files, err := ParseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	} else if err != nil {
		return 2
	}
	if len(files) != 2 {
		return usageError(stderr, "diff", "give exactly two profiles (got %d)", len(files))
	}
	opt := loadOptions{Caps: caps.or(profiles.StockCaps())}
	var ps [2]*Profile
	for i, f := range files {
		if lvl, ok := profiles.LookupLevel(f); ok && !exists(f) {
			// A built-in level by name, resolved for --caps.
			s, err := lvl.Seccomp(opt.Caps)
			if err != nil {
				fmt.Fprintf(stderr, "secrun profile diff: %v\n", err)
				return 1
			}
			ps[i] = &Profile{Path: f, Format: "level", Seccomp: s}
			continue
		}
		if ps[i], err = loadFile(f, opt); err != nil {
			fmt.Fprintf(stderr, "secrun profile diff: %v\n", err)
			return 1
		}
	}
	for _, p := range ps {
		for _, n := range p.Notes {
			fmt.Fprintf(stderr, "secrun profile diff: %s: warning: %s\n", p.Path, n)
		}
	}
	writeDiff(stdout, ps[0], ps[1])
	return 0
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// looser lists the names a allows for some arguments where b denies them,
// for some or all of those arguments: what a adds to b. For two allowlists
// it is what merging a into b narrows (profiles.Merge); otherwise every name
// whose status differs in a's favour or whose argument rules differ.
func looser(a, b *specs.LinuxSeccomp, d profileDiff, aIsA bool) []string {
	if !profiles.Permissive(a.DefaultAction) && !profiles.Permissive(b.DefaultAction) {
		_, narrowed := profiles.Merge(a, b)
		return narrowed
	}
	var out []string
	if aIsA {
		out = slices.Concat(d.OnlyA, d.AOutrightBConditional, d.AConditionalBDenied, d.BothConditionalDiffers)
	} else {
		out = slices.Concat(d.OnlyB, d.BOutrightAConditional, d.BConditionalADenied, d.BothConditionalDiffers)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// profileDiff is what two profiles allow differently.
type profileDiff struct {
	OnlyA, OnlyB           []string // allowed outright by one, denied by the other
	AOutrightBConditional  []string
	BOutrightAConditional  []string
	AConditionalBDenied    []string
	BConditionalADenied    []string
	BothConditionalDiffers []string
}

// diffProfiles compares what a and b let run, name by name. Names neither
// mentions follow the default actions; when one default lets calls run,
// every syscall libseccomp knows on this architecture is compared.
func diffProfiles(a, b *specs.LinuxSeccomp) profileDiff {
	sa, sb := classify(a), classify(b)
	universe := map[string]bool{}
	for n := range sa {
		universe[n] = true
	}
	for n := range sb {
		universe[n] = true
	}
	if profiles.Permissive(a.DefaultAction) != profiles.Permissive(b.DefaultAction) {
		for _, n := range nativeNames() {
			universe[n] = true
		}
	}
	var d profileDiff
	for _, n := range sortedKeys(universe) {
		x, y := statusOf(a, sa, n), statusOf(b, sb, n)
		switch {
		case x == y && x != Conditional:
		case x == Allowed && y == Denied:
			d.OnlyA = append(d.OnlyA, n)
		case y == Allowed && x == Denied:
			d.OnlyB = append(d.OnlyB, n)
		case x == Allowed && y == Conditional:
			d.AOutrightBConditional = append(d.AOutrightBConditional, n)
		case y == Allowed && x == Conditional:
			d.BOutrightAConditional = append(d.BOutrightAConditional, n)
		case x == Conditional && y == Denied:
			d.AConditionalBDenied = append(d.AConditionalBDenied, n)
		case y == Conditional && x == Denied:
			d.BConditionalADenied = append(d.BConditionalADenied, n)
		case x == Conditional && y == Conditional:
			if !slices.EqualFunc(rulesFor(a, n), rulesFor(b, n), sameRule) {
				d.BothConditionalDiffers = append(d.BothConditionalDiffers, n)
			}
		}
	}
	return d
}

// rulesFor returns the rules that name name, each reduced to that name.
func rulesFor(p *specs.LinuxSeccomp, name string) []specs.LinuxSyscall {
	var out []specs.LinuxSyscall
	for _, r := range p.Syscalls {
		if slices.Contains(r.Names, name) {
			r.Names = []string{name}
			out = append(out, r)
		}
	}
	return out
}

func sameRule(x, y specs.LinuxSyscall) bool {
	return slices.Equal(x.Names, y.Names) && x.Action == y.Action &&
		errnoOf(x.ErrnoRet) == errnoOf(y.ErrnoRet) && slices.Equal(x.Args, y.Args)
}

func writeDiff(w io.Writer, a, b *Profile) {
	fmt.Fprintf(w, "A: %s (%s): %s\n", a.Path, a.Format, describe(a.Seccomp))
	fmt.Fprintf(w, "B: %s (%s): %s\n", b.Path, b.Format, describe(b.Seccomp))
	if a.Seccomp.DefaultAction != b.Seccomp.DefaultAction {
		fmt.Fprintf(w, "defaultAction differs: A %s, B %s\n", a.Seccomp.DefaultAction, b.Seccomp.DefaultAction)
	}
	if profiles.Permissive(a.Seccomp.DefaultAction) != profiles.Permissive(b.Seccomp.DefaultAction) {
		fmt.Fprintln(w, "(one default lets calls run: every syscall libseccomp knows on this architecture is compared)")
	}
	d := diffProfiles(a.Seccomp, b.Seccomp)
	section := func(title string, names []string) {
		fmt.Fprintf(w, "%s (%d):\n", title, len(names))
		wrapNames(w, names)
	}
	section("allowed by A, denied by B", d.OnlyA)
	section("allowed by B, denied by A", d.OnlyB)
	fmt.Fprintln(w, "conditional (argument rules):")
	section("  allowed outright by A, only for some arguments by B", d.AOutrightBConditional)
	section("  allowed outright by B, only for some arguments by A", d.BOutrightAConditional)
	section("  allowed for some arguments by A, denied by B", d.AConditionalBDenied)
	section("  allowed for some arguments by B, denied by A", d.BConditionalADenied)
	section("  argument rules in both, not the same", d.BothConditionalDiffers)
	// What each allows that the other denies, argument values included:
	// against runtime-default, a profile that is looser than the default.
	for _, x := range []struct {
		this, other *Profile
		isA         bool
		label       string
	}{{a, b, true, "A"}, {b, a, false, "B"}} {
		names := looser(x.this.Seccomp, x.other.Seccomp, d, x.isA)
		if len(names) == 0 {
			continue
		}
		title := fmt.Sprintf("LOOSER: %s allows what %s denies (for some or all arguments)", x.label, map[bool]string{true: "B", false: "A"}[x.isA])
		if x.other.Path == profiles.RuntimeDefault {
			title = fmt.Sprintf("LOOSER than runtime-default: %s allows what runtime-default denies (for some or all arguments); secrun uses a profile file merged with runtime-default, so these are narrowed", x.label)
		}
		section(title, names)
	}
	same := len(d.OnlyA)+len(d.OnlyB)+len(d.AOutrightBConditional)+len(d.BOutrightAConditional)+
		len(d.AConditionalBDenied)+len(d.BConditionalADenied)+len(d.BothConditionalDiffers) == 0
	if same {
		fmt.Fprintln(w, "A and B allow the same syscalls")
	}
}
