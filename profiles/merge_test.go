package profiles

import (
	"math/rand"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func resolved(t testing.TB, level string, bounding []string) *specs.LinuxSeccomp {
	p, err := LevelNamed(level).Seccomp(bounding)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// probes are argument vectors that hit the argument rules of Docker's
// profile: personality values, clone namespace flags, socket families.
var probes = [][6]uint64{
	{}, {8}, {0x20000}, {0xffffffff}, {0x10000000}, {0x20000000}, {40}, {16, 3}, {2, 1, 0},
	{threadFlags}, {threadFlags | cloneNewUser}, {cloneThread}, {sigchld}, {cloneThread | cloneNewNS},
}

func universe(ps ...*specs.LinuxSeccomp) []string {
	seen := map[string]bool{"keyctl": true, "unshare": true, "mount": true, "clone3": true, "bpf": true}
	for _, p := range ps {
		for _, r := range p.Syscalls {
			for _, n := range r.Names {
				seen[n] = true
			}
		}
	}
	return slices.Sorted(func(yield func(string) bool) {
		for n := range seen {
			if !yield(n) {
				return
			}
		}
	})
}

func randomProfile(r *rand.Rand, names []string) *specs.LinuxSeccomp {
	actions := []specs.LinuxSeccompAction{specs.ActAllow, specs.ActAllow, specs.ActLog, specs.ActNotify, specs.ActErrno, specs.ActKillProcess}
	p := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno}
	if r.Intn(4) == 0 {
		p.DefaultAction = []specs.LinuxSeccompAction{specs.ActAllow, specs.ActLog}[r.Intn(2)]
	}
	for i := r.Intn(12); i >= 0; i-- {
		rule := specs.LinuxSyscall{Action: actions[r.Intn(len(actions))]}
		for j := r.Intn(40) + 1; j > 0; j-- {
			rule.Names = append(rule.Names, names[r.Intn(len(names))])
		}
		rule.Names = slices.Compact(slices.Sorted(slices.Values(rule.Names)))
		switch r.Intn(6) {
		case 0:
			rule.Args = []specs.LinuxSeccompArg{{Index: 0, Value: probes[r.Intn(len(probes))][0], Op: specs.OpEqualTo}}
		case 1:
			// Masked-equal conditions as recordings and Docker write them.
			masks := []uint64{cloneThread, 0x7E020000, cloneNewUser, 0x7E030000, 0xff}
			m := masks[r.Intn(len(masks))]
			rule.Args = []specs.LinuxSeccompArg{{Index: 0, Value: m, ValueTwo: m & probes[r.Intn(len(probes))][0], Op: specs.OpMaskedEqual}}
		}
		p.Syscalls = append(p.Syscalls, rule)
	}
	return p
}

// TestMergeNeverWeaker is the merge rule's property: whatever profile a spec
// brings, the result allows nothing the node default denies, and keeps
// everything the spec's own profile denies.
func TestMergeNeverWeaker(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for _, level := range LevelNames() {
		for _, bounding := range [][]string{BaselineCaps(), {"CAP_SYS_ADMIN"}, nil} {
			def := resolved(t, level, bounding)
			names := universe(def)
			for i := 0; i < 300; i++ {
				user := randomProfile(r, names)
				merged, _ := Merge(user, def)
				for _, n := range names {
					for _, a := range probes {
						m := Evaluate(merged, n, a)
						if Permissive(m) && !Permissive(Evaluate(def, n, a)) {
							t.Fatalf("%s: merge allows %s%v which the default denies\nuser: %+v", level, n, a, user)
						}
						if !Permissive(Evaluate(user, n, a)) && Permissive(m) {
							t.Fatalf("%s: merge allows %s%v which the spec's profile denied\nuser: %+v", level, n, a, user)
						}
						// clone's conditions (masked-equal, equal) always
						// intersect exactly: denied only where one denies.
						both := Permissive(Evaluate(user, n, a)) && Permissive(Evaluate(def, n, a))
						if n == "clone" && !Permissive(user.DefaultAction) && Permissive(m) != both {
							t.Fatalf("%s: merge gives %s for clone(%#x), want allowed=%v\nuser: %+v", level, m, a[0], both, user)
						}
					}
				}
			}
		}
	}
}

func TestMergeKeepsENOSYSForClone3(t *testing.T) {
	def := resolved(t, RuntimeDefault, BaselineCaps())
	user := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
		{Names: []string{"clone3", "read", "keyctl"}, Action: specs.ActAllow},
	}}
	merged, narrowed := Merge(user, def)
	if got := Evaluate(merged, "clone3", [6]uint64{}); got != specs.ActErrno {
		t.Fatalf("clone3 = %s", got)
	}
	var errno uint
	for _, rule := range merged.Syscalls {
		if slices.Contains(rule.Names, "clone3") && rule.ErrnoRet != nil {
			errno = *rule.ErrnoRet
		}
	}
	if errno != 38 {
		t.Errorf("clone3 errno = %d, want ENOSYS (38) so libc falls back to clone", errno)
	}
	if !Permissive(Evaluate(merged, "read", [6]uint64{})) {
		t.Error("read lost")
	}
	if !slices.Equal(narrowed, []string{"clone3", "keyctl"}) {
		t.Errorf("narrowed = %v", narrowed)
	}
}

func TestMergeOfDefaultIsDefault(t *testing.T) {
	for _, level := range LevelNames() {
		def := resolved(t, level, BaselineCaps())
		merged, narrowed := Merge(def, def)
		if len(narrowed) != 0 || !slices.EqualFunc(merged.Syscalls, def.Syscalls, func(a, b specs.LinuxSyscall) bool {
			return slices.Equal(a.Names, b.Names) && a.Action == b.Action && slices.Equal(a.Args, b.Args)
		}) {
			t.Errorf("%s: Merge(default, default) differs from the default (narrowed %v)", level, narrowed)
		}
	}
}

func TestDefaultDependsOnFinalCaps(t *testing.T) {
	without := resolved(t, RuntimeDefault, BaselineCaps())
	with := resolved(t, RuntimeDefault, append(slices.Clone(BaselineCaps()), "CAP_SYS_ADMIN"))
	if Permissive(Evaluate(without, "mount", [6]uint64{})) || !Permissive(Evaluate(with, "mount", [6]uint64{})) {
		t.Error("mount must follow CAP_SYS_ADMIN in the final bounding set")
	}
}
