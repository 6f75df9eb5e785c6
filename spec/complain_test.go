package spec

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/secrun/secrun/profiles"
)

// Complain mode predicts enforcement: clone3's ENOSYS stays (glibc then
// falls back to clone, which the profile decides), every real denial is
// logged and allowed.
func TestComplainKeepsENOSYS(t *testing.T) {
	p := policy(profiles.RuntimeDefault)
	p.SeccompMode = "complain"
	s := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: profiles.Stock}}}
	if _, err := p.seccompStep(s); err != nil {
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
