package record

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"

	"github.com/secrun/secrun/profiles/tool"
)

// x32Bit is __X32_SYSCALL_BIT: x32 calls carry it in their number.
const x32Bit = 0x40000000

// maxSyscallNr bounds the numbers asked about: every Linux architecture's
// table ends well below it.
const maxSyscallNr = 1024

// scmpArch converts an OCI architecture name (SCMP_ARCH_X86_64) to
// libseccomp's, the way runc does: drop the prefix, lower-case.
func scmpArch(a specs.Arch) (libseccomp.ScmpArch, error) {
	s, ok := strings.CutPrefix(string(a), "SCMP_ARCH_")
	if !ok {
		return libseccomp.ArchInvalid, fmt.Errorf("architecture %q does not start with SCMP_ARCH_", a)
	}
	arch, err := libseccomp.GetArchFromString(strings.ToLower(s))
	if err != nil {
		return libseccomp.ArchInvalid, fmt.Errorf("architecture %q is unknown to libseccomp", a)
	}
	return arch, nil
}

// hostArches is the native architecture and its compat ones, as the
// profile tool lists them (amd64: X86_64, X86, X32).
var hostArches = sync.OnceValues(tool.HostArches)

// namesOn returns every syscall name libseccomp knows on the architectures,
// found by asking it to name each number: the names a filter for them can
// use. x32 numbers are asked with the x32 bit.
func namesOn(arches []specs.Arch) ([]string, error) {
	seen := map[string]bool{}
	for _, a := range arches {
		arch, err := scmpArch(a)
		if err != nil {
			return nil, err
		}
		base := 0
		if arch == libseccomp.ArchX32 {
			base = x32Bit
		}
		for nr := 0; nr < maxSyscallNr; nr++ {
			if n, err := libseccomp.ScmpSyscall(base + nr).GetNameByArch(arch); err == nil {
				seen[n] = true
			}
		}
	}
	if len(seen) == 0 {
		return nil, fmt.Errorf("libseccomp names no syscall on %v", arches)
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	slices.Sort(out)
	return out, nil
}

// knownName reports whether libseccomp resolves name (on any architecture:
// a name missing on the native one resolves to a pseudo number).
func knownName(name string) bool {
	_, err := libseccomp.GetSyscallFromName(name)
	return err == nil
}

// nameOf names the call a notification reported: its number on its audit
// architecture. An unnamed number comes back as "arch:nr".
func nameOf(arch libseccomp.ScmpArch, nr libseccomp.ScmpSyscall) (string, bool) {
	if n, err := nr.GetNameByArch(arch); err == nil {
		return n, true
	}
	return fmt.Sprintf("%s:%d", arch, int32(nr)), false
}

// runtimeBase returns the syscalls runc and crun make after loading the
// filter (tool.RuntimeBase) that libseccomp knows, sorted.
func runtimeBase() []string {
	var out []string
	for _, g := range tool.RuntimeBase {
		for _, n := range g.Names {
			if knownName(n) {
				out = append(out, n)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// cloneFlagsArg is the index of clone's flags argument: the second on
// s390, the first elsewhere.
func cloneFlagsArg() uint {
	if runtime.GOARCH == "s390x" || runtime.GOARCH == "s390" {
		return 1
	}
	return 0
}
