package spec

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/secrun/secrun/profiles"
)

func TestCapabilities(t *testing.T) {
	t.Run("stock NET_RAW dropped quietly", func(t *testing.T) {
		c := load(t, dockerSpec)
		if _, err := policy(profiles.RuntimeDefault).ApplyConfig(c.Spec); err != nil {
			t.Fatal(err)
		}
		want := profiles.BaselineCaps()
		for _, set := range [][]string{caps(c.Spec).Bounding, caps(c.Spec).Effective, caps(c.Spec).Permitted} {
			got := slices.Sorted(slices.Values(set))
			if !slices.Equal(got, want) {
				t.Errorf("set = %v, want %v", got, want)
			}
		}
	})
	t.Run("restricted keeps NET_BIND_SERVICE only", func(t *testing.T) {
		c := load(t, dockerSpec)
		if _, err := policy(profiles.Restricted).ApplyConfig(c.Spec); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(caps(c.Spec).Bounding, []string{"CAP_NET_BIND_SERVICE"}) {
			t.Errorf("bounding = %v", caps(c.Spec).Bounding)
		}
	})
	for _, tc := range []struct {
		extra, onViolation, wantErr string
	}{
		{"CAP_SYS_ADMIN", "refuse", "looks privileged"},
		{"CAP_SYS_ADMIN", "drop", "looks privileged"},
		{"CAP_NET_ADMIN", "refuse", "CAP_NET_ADMIN is not allowed"},
		{"CAP_NET_ADMIN", "drop", ""},
		{"CAP_BOGUS", "drop", "unknown capability \"CAP_BOGUS\""},
	} {
		t.Run(tc.extra+"/"+tc.onViolation, func(t *testing.T) {
			c := load(t, strings.Replace(dockerSpec, `"bounding":STOCK`, `"bounding":["`+tc.extra+`"]`, 1))
			p := policy(profiles.RuntimeDefault)
			p.OnViolation = tc.onViolation
			_, err := p.ApplyConfig(c.Spec)
			var pe *Error
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatal(err)
			case tc.wantErr == "" && slices.Contains(caps(c.Spec).Bounding, tc.extra):
				t.Errorf("%s kept with on_violation=drop", tc.extra)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.As(err, &pe)):
				t.Errorf("err = %v, want a policy error containing %q", err, tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), "test.toml") && tc.extra != "CAP_BOGUS":
				t.Errorf("error does not name the config to change: %v", err)
			}
		})
	}
	t.Run("every capability is privileged", func(t *testing.T) {
		all, _ := json.Marshal(profiles.AllCaps())
		c := load(t, strings.Replace(dockerSpec, `"bounding":STOCK`, `"bounding":`+string(all), 1))
		p := policy(profiles.RuntimeDefault)
		p.CapAllow = append(slices.Clone(p.CapAllow), "CAP_NET_ADMIN")
		if _, err := p.ApplyConfig(c.Spec); err == nil || !strings.Contains(err.Error(), "every capability") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("allowed extra capability kept", func(t *testing.T) {
		c := load(t, strings.Replace(dockerSpec, `"bounding":STOCK`, `"bounding":["CAP_NET_ADMIN"]`, 1))
		p := policy(profiles.RuntimeDefault)
		p.CapAllow = append(slices.Clone(p.CapAllow), "CAP_NET_ADMIN")
		if _, err := p.ApplyConfig(c.Spec); err != nil || !slices.Contains(caps(c.Spec).Bounding, "CAP_NET_ADMIN") {
			t.Errorf("err %v, bounding %v", err, caps(c.Spec).Bounding)
		}
	})
}

func TestExecGetsAtMostTheContainers(t *testing.T) {
	container := &specs.Process{Capabilities: &specs.LinuxCapabilities{
		Bounding: []string{"CAP_CHOWN", "CAP_KILL"}, Effective: []string{"CAP_KILL"}, Permitted: []string{"CAP_KILL"},
	}}
	stock := profiles.StockCaps()
	proc := &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: stock, Effective: stock, Permitted: stock}}
	if _, err := policy(profiles.RuntimeDefault).ApplyExec(proc, container); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(proc.Capabilities.Bounding, []string{"CAP_CHOWN", "CAP_KILL"}) || !slices.Equal(proc.Capabilities.Effective, []string{"CAP_KILL"}) {
		t.Errorf("exec caps = %+v", proc.Capabilities)
	}
	if !proc.NoNewPrivileges {
		t.Error("noNewPrivileges not set on exec")
	}
	proc = &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: []string{"CAP_SYS_PTRACE"}}}
	if _, err := policy(profiles.RuntimeDefault).ApplyExec(proc, container); err == nil {
		t.Error("exec asking for CAP_SYS_PTRACE must be refused")
	}
}
