package spec

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestDeviceRules(t *testing.T) {
	n := func(v int64) *int64 { return &v }
	for _, tc := range []struct {
		rule  specs.LinuxDeviceCgroup
		check string
	}{
		{specs.LinuxDeviceCgroup{Allow: true, Type: "a", Major: n(5), Minor: n(1), Access: "m"}, "privileged"},
		{specs.LinuxDeviceCgroup{Allow: true, Access: "rwm"}, "privileged"},
		{specs.LinuxDeviceCgroup{Allow: true, Type: "all", Major: n(1), Minor: n(3), Access: "rw"}, "privileged"},
		{specs.LinuxDeviceCgroup{Allow: true, Type: "c", Access: "rw"}, "privileged"},
		{specs.LinuxDeviceCgroup{Allow: true, Type: "b", Access: "r"}, "privileged"},
		{specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: n(1), Minor: n(3), Access: "rwx"}, "privileged"},
		{specs.LinuxDeviceCgroup{Allow: true, Type: "b", Major: n(254), Minor: n(0), Access: "rw"}, "devices"},
		{specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: n(1), Minor: n(1), Access: "r"}, "devices"},
		{specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: n(1), Access: "rw"}, "devices"},
		// What containerd and Docker write: passes.
		{specs.LinuxDeviceCgroup{Allow: false, Access: "rwm"}, ""},
		{specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: n(1), Minor: n(3), Access: "rwm"}, ""},
		{specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: n(136), Access: "rwm"}, ""},
		{specs.LinuxDeviceCgroup{Allow: true, Type: "c", Access: "m"}, ""},
		{specs.LinuxDeviceCgroup{Allow: true, Type: "b", Access: "m"}, ""},
	} {
		if check, why := deviceRuleProblem(tc.rule); check != tc.check {
			t.Errorf("%+v: check %q (%s), want %q", tc.rule, check, why, tc.check)
		}
	}
}

func TestDevicesNetDevicesScheduling(t *testing.T) {
	base := func() *specs.Spec {
		return &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: []string{"CAP_KILL"}}}, Linux: &specs.Linux{Seccomp: &specs.LinuxSeccomp{}}}
	}
	has := func(s *specs.Spec, check string) bool {
		for _, v := range CheckPodSecurity(s, PodSecurity{Level: PSSBaseline, Bundle: "/"}) {
			if v.Check == check {
				return true
			}
		}
		return false
	}
	s := base()
	s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/hostroot", Type: "b", Major: 254}}
	if !has(s, "devices") {
		t.Error("a block device node passed")
	}
	s = base()
	s.Linux.NetDevices = map[string]specs.LinuxNetDevice{"eth0": {}}
	if !has(s, "host-network") {
		t.Error("linux.netDevices passed")
	}
	s = base()
	s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedOther, Nice: -20}
	if !has(s, "scheduling") {
		t.Error("nice -20 without CAP_SYS_NICE passed")
	}
	s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_SYS_NICE")
	if has(s, "scheduling") {
		t.Error("nice -20 with CAP_SYS_NICE refused")
	}
	s = base()
	s.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_RT}
	if !has(s, "scheduling") {
		t.Error("the real-time I/O class passed")
	}
}
