package profiles

import (
	"runtime"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// nativeArch is libseccomp's name for the architecture this binary runs
// on: the one a filter always covers, listed or not.
var nativeArch = map[string]specs.Arch{
	"amd64": specs.ArchX86_64, "386": specs.ArchX86, "arm64": specs.ArchAARCH64, "arm": specs.ArchARM,
	"ppc64le": specs.ArchPPC64LE, "s390x": specs.ArchS390X, "riscv64": specs.ArchRISCV64,
	"mips64le": specs.ArchMIPSEL64, "loong64": "SCMP_ARCH_LOONGARCH64",
}[runtime.GOARCH]

// mergeArches returns the architectures both profiles filter: runc and crun
// add the listed ones to libseccomp's filter, which always has the native
// one, so an empty list means the native architecture only. The result
// keeps def's order, so the node's choice (architectures = "native") holds
// whatever the spec's profile lists.
func mergeArches(user, def []specs.Arch) []specs.Arch {
	has := func(list []specs.Arch, a specs.Arch) bool {
		return slices.Contains(list, a) || a == nativeArch && nativeArch != ""
	}
	var out []specs.Arch
	for _, a := range def {
		if has(user, a) {
			out = append(out, a)
		}
	}
	return out
}
