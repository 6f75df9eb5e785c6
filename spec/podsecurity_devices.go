package spec

import (
	"fmt"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Devices, host interfaces and scheduling: spec fields that hand a
// container host resources or privileges no capability check stands in
// front of (the runtime applies them before it drops capabilities).

// deviceViolations checks the device cgroup rules and the device nodes.
//   - "privileged": a rule that opens every device. runc and crun read a
//     rule of type "a" (or none) as every device with every access, whatever
//     its numbers and access say; crun reads only the first letter of any
//     other type, runc refuses unknown ones; a wildcard major opens every
//     block or character device.
//   - "devices": read or write access to block devices (the host's disks)
//     or to /dev/mem, /dev/kmem, /dev/port, and nodes for them in
//     linux.devices. Raw block volumes need this: exempt the check in a rule
//     for those workloads.
func deviceViolations(linux *specs.Linux, add func(check, field, value string)) {
	if linux.Resources != nil {
		for i, d := range linux.Resources.Devices {
			field := fmt.Sprintf("linux.resources.devices[%d]", i)
			if check, why := deviceRuleProblem(d); why != "" {
				add(check, field, why)
			}
		}
	}
	for i, d := range linux.Devices {
		field := fmt.Sprintf("linux.devices[%d]", i)
		switch {
		case d.Type == "b":
			add("devices", field, fmt.Sprintf("block device %s (%d:%d)", d.Path, d.Major, d.Minor))
		case (d.Type == "c" || d.Type == "u") && memDevice(d.Major, &d.Minor):
			add("devices", field, fmt.Sprintf("%s (%d:%d) is the host's memory or I/O ports", d.Path, d.Major, d.Minor))
		}
	}
}

// deviceRuleProblem returns the check an allow rule fails and why.
func deviceRuleProblem(d specs.LinuxDeviceCgroup) (string, string) {
	if !d.Allow {
		return "", ""
	}
	switch d.Type {
	case "", "a":
		return "privileged", "allows every device (a rule of type \"a\" opens every device with every access, whatever its numbers say)"
	case "b", "c":
	default:
		return "privileged", fmt.Sprintf("has type %q, which runc and crun read differently (write \"b\" or \"c\")", d.Type)
	}
	if strings.Trim(d.Access, "rwm") != "" {
		return "privileged", fmt.Sprintf("has access %q; only r, w and m are read alike by the runtimes", d.Access)
	}
	if d.Access != "" && !strings.ContainsAny(d.Access, "rw") {
		return "", "" // mknod only (Docker's "c *:* m", "b *:* m")
	}
	wildMajor := d.Major == nil || *d.Major < 0
	switch {
	case d.Type == "b" && wildMajor:
		return "privileged", "allows every block device (the host's disks)"
	case d.Type == "b":
		return "devices", "allows reading or writing a block device (a host disk)"
	case wildMajor:
		return "privileged", "allows every character device"
	case memDevice(*d.Major, d.Minor):
		return "devices", "allows /dev/mem, /dev/kmem or /dev/port (the host's memory and I/O ports)"
	}
	return "", ""
}

// memDevice: character major 1 minors 1 (mem), 2 (kmem), 4 (port), or a
// wildcard minor of major 1.
func memDevice(major int64, minor *int64) bool {
	return major == 1 && (minor == nil || *minor < 0 || slices.Contains([]int64{1, 2, 4}, *minor))
}

// netDeviceViolations: linux.netDevices moves host interfaces into the
// container (runc 1.2+), and the host loses them.
func netDeviceViolations(linux *specs.Linux, add func(check, field, value string)) {
	for name := range linux.NetDevices {
		add("host-network", "linux.netDevices", fmt.Sprintf("moves the host's interface %q into the container", name))
	}
}

// schedulingViolations: a negative nice, a real-time scheduling policy or
// priority, and the real-time I/O class are privileges (CAP_SYS_NICE,
// CAP_SYS_ADMIN) the runtime grants before it drops capabilities, so they
// are allowed only when the container keeps that capability.
func schedulingViolations(p *specs.Process, add func(check, field, value string)) {
	var bounding []string
	if p.Capabilities != nil {
		bounding = p.Capabilities.Bounding
	}
	if sc := p.Scheduler; sc != nil && !slices.Contains(bounding, "CAP_SYS_NICE") {
		switch {
		case sc.Nice < 0:
			add("scheduling", "process.scheduler.nice", fmt.Sprintf("%d (needs CAP_SYS_NICE)", sc.Nice))
		case sc.Priority > 0:
			add("scheduling", "process.scheduler.priority", fmt.Sprintf("%d (needs CAP_SYS_NICE)", sc.Priority))
		case sc.Policy != "" && sc.Policy != specs.SchedOther && sc.Policy != specs.SchedBatch && sc.Policy != specs.SchedIdle:
			add("scheduling", "process.scheduler.policy", fmt.Sprintf("%s (needs CAP_SYS_NICE)", sc.Policy))
		}
	}
	if io := p.IOPriority; io != nil && io.Class == specs.IOPRIO_CLASS_RT && !slices.Contains(bounding, "CAP_SYS_ADMIN") {
		add("scheduling", "process.ioPriority.class", "IOPRIO_CLASS_RT (needs CAP_SYS_ADMIN)")
	}
}
