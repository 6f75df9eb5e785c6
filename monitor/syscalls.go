package monitor

import (
	"fmt"
	"strconv"

	"github.com/elastic/go-libaudit/v2/auparse"
	libseccomp "github.com/seccomp/libseccomp-golang"
)

// auditArch is what an AUDIT_ARCH_* value means: the OCI architecture name
// (as profiles spell it) and libseccomp's name for it.
type auditArch struct{ oci, scmp string }

// auditArches maps AUDIT_ARCH_* (EM_* | 64-bit 0x80000000 | little-endian
// 0x40000000, include/uapi/linux/audit.h) to architectures. libseccomp
// defines its SCMP_ARCH_* tokens as these same values.
var auditArches = map[uint32]auditArch{
	0xc000003e: {"SCMP_ARCH_X86_64", "amd64"},
	0x40000003: {"SCMP_ARCH_X86", "x86"},
	0xc00000b7: {"SCMP_ARCH_AARCH64", "arm64"},
	0x40000028: {"SCMP_ARCH_ARM", "arm"},
	0x00000008: {"SCMP_ARCH_MIPS", "mips"},
	0x40000008: {"SCMP_ARCH_MIPSEL", "mipsel"},
	0x80000008: {"SCMP_ARCH_MIPS64", "mips64"},
	0xa0000008: {"SCMP_ARCH_MIPS64N32", "mips64n32"},
	0xc0000008: {"SCMP_ARCH_MIPSEL64", "mipsel64"},
	0xe0000008: {"SCMP_ARCH_MIPSEL64N32", "mipsel64n32"},
	0x00000014: {"SCMP_ARCH_PPC", "ppc"},
	0x80000015: {"SCMP_ARCH_PPC64", "ppc64"},
	0xc0000015: {"SCMP_ARCH_PPC64LE", "ppc64le"},
	0x00000016: {"SCMP_ARCH_S390", "s390"},
	0x80000016: {"SCMP_ARCH_S390X", "s390x"},
	0x0000000f: {"SCMP_ARCH_PARISC", "parisc"},
	0x8000000f: {"SCMP_ARCH_PARISC64", "parisc64"},
	0xc00000f3: {"SCMP_ARCH_RISCV64", "riscv64"},
	0xc0000102: {"SCMP_ARCH_LOONGARCH64", "loong64"},
	0x00000004: {"SCMP_ARCH_M68K", "m68k"},
	0x4000002a: {"SCMP_ARCH_SH", "sh"},
	0x0000002a: {"SCMP_ARCH_SHEB", "sheb"},
}

// x32Bit marks an x32 system call: x32 processes report AUDIT_ARCH_X86_64
// with this bit set in the syscall number.
const x32Bit = 0x40000000

// ArchName returns the OCI architecture name of an AUDIT_ARCH_* value and
// of a syscall number reported with it (x32 calls carry x32Bit).
func ArchName(auditArch uint32, nr int64) string {
	a, ok := auditArches[auditArch]
	if !ok {
		return fmt.Sprintf("audit_arch_%#x", auditArch)
	}
	if auditArch == 0xc000003e && nr&x32Bit != 0 {
		return "SCMP_ARCH_X32"
	}
	return a.oci
}

type nameKey struct {
	arch uint32
	nr   int64
}

// syscallTable names syscall numbers with libseccomp (the names profiles
// use) and finds the numbers behind auparse's names, caching both. It is
// owned by one goroutine (the monitor's processor).
type syscallTable struct {
	names   map[nameKey]string
	numbers map[string]map[string]int64 // auparse's architecture name -> syscall name -> number
}

func newSyscallTable() *syscallTable {
	return &syscallTable{names: map[nameKey]string{}, numbers: map[string]map[string]int64{}}
}

// Name resolves a syscall number for an AUDIT_ARCH_* value with
// libseccomp. ok is false when libseccomp does not know the architecture
// or the number (the caller reports the number alone).
func (t *syscallTable) Name(auditArch uint32, nr int64) (string, bool) {
	k := nameKey{auditArch, nr}
	if n, ok := t.names[k]; ok {
		return n, n != ""
	}
	if len(t.names) >= 1<<16 {
		clear(t.names) // numbers out of range, from a hostile process
	}
	n := resolveName(auditArch, nr)
	t.names[k] = n
	return n, n != ""
}

// number returns the syscall number of an auparse syscall= value: the
// number itself when auparse's table for the architecture lacks it, else
// the name auparse put in its place.
func (t *syscallTable) number(arch, value string) (int64, error) {
	if n, err := strconv.ParseInt(value, 10, 64); err == nil {
		return n, nil
	}
	byName, ok := t.numbers[arch]
	if !ok {
		byName = map[string]int64{}
		for nr, name := range auparse.AuditSyscalls[arch] {
			byName[name] = int64(nr)
		}
		t.numbers[arch] = byName
	}
	if n, ok := byName[value]; ok {
		return n, nil
	}
	return 0, fmt.Errorf("no syscall %q on %s", value, arch)
}
func resolveName(auditArch uint32, nr int64) string {
	a, ok := auditArches[auditArch]
	if !ok || nr < 0 {
		return ""
	}
	scmp := a.scmp
	if auditArch == 0xc000003e && nr&x32Bit != 0 {
		scmp = "x32"
	}
	arch, err := libseccomp.GetArchFromString(scmp)
	if err != nil {
		return ""
	}
	name, err := libseccomp.ScmpSyscall(nr).GetNameByArch(arch)
	if err != nil {
		return ""
	}
	return name
}
