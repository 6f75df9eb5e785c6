package spec

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/secrun/secrun/profiles"
)

func TestSeccompDefault(t *testing.T) {
	c := load(t, dockerSpec)
	if _, err := policy(profiles.RuntimeDefault).ApplyConfig(c.Spec); err != nil {
		t.Fatal(err)
	}
	s := c.Spec.Linux.Seccomp
	for call, want := range map[string]bool{"getpid": true, "read": true, "keyctl": false, "unshare": false, "mount": false, "bpf": false, "ptrace": true} {
		if got := profiles.Permissive(profiles.Evaluate(s, call, [6]uint64{})); got != want {
			t.Errorf("%s allowed = %v, want %v", call, got, want)
		}
	}
	c = load(t, dockerSpec)
	if _, err := policy(profiles.Restricted).ApplyConfig(c.Spec); err != nil {
		t.Fatal(err)
	}
	s = c.Spec.Linux.Seccomp
	for call, want := range map[string]bool{"ptrace": false, "io_uring_setup": false, "userfaultfd": false, "process_vm_readv": false, "getpid": true} {
		if got := profiles.Permissive(profiles.Evaluate(s, call, [6]uint64{})); got != want {
			t.Errorf("restricted: %s allowed = %v, want %v", call, got, want)
		}
	}
	if profiles.Permissive(profiles.Evaluate(s, "personality", [6]uint64{8})) || !profiles.Permissive(profiles.Evaluate(s, "personality", [6]uint64{0xffffffff})) {
		t.Error("restricted: personality must allow only the query")
	}
}

// A crafted profile must not make a create slow (it took minutes before
// the limit): one rule with 20000 conditions on one argument is refused, a
// large but sane one merges.
func TestHugeProfileRefused(t *testing.T) {
	for _, tc := range []struct {
		n      int
		refuse bool
	}{{20000, true}, {1500, false}} {
		var args []specs.LinuxSeccompArg
		for i := range tc.n {
			args = append(args, specs.LinuxSeccompArg{Index: uint(i % 7), Value: uint64(i), Op: specs.OpEqualTo})
		}
		s := &specs.Spec{Process: &specs.Process{}, Linux: &specs.Linux{Seccomp: &specs.LinuxSeccomp{
			DefaultAction: specs.ActErrno,
			Syscalls:      []specs.LinuxSyscall{{Names: []string{"socket", "personality"}, Action: specs.ActAllow, Args: args}},
		}}}
		_, err := policy(profiles.RuntimeDefault).ApplyConfig(s)
		if tc.refuse != (err != nil && strings.Contains(err.Error(), "over secrun's limit")) {
			t.Errorf("%d conditions: err = %v, want refused: %v", tc.n, err, tc.refuse)
		}
	}
}

// Complain mode predicts enforcement: clone3's ENOSYS stays (glibc then
// falls back to clone, which the profile decides), every real denial is
// logged and allowed.
func TestComplainKeepsENOSYS(t *testing.T) {
	p := policy(profiles.RuntimeDefault)
	p.SeccompMode = "complain"
	s := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: profiles.StockCaps()}}}
	if _, err := (seccomp{p}).Modify(s); err != nil {
		t.Fatal(err)
	}
	c := s.Linux.Seccomp
	if got := profiles.Evaluate(c, "clone3", [6]uint64{}); got != specs.ActErrno {
		t.Errorf("clone3 under complain mode: %s, want its ENOSYS kept", got)
	}
	for _, r := range c.Syscalls {
		if r.Action == specs.ActErrno && !profiles.CompatErrno(r) {
			t.Errorf("a denial left in complain mode: %+v", r)
		}
	}
	for _, call := range []struct {
		name string
		arg  uint64
	}{{"keyctl", 0}, {"clone", 0x10000000}, {"mount", 0}} {
		if got := profiles.Evaluate(c, call.name, [6]uint64{call.arg}); got != specs.ActLog {
			t.Errorf("%s(%#x) under complain mode: %s, want SCMP_ACT_LOG", call.name, call.arg, got)
		}
	}
	if profiles.Evaluate(c, "clone", [6]uint64{0x3d0f00}) != specs.ActAllow {
		t.Error("threads: clone(CLONE_THREAD...) must stay allowed")
	}
}

// A profile whose actions are not OCI seccomp actions is refused, naming
// the field: merged, an unknown action would be ranked as a denial and the
// runtime would refuse the result with a less helpful message.
func TestUnknownActionRefused(t *testing.T) {
	for doc, field := range map[string]string{
		`{"process":{},"linux":{"seccomp":{"syscalls":[{}]}}}`:                                                                   "linux.seccomp.defaultAction",
		`{"process":{},"linux":{"seccomp":{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"allow"}]}}}`: "linux.seccomp.syscalls[0].action",
	} {
		c, err := ParseConfig("config.json", []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		_, err = policy(profiles.RuntimeDefault).ApplyConfig(c.Spec)
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: err = %v, want it to name %s", doc, err, field)
		}
	}
}
