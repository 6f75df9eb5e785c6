package profiles

import (
	"math/rand"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Clone flags as glibc's pthread_create passes them, and namespace flags.
const (
	threadFlags  = 0x3d0f00 // CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|PARENT_SETTID|CHILD_CLEARTID
	cloneThread  = 0x10000
	cloneNewUser = 0x10000000
	cloneNewNS   = 0x20000
	sigchld      = 17 // fork: clone(SIGCHLD)
)

// TestCombineMaskedIsExact holds the masked-equal intersection to its
// definition on every value of the bits the conditions look at: 8-bit masks
// and values, all 256 arguments, plus bits above that neither constrains.
func TestCombineMaskedIsExact(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	for range 5000 {
		a := specs.LinuxSeccompArg{Value: uint64(r.Intn(256)), ValueTwo: uint64(r.Intn(256)), Op: specs.OpMaskedEqual}
		b := specs.LinuxSeccompArg{Value: uint64(r.Intn(256)), ValueTwo: uint64(r.Intn(256)), Op: specs.OpMaskedEqual}
		if r.Intn(2) == 0 { // mostly well-formed values, so non-empty results are common
			a.ValueTwo &= a.Value
			b.ValueTwo &= b.Value
		}
		c, ok := combine(a, b)
		for x := range uint64(256) {
			for _, high := range []uint64{0, 1 << 40} {
				v := [6]uint64{x | high}
				want := condMatch(a, v) && condMatch(b, v)
				got := ok && condMatch(c, v)
				if got != want {
					t.Fatalf("%+v AND %+v at %#x: combined %+v (ok %v) says %v, want %v", a, b, x|high, c, ok, got, want)
				}
			}
		}
	}
}

// TestCombineIsExactOrRefuses: for every pair of operators, a combined
// condition matches exactly where both do; where combine refuses, the pair is
// either empty or not one condition (then Merge leaves it denied and says so).
func TestCombineIsExactOrRefuses(t *testing.T) {
	ops := []specs.LinuxSeccompOperator{specs.OpEqualTo, specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual,
		specs.OpGreaterEqual, specs.OpGreaterThan, specs.OpMaskedEqual}
	vals := []uint64{0, 1, 2, 5, 7, ^uint64(0) - 1, ^uint64(0)}
	xs := []uint64{0, 1, 2, 3, 4, 5, 6, 7, 8, 1 << 33, ^uint64(0) - 1, ^uint64(0)}
	for _, o1 := range ops {
		for _, o2 := range ops {
			for _, v1 := range vals {
				for _, v2 := range vals {
					a := specs.LinuxSeccompArg{Op: o1, Value: v1, ValueTwo: v1 & 5}
					b := specs.LinuxSeccompArg{Op: o2, Value: v2, ValueTwo: v2 & 3}
					c, ok := combine(a, b)
					if !ok {
						continue
					}
					for _, x := range xs {
						v := [6]uint64{x}
						if condMatch(c, v) != (condMatch(a, v) && condMatch(b, v)) {
							t.Fatalf("%+v AND %+v at %#x: combined %+v is wrong", a, b, x, c)
						}
					}
				}
			}
		}
	}
}

// recordedThreadsOnly is what `secrun record` writes for a program that
// created threads with clone3 only: clone allowed for CLONE_THREAD.
func recordedThreadsOnly() *specs.LinuxSeccomp {
	return &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
		{Names: []string{"clone3", "read", "write", "exit"}, Action: specs.ActAllow},
		{Names: []string{"clone"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: cloneThread, ValueTwo: cloneThread, Op: specs.OpMaskedEqual}}},
	}}
}

// The issue: merging that recording with runtime-default dropped clone
// (Docker's clone rule is masked-equal too), so with clone3 -> ENOSYS every
// threaded glibc program failed, and explain did not say clone was narrowed.
func TestMergeRecordedCloneWithDefault(t *testing.T) {
	def := resolved(t, RuntimeDefault, BaselineCaps())
	merged, narrowed := Merge(recordedThreadsOnly(), def)
	for _, c := range []struct {
		flags uint64
		allow bool
	}{
		{threadFlags, true},
		{cloneThread, true},
		{threadFlags | cloneNewUser, false},
		{threadFlags | cloneNewNS, false},
		{cloneNewUser, false},
		{sigchld, false}, // the recording never allowed fork
	} {
		if got := Permissive(Evaluate(merged, "clone", [6]uint64{c.flags})); got != c.allow {
			t.Errorf("clone(%#x): allowed %v, want %v", c.flags, got, c.allow)
		}
	}
	if Permissive(Evaluate(merged, "clone3", [6]uint64{})) {
		t.Error("clone3 allowed: runtime-default answers it ENOSYS")
	}
	if !slices.Contains(narrowed, "clone") || !slices.Contains(narrowed, "clone3") {
		t.Errorf("narrowed = %v, want clone and clone3 in it", narrowed)
	}
	// A recording whose clone rule already excludes the namespaces is
	// not narrowed by Docker's.
	inside := recordedThreadsOnly()
	inside.Syscalls[1].Args[0] = specs.LinuxSeccompArg{Index: 0, Value: 0x7E030000, ValueTwo: cloneThread, Op: specs.OpMaskedEqual}
	if _, narrowed := Merge(inside, def); slices.Contains(narrowed, "clone") {
		t.Errorf("clone reported narrowed though Docker's rule allows all it allowed: %v", narrowed)
	}
}

// The node's architectures hold after a merge (issue #13): a spec's
// profile listing x86 and x32 does not bring them back when the node
// filters the native architecture only, and an empty list (native only)
// stays native only.
func TestMergeKeepsNodeArchitectures(t *testing.T) {
	def := resolved(t, RuntimeDefault, BaselineCaps())
	native := *def
	native.Architectures = def.Architectures[:1]
	user := recordedThreadsOnly()
	user.Architectures = slices.Clone(def.Architectures)
	for _, c := range []struct {
		user, def []specs.Arch
		want      []specs.Arch
	}{
		{def.Architectures, native.Architectures, native.Architectures},
		{nil, def.Architectures, native.Architectures},
		{def.Architectures, nil, nil},
		{[]specs.Arch{specs.ArchX86}, def.Architectures, []specs.Arch{def.Architectures[0], specs.ArchX86}},
	} {
		u, d := *user, *def
		u.Architectures, d.Architectures = c.user, c.def
		if m, _ := Merge(&u, &d); !slices.Equal(m.Architectures, c.want) {
			t.Errorf("Merge(%v, %v).Architectures = %v, want %v", c.user, c.def, m.Architectures, c.want)
		}
		u.DefaultAction = specs.ActAllow // a blocklist is rebuilt from def
		if m, _ := Merge(&u, &d); !slices.Equal(m.Architectures, c.want) {
			t.Errorf("blocklist Merge(%v, %v).Architectures = %v, want %v", c.user, c.def, m.Architectures, c.want)
		}
	}
}
