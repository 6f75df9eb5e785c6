package profiles

import (
	"encoding/json"
	"math/rand"
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// normalizeByMerge is Normalize's definition: the split profile merged with
// itself.
func normalizeByMerge(p *specs.LinuxSeccomp) *specs.LinuxSeccomp {
	q := split(p)
	m, _ := Merge(&q, &q)
	return m
}

// sameRules compares rule lists ignoring nil versus empty slices.
func sameRules(a, b *specs.LinuxSeccomp) bool {
	return string(asJSON(a)) == string(asJSON(b))
}

func TestNormalizeIsSelfMerge(t *testing.T) {
	for _, level := range LevelNames() {
		for _, caps := range [][]string{nil, StockCaps(), BaselineCaps(), AllCaps()} {
			p, err := LevelNamed(level).Seccomp(caps)
			if err != nil {
				t.Fatal(err)
			}
			// p is Normalize's output; normalise Docker's raw profile too.
			if got, want := Normalize(p), normalizeByMerge(p); !sameRules(got, want) {
				t.Fatalf("%s %v: Normalize differs from the self-merge", level, caps)
			}
		}
	}
	r := rand.New(rand.NewSource(7))
	names := []string{"read", "socket", "personality", "clone", "keyctl", "mount"}
	ops := []specs.LinuxSeccompOperator{specs.OpEqualTo, specs.OpNotEqual, specs.OpGreaterThan, specs.OpLessEqual, specs.OpMaskedEqual}
	actions := []specs.LinuxSeccompAction{specs.ActAllow, specs.ActLog, specs.ActErrno, specs.ActNotify, specs.ActKillProcess}
	for i := range 20000 {
		p := &specs.LinuxSeccomp{DefaultAction: actions[r.Intn(len(actions))]}
		for range r.Intn(8) {
			rule := specs.LinuxSyscall{Action: actions[r.Intn(len(actions))]}
			for range r.Intn(4) {
				rule.Names = append(rule.Names, names[r.Intn(len(names))])
			}
			for range r.Intn(4) {
				rule.Args = append(rule.Args, specs.LinuxSeccompArg{Index: uint(r.Intn(3)), Value: uint64(r.Intn(4)), ValueTwo: uint64(r.Intn(2)), Op: ops[r.Intn(len(ops))]})
			}
			if r.Intn(5) == 0 {
				e := uint(r.Intn(3))
				rule.ErrnoRet = &e
			}
			p.Syscalls = append(p.Syscalls, rule)
		}
		got, want := Normalize(p), normalizeByMerge(p)
		if !sameRules(got, want) {
			t.Fatalf("case %d: %s\n got %s\nwant %s", i, asJSON(p), asJSON(got), asJSON(want))
		}
		if !reflect.DeepEqual(got.Architectures, want.Architectures) || !reflect.DeepEqual(got.Flags, want.Flags) {
			t.Fatalf("case %d: header fields differ", i)
		}
	}
}

func asJSON(p *specs.LinuxSeccomp) string {
	b, _ := json.Marshal(p)
	return string(b)
}
