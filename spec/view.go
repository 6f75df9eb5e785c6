package spec

import specs "github.com/opencontainers/runtime-spec/specs-go"

// view is the part of a config.json secrun reads: the owned fields, and
// what the policy and Pod Security checks, shim and record look at. It is
// decoded instead of the whole runtime-spec type because secrun lives for a
// few milliseconds per create: encoding/json's first decode of a type costs
// far more than the decoding itself (measured on a `runc spec` config: the
// whole specs.Spec 1.2 ms cold; decodeView walks only these fields), and the
// full type has dozens (resources, hooks, devices, rlimits...) secrun never
// reads. Fields outside the view are zero in Config.Spec; Encode writes only
// owned fields, so the rest of the document is untouched either way.
//
// Every field a check reads must be here, spelled exactly (checkReadNames):
// TestViewCoversWhatPolicyReads holds the policy to it.
type view struct {
	Process     *processView      `json:"process"`
	Mounts      []mountView       `json:"mounts"`
	Annotations map[string]string `json:"annotations"`
	Linux       *linuxView        `json:"linux"`
}

type mountView struct {
	Destination string   `json:"destination"`
	Type        string   `json:"type"`
	Source      string   `json:"source"`
	Options     []string `json:"options"`
}

type processView struct {
	User            userView                 `json:"user"`
	Capabilities    *specs.LinuxCapabilities `json:"capabilities"`
	NoNewPrivileges bool                     `json:"noNewPrivileges"`
	ApparmorProfile string                   `json:"apparmorProfile"`
}

type userView struct {
	UID uint32 `json:"uid"`
	GID uint32 `json:"gid"`
}

type linuxView struct {
	Namespaces    []specs.LinuxNamespace `json:"namespaces"`
	Resources     *resourcesView         `json:"resources"`
	Seccomp       *specs.LinuxSeccomp    `json:"seccomp"`
	Sysctl        map[string]string      `json:"sysctl"`
	MaskedPaths   []string               `json:"maskedPaths"`
	ReadonlyPaths []string               `json:"readonlyPaths"`
}

type resourcesView struct {
	Devices []specs.LinuxDeviceCgroup `json:"devices"`
}

// spec returns the view as a runtime-spec Spec (the rest zero).
func (v *view) spec() *specs.Spec {
	s := &specs.Spec{Annotations: v.Annotations}
	if v.Mounts != nil {
		s.Mounts = make([]specs.Mount, len(v.Mounts))
		for i, m := range v.Mounts {
			s.Mounts[i] = specs.Mount{Destination: m.Destination, Type: m.Type, Source: m.Source, Options: m.Options}
		}
	}
	if p := v.Process; p != nil {
		s.Process = &specs.Process{
			User:         specs.User{UID: p.User.UID, GID: p.User.GID},
			Capabilities: p.Capabilities, NoNewPrivileges: p.NoNewPrivileges, ApparmorProfile: p.ApparmorProfile,
		}
	}
	if l := v.Linux; l != nil {
		s.Linux = &specs.Linux{
			Namespaces: l.Namespaces, Seccomp: l.Seccomp, Sysctl: l.Sysctl,
			MaskedPaths: l.MaskedPaths, ReadonlyPaths: l.ReadonlyPaths,
		}
		if l.Resources != nil {
			s.Linux.Resources = &specs.LinuxResources{Devices: l.Resources.Devices}
		}
	}
	return s
}

// readNames are, per object, the keys the view reads. A lone case variant
// of one of them ("maskedpaths", "UID") is read by Go's decoder (secrun,
// runc) and ignored by crun's: the checks would pass on values crun never
// applies, so such keys are refused. (Two keys that differ only in case
// are refused anywhere by the scan.)
var readNames = map[string][]string{
	"":                {"process", "linux", "annotations", "mounts", "ociVersion"},
	"process":         {"capabilities", "noNewPrivileges", "apparmorProfile", "user"},
	"process.user":    {"uid", "gid"},
	"linux":           {"seccomp", "namespaces", "resources", "sysctl", "maskedPaths", "readonlyPaths"},
	"linux.resources": {"devices"},
	"annotations":     {AnnPolicy},
}
