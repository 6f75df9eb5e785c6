package tool

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	mobyseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
)

// Everything that asks libseccomp something lives in this file: syscall
// names, architectures, actions, and compiling a profile to BPF.

// ociArches lists every architecture name the runtime spec defines. It maps
// them to libseccomp's tokens through libseccomp itself (GetArchFromString).
var ociArches = []specs.Arch{
	specs.ArchX86_64, specs.ArchX86, specs.ArchX32, specs.ArchAARCH64, specs.ArchARM,
	specs.ArchMIPS, specs.ArchMIPS64, specs.ArchMIPS64N32, specs.ArchMIPSEL,
	specs.ArchMIPSEL64, specs.ArchMIPSEL64N32, specs.ArchPPC, specs.ArchPPC64,
	specs.ArchPPC64LE, specs.ArchS390, specs.ArchS390X, specs.ArchPARISC,
	specs.ArchPARISC64, specs.ArchRISCV64, specs.ArchLOONGARCH64, specs.ArchM68K,
	specs.ArchSH, specs.ArchSHEB,
}

// libseccompVersion is "major.minor.micro" of the libseccomp linked in.
func libseccompVersion() string {
	a, b, c := libseccomp.GetLibraryVersion()
	return fmt.Sprintf("%d.%d.%d", a, b, c)
}

// scmpArch converts an OCI architecture name (SCMP_ARCH_X86_64) to
// libseccomp's token, the way runc does: drop the prefix, lower-case.
func scmpArch(a specs.Arch) (libseccomp.ScmpArch, error) {
	s := string(a)
	if !strings.HasPrefix(s, "SCMP_ARCH_") {
		return libseccomp.ArchInvalid, fmt.Errorf("architecture %q does not start with SCMP_ARCH_", s)
	}
	if s == "SCMP_ARCH_NATIVE" {
		return libseccomp.ArchNative, nil
	}
	arch, err := libseccomp.GetArchFromString(strings.ToLower(strings.TrimPrefix(s, "SCMP_ARCH_")))
	if err != nil {
		return libseccomp.ArchInvalid, fmt.Errorf("unknown architecture %q", s)
	}
	return arch, nil
}

// nativeOCIArch returns the OCI name of the architecture libseccomp reports
// as native for this kernel.
func nativeOCIArch() (specs.Arch, error) {
	native, err := libseccomp.GetNativeArch()
	if err != nil {
		return "", fmt.Errorf("libseccomp cannot tell the native architecture: %w", err)
	}
	for _, a := range ociArches {
		if s, err := scmpArch(a); err == nil && s == native {
			return a, nil
		}
	}
	return "", fmt.Errorf("libseccomp's native architecture %s has no OCI name", native)
}

// HostArches returns the native architecture and its compat
// sub-architectures (amd64: SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32),
// taken from the archMap of Docker's default profile.
func HostArches() ([]specs.Arch, error) {
	native, err := nativeOCIArch()
	if err != nil {
		return nil, err
	}
	for _, m := range mobyseccomp.DefaultProfile().ArchMap {
		if m.Arch == native {
			return append([]specs.Arch{native}, m.SubArches...), nil
		}
	}
	return []specs.Arch{native}, nil
}

// nameInfo is what libseccomp says about one syscall name.
type nameInfo struct {
	Known   bool         // libseccomp resolves it on at least one architecture checked
	Missing []specs.Arch // architectures where the syscall does not exist (pseudo number)
}

// resolveName asks libseccomp's table about name on each architecture.
// libseccomp knows every syscall of every architecture: on an architecture
// without it, the name resolves to a negative pseudo number.
func resolveName(name string, arches []specs.Arch) nameInfo {
	var info nameInfo
	for _, a := range arches {
		sa, err := scmpArch(a)
		if err != nil {
			continue
		}
		nr, err := libseccomp.GetSyscallFromNameByArch(name, sa)
		if err != nil {
			continue
		}
		info.Known = true
		if nr < 0 {
			info.Missing = append(info.Missing, a)
		}
	}
	if len(arches) == 0 {
		_, err := libseccomp.GetSyscallFromName(name)
		info.Known = err == nil
	}
	return info
}

// knownName reports whether libseccomp resolves name on the native
// architecture (which covers every architecture's names).
func knownName(name string) bool {
	_, err := libseccomp.GetSyscallFromName(name)
	return err == nil
}

// nativeNames returns every syscall name libseccomp knows that exists on the
// native architecture, found by asking it to name each number.
func nativeNames() []string {
	var out []string
	seen := map[string]bool{}
	for nr := 0; nr < 2048; nr++ {
		n, err := libseccomp.ScmpSyscall(nr).GetName()
		if err != nil || seen[n] {
			continue
		}
		seen[n] = true
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// nameFromNumber turns strace's placeholder for a syscall it cannot name
// (syscall_0x1c4, or syscall_452 in old versions) into libseccomp's name for
// that number on the native architecture.
func nameFromNumber(s string) (string, bool) {
	rest, ok := strings.CutPrefix(s, "syscall_")
	if !ok {
		return "", false
	}
	nr, err := strconv.ParseInt(rest, 0, 32)
	if err != nil || nr < 0 {
		return "", false
	}
	n, err := libseccomp.ScmpSyscall(nr).GetName()
	if err != nil {
		return "", false
	}
	return n, true
}

// dockerNames is every syscall name Docker's default profile lists, under
// any condition. A name there that this host's libseccomp does not know is a
// real syscall newer than the library, not a typo.
var dockerNames = sync.OnceValue(func() map[string]bool {
	m := map[string]bool{}
	for _, r := range mobyseccomp.DefaultProfile().Syscalls {
		for _, n := range r.Names {
			m[n] = true
		}
		if r.Name != "" {
			m[r.Name] = true
		}
	}
	return m
})

// newerThanLibseccomp reports whether name is a syscall this libseccomp does
// not know but Docker's default profile lists.
func newerThanLibseccomp(name string) bool {
	return !knownName(name) && dockerNames()[name]
}

var validActions = map[specs.LinuxSeccompAction]bool{
	specs.ActKill: true, specs.ActKillProcess: true, specs.ActKillThread: true,
	specs.ActTrap: true, specs.ActErrno: true, specs.ActTrace: true,
	specs.ActAllow: true, specs.ActLog: true, specs.ActNotify: true,
}

var validOps = map[specs.LinuxSeccompOperator]libseccomp.ScmpCompareOp{
	specs.OpNotEqual: libseccomp.CompareNotEqual, specs.OpLessThan: libseccomp.CompareLess,
	specs.OpLessEqual: libseccomp.CompareLessOrEqual, specs.OpEqualTo: libseccomp.CompareEqual,
	specs.OpGreaterEqual: libseccomp.CompareGreaterEqual, specs.OpGreaterThan: libseccomp.CompareGreater,
	specs.OpMaskedEqual: libseccomp.CompareMaskedEqual,
}

// validFlags are the seccomp(2) flags runc and crun accept in a profile.
var validFlags = map[specs.LinuxSeccompFlag]bool{
	"SECCOMP_FILTER_FLAG_TSYNC":            true,
	specs.LinuxSeccompFlagLog:              true,
	specs.LinuxSeccompFlagSpecAllow:        true,
	specs.LinuxSeccompFlagWaitKillableRecv: true,
}

const ePERM = 1

// errnoOf is the errno an ERRNO or TRACE action returns: errnoRet when
// set, else EPERM (what runc and crun use).
func errnoOf(ret *uint) uint {
	if ret != nil {
		return *ret
	}
	return ePERM
}

// scmpAction converts an OCI action and its errno to libseccomp's.
func scmpAction(a specs.LinuxSeccompAction, ret *uint) (libseccomp.ScmpAction, error) {
	switch a {
	case specs.ActKill, specs.ActKillThread:
		return libseccomp.ActKillThread, nil
	case specs.ActKillProcess:
		return libseccomp.ActKillProcess, nil
	case specs.ActTrap:
		return libseccomp.ActTrap, nil
	case specs.ActErrno:
		return libseccomp.ActErrno.SetReturnCode(int16(errnoOf(ret))), nil
	case specs.ActTrace:
		return libseccomp.ActTrace.SetReturnCode(int16(errnoOf(ret))), nil
	case specs.ActAllow:
		return libseccomp.ActAllow, nil
	case specs.ActLog:
		return libseccomp.ActLog, nil
	case specs.ActNotify:
		return libseccomp.ActNotify, nil
	}
	return libseccomp.ActInvalid, fmt.Errorf("unknown action %q", a)
}

// compileResult is what libseccomp made of a profile.
type compileResult struct {
	Instructions int      // BPF instructions (8 bytes each)
	Errors       []string // what libseccomp refused
}

// compile builds the profile into a libseccomp filter the way runc does
// (architectures added to the native one; rules whose action is the
// default skipped; a rule with several conditions on one argument split into
// one rule per condition; names libseccomp does not know skipped) and
// exports the BPF program to count its instructions. Nothing is loaded.
func compile(p *specs.LinuxSeccomp) compileResult {
	var res compileResult
	fail := func(format string, a ...any) { res.Errors = append(res.Errors, fmt.Sprintf(format, a...)) }
	def, err := scmpAction(p.DefaultAction, p.DefaultErrnoRet)
	if err != nil {
		fail("defaultAction: %v", err)
		return res
	}
	filter, err := libseccomp.NewFilter(def)
	if err != nil {
		fail("libseccomp cannot create a filter with defaultAction %s: %v", p.DefaultAction, err)
		return res
	}
	defer filter.Release()
	for _, a := range p.Architectures {
		sa, err := scmpArch(a)
		if err != nil {
			fail("%v", err)
			continue
		}
		if err := filter.AddArch(sa); err != nil {
			fail("libseccomp %s cannot build a filter for %s: %v (remove it from architectures, or upgrade libseccomp)", libseccompVersion(), a, err)
		}
	}
	for i, r := range p.Syscalls {
		act, err := scmpAction(r.Action, r.ErrnoRet)
		if err != nil || act == def {
			continue // reported by the checks; runc skips rules with the default action
		}
		conds, err := conditions(r.Args)
		if err != nil {
			fail("rule %d: %v", i+1, err)
			continue
		}
		for _, name := range r.Names {
			nr, err := libseccomp.GetSyscallFromName(name)
			if err != nil {
				continue // unknown names are reported by the checks; runc skips them
			}
			for _, c := range conds {
				if len(c) == 0 {
					err = filter.AddRule(nr, act)
				} else {
					err = filter.AddRuleConditional(nr, act, c)
				}
				if err != nil {
					fail("rule %d: libseccomp refused %s (%s): %v", i+1, name, r.Action, err)
					break
				}
			}
		}
	}
	f, err := os.CreateTemp("", "secrun-bpf-")
	if err != nil {
		fail("temporary file for the BPF program: %v", err)
		return res
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if err := filter.ExportBPF(f); err != nil {
		fail("libseccomp could not export the filter as BPF: %v", err)
		return res
	}
	st, err := f.Stat()
	if err != nil {
		fail("%v", err)
		return res
	}
	res.Instructions = int(st.Size() / 8) // struct sock_filter is 8 bytes
	return res
}

// conditions turns a rule's argument conditions into the libseccomp rules
// runc adds: one rule with every condition (ANDed), or, when one argument
// has several conditions, one rule per condition. No conditions is one rule
// without any.
func conditions(args []specs.LinuxSeccompArg) ([][]libseccomp.ScmpCondition, error) {
	if len(args) == 0 {
		return [][]libseccomp.ScmpCondition{nil}, nil
	}
	var all []libseccomp.ScmpCondition
	perIndex := map[uint]int{}
	repeated := false
	for _, a := range args {
		op, ok := validOps[a.Op]
		if !ok {
			return nil, fmt.Errorf("unknown operator %q", a.Op)
		}
		if a.Index > 5 {
			return nil, fmt.Errorf("argument index %d (a syscall has arguments 0 to 5)", a.Index)
		}
		var c libseccomp.ScmpCondition
		var err error
		if a.Op == specs.OpMaskedEqual {
			c, err = libseccomp.MakeCondition(a.Index, op, a.Value, a.ValueTwo)
		} else {
			c, err = libseccomp.MakeCondition(a.Index, op, a.Value)
		}
		if err != nil {
			return nil, err
		}
		all = append(all, c)
		perIndex[a.Index]++
		repeated = repeated || perIndex[a.Index] > 1
	}
	if !repeated {
		return [][]libseccomp.ScmpCondition{all}, nil
	}
	out := make([][]libseccomp.ScmpCondition, len(all))
	for i, c := range all {
		out[i] = []libseccomp.ScmpCondition{c}
	}
	return out, nil
}

// UnknownNames returns the names in p that this libseccomp does not know
// and that are not newer syscalls Docker's profile lists: typos. runc drops
// such names silently, so `secrun check` reports them.
func UnknownNames(p *specs.LinuxSeccomp) []string {
	var out []string
	for _, r := range p.Syscalls {
		for _, n := range r.Names {
			if !knownName(n) && !newerThanLibseccomp(n) && !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	return out
}
