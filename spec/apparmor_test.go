package spec

import (
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/secrun/secrun/profiles"
)

func TestAppArmor(t *testing.T) {
	var ensured []string
	p := policy(profiles.RuntimeDefault)
	p.AppArmor = AppArmorPolicy{Profile: "secrun-default", HostSupports: true, Ensure: func(n string) error { ensured = append(ensured, n); return nil }}
	c := load(t, dockerSpec)
	if _, err := p.ApplyConfig(c.Spec); err != nil {
		t.Fatal(err)
	}
	if len(ensured) != 0 {
		t.Fatalf("ApplyConfig (what explain runs) loaded %v into the host", ensured)
	}
	if err := p.HostEffects(c.Spec); err != nil {
		t.Fatal(err)
	}
	if c.Spec.Process.ApparmorProfile != "secrun-default" || !slices.Equal(ensured, []string{"secrun-default"}) {
		t.Errorf("profile %q, ensured %v", c.Spec.Process.ApparmorProfile, ensured)
	}
	c = load(t, strings.Replace(dockerSpec, `"cwd":"/"`, `"cwd":"/","apparmorProfile":"unconfined"`, 1))
	if _, err := p.ApplyConfig(c.Spec); err == nil || !strings.Contains(err.Error(), "unconfined") {
		t.Errorf("unconfined: %v", err)
	}
	proc := &specs.Process{ApparmorProfile: "unconfined"}
	if _, err := p.ApplyExec(proc, &specs.Process{ApparmorProfile: "secrun-default"}); err != nil || proc.ApparmorProfile != "secrun-default" {
		t.Errorf("exec profile %q, %v", proc.ApparmorProfile, err)
	}
	// No AppArmor on the host: left alone, or refused when required.
	p.AppArmor = AppArmorPolicy{Profile: "secrun-default"}
	c = load(t, dockerSpec)
	if _, err := p.ApplyConfig(c.Spec); err != nil || c.Spec.Process.ApparmorProfile != "" {
		t.Errorf("no-AppArmor host: %q %v", c.Spec.Process.ApparmorProfile, err)
	}
	p.AppArmor.Require = true
	if _, err := p.ApplyConfig(load(t, dockerSpec).Spec); err == nil || !strings.Contains(err.Error(), "require = true") {
		t.Errorf("require: %v", err)
	}
}
