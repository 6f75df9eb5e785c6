package spec

import (
	"fmt"
	"reflect"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// CheckUpdate reads the resources document of `update --resources` (path
// names it in errors) with the same one reading as a spec, and refuses
// device rules that allow anything: crun applies them to the running
// container's device cgroup (runc ignores them), and nothing that
// containerd or kubelet sends in an update has them.
func CheckUpdate(path string, data []byte) error {
	var r specs.LinuxResources
	if err := decodeAs(data, &r, reflect.TypeFor[specs.LinuxResources]()); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for i, d := range r.Devices {
		if d.Allow {
			return refuse("%s: devices[%d] allows %s %v:%v %q: an update may not open devices to a running container (secrun's policy)", path, i, d.Type, deref64(d.Major), deref64(d.Minor), d.Access)
		}
	}
	return nil
}

func deref64(p *int64) any {
	if p == nil {
		return "*"
	}
	return *p
}
