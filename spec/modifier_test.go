package spec

import (
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/secrun/secrun/profiles"
)

// The order is part of the policy: seccomp is resolved for the bounding set
// the capabilities step left (Docker's profile allows settimeofday only with
// CAP_SYS_TIME), and Pod Security judges the final spec.
func TestModifierOrder(t *testing.T) {
	p := policy(profiles.RuntimeDefault)
	p.OnViolation = "drop"
	s := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{
		Bounding: []string{"CAP_SYS_TIME", "CAP_KILL"}, Effective: []string{"CAP_SYS_TIME"},
	}}}
	if _, err := p.ApplyConfig(s); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(s.Process.Capabilities.Bounding, "CAP_SYS_TIME") {
		t.Fatal("CAP_SYS_TIME kept")
	}
	if profiles.Permissive(profiles.Evaluate(s.Linux.Seccomp, "settimeofday", [6]uint64{})) {
		t.Error("seccomp allows settimeofday: it was resolved for the bounding set before the capabilities step")
	}
	var steps []string
	for _, m := range p.Modifiers() {
		steps = append(steps, stepName(m))
	}
	want := []string{"annotations", "capabilities", "noNewPrivileges", "seccomp", "apparmor", "podSecurity", "mark"}
	if !slices.Equal(steps, want) {
		t.Errorf("modifiers %v, want %v", steps, want)
	}
}

func stepName(m Modifier) string {
	switch m.(type) {
	case annotations:
		return "annotations"
	case capabilities:
		return "capabilities"
	case noNewPrivileges:
		return "noNewPrivileges"
	case seccomp:
		return "seccomp"
	case apparmor:
		return "apparmor"
	case podSecurity:
		return "podSecurity"
	case mark:
		return "mark"
	}
	return "?"
}

func TestNoNewPrivileges(t *testing.T) {
	p := policy(profiles.RuntimeDefault)
	s := &specs.Spec{Process: &specs.Process{}}
	if c, _ := (noNewPrivileges{p}).Modify(s); !s.Process.NoNewPrivileges || len(c) != 1 || c[0].Kind != Changed {
		t.Errorf("not set: %v", c)
	}
	if c, _ := (noNewPrivileges{p}).Modify(s); len(c) != 0 {
		t.Errorf("second pass changed: %v", c)
	}
	p.NoNewPrivileges = false
	s.Process.NoNewPrivileges = false
	if (noNewPrivileges{p}).Modify(s); s.Process.NoNewPrivileges {
		t.Error("set with no_new_privileges = false")
	}
}

func TestMark(t *testing.T) {
	p := policy(profiles.RuntimeDefault)
	s := &specs.Spec{Process: &specs.Process{}}
	(mark{p}).Modify(s)
	if s.Annotations[AnnPolicy] != p.SeccompName+"/"+p.SeccompMode {
		t.Errorf("annotation %q", s.Annotations[AnnPolicy])
	}
}

// Exec confinement is the same kind of list applied to a process.
func TestExecModifiers(t *testing.T) {
	p := policy(profiles.RuntimeDefault)
	container := &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: []string{"CAP_KILL"}, Effective: []string{"CAP_KILL"}}}
	proc := &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: profiles.StockCaps(), Effective: profiles.StockCaps()}}
	if _, err := p.ApplyExec(proc, container); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(proc.Capabilities.Effective, []string{"CAP_KILL"}) || !proc.NoNewPrivileges {
		t.Errorf("exec process: caps %v, noNewPrivileges %v", proc.Capabilities.Effective, proc.NoNewPrivileges)
	}
}
