package spec

import (
	"errors"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestAnnotationsCheck(t *testing.T) {
	cases := []struct {
		ann   map[string]string
		allow []string
		want  string // "" allowed, else a part of the refusal
	}{
		{map[string]string{"io.kubernetes.cri.container-type": "container", "secrun.io/record": "x", "example.com/team": "a"}, nil, ""},
		{map[string]string{"run.oci.seccomp_bpf_data": "BgAAAAAA/38="}, nil, "in place of linux.seccomp"},
		{map[string]string{"run.oci.seccomp.plugins": "/x.so"}, nil, "dlopen"},
		{map[string]string{"run.oci.keep_original_groups": "1"}, nil, "supplementary groups"},
		{map[string]string{"run.oci.keep_original_groups": "1"}, []string{"run.oci.keep_original_groups"}, ""},
		{map[string]string{"run.oci.something_new": "1"}, nil, "extensions to the spec"},
		{map[string]string{"RUN.OCI.seccomp_bpf_data": "x"}, nil, "RUN.OCI"},
		{map[string]string{"org.systemd.property.DeviceAllow": "'/dev/sda rwm'"}, nil, "DeviceAllow"},
		{map[string]string{"org.systemd.property.TimeoutStopUSec": "uint64 1"}, []string{"org.systemd.property.*"}, ""},
		{map[string]string{"org.systemd.property.TimeoutStopUSec": "uint64 1"}, []string{"org.systemd.property.CollectMode"}, "unit"},
		{map[string]string{"org.criu.config": "/tmp/c"}, nil, "action-script"},
		{map[string]string{"bundle": "/tmp/evil"}, nil, "exec without --process"},
		{map[string]string{"krun.cpus": "2"}, nil, "krun"},
		{map[string]string{"module.wasm.image/variant": "compat"}, nil, "wasm"},
		{map[string]string{"org.opencontainers.image.title": "x", "run.oci.seccomp_fail_unknown_syscall": "1"}, nil, ""},
		{map[string]string{"org.opencontainers.runc.whatever": "x"}, nil, "reserved"},
		// crun cuts keys at NUL; runc labels are key=value.
		{map[string]string{"run.oci.seccomp_bpf_data\x00x": "y"}, []string{"run.oci.seccomp_bpf_data\x00x"}, "control character"},
		{map[string]string{"x\ny": "1"}, nil, "control character"},
		{map[string]string{"bundle=/tmp/evil": "1"}, nil, "'='"},
	}
	for _, tc := range cases {
		p := &Policy{Source: "/etc/secrun/config.toml", Annotations: AnnotationPolicy{Allow: tc.allow}}
		s := &specs.Spec{Process: &specs.Process{}, Annotations: tc.ann}
		_, err := annotations{p}.Modify(s)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%q allow %q: refused: %v", tc.ann, tc.allow, err)
			}
			continue
		}
		var pe *Error
		if !errors.As(err, &pe) {
			t.Errorf("%q: not refused as a policy error: %v", tc.ann, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "[annotations] allow in /etc/secrun/config.toml") && !strings.Contains(err.Error(), "secrun refuses") {
			t.Errorf("%q: error %q lacks %q or the fix", tc.ann, err, tc.want)
		}
	}
}

// The step runs first in ApplyConfig: nothing else is worked out for a
// spec that is refused.
func TestApplyConfigRefusesRuntimeAnnotation(t *testing.T) {
	p := &Policy{Source: "test"}
	s := &specs.Spec{Process: &specs.Process{}, Annotations: map[string]string{"run.oci.seccomp_bpf_data": "BgAAAAAA/38="}}
	if _, err := p.ApplyConfig(s); err == nil || !strings.Contains(err.Error(), "run.oci.seccomp_bpf_data") {
		t.Fatalf("ApplyConfig: %v", err)
	}
}
