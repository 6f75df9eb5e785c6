package profiles

import (
	"fmt"
	"slices"

	mobyseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// A Level is a built-in policy: a capability allowlist and a seccomp profile.
type Level struct {
	Name string
	// Caps is the default capability allowlist for the level.
	Caps []string
	// Deny lists syscalls removed from Docker's default profile.
	Deny []string
	// Only keeps a syscall allowed just for these exact first arguments.
	Only map[string][]uint64
}

const (
	RuntimeDefault = "runtime-default"
	Restricted     = "restricted"
)

// levels are the built-in levels by name; LookupLevel hands out copies.
var levels = map[string]*Level{
	RuntimeDefault: {Name: RuntimeDefault, Caps: baseline},
	Restricted: {
		Name: Restricted,
		Caps: []string{"CAP_NET_BIND_SERVICE"},
		Deny: []string{
			"ptrace", "process_vm_readv", "process_vm_writev",
			"userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
			"keyctl", "add_key", "request_key",
		},
		// personality(0xffffffff) only queries the persona; every other
		// value changes it (READ_IMPLIES_EXEC, ADDR_NO_RANDOMIZE...).
		Only: map[string][]uint64{"personality": {0xffffffff}},
	},
}

// LookupLevel returns a copy of the built-in level name.
func LookupLevel(name string) (*Level, bool) {
	l, ok := levels[name]
	if !ok {
		return nil, false
	}
	c := &Level{Name: l.Name, Caps: slices.Clone(l.Caps), Deny: slices.Clone(l.Deny), Only: map[string][]uint64{}}
	for k, v := range l.Only {
		c.Only[k] = slices.Clone(v)
	}
	return c, true
}

// LevelNamed is LookupLevel for a name known to be built in (the constants
// above); nil otherwise.
func LevelNamed(name string) *Level {
	l, _ := LookupLevel(name)
	return l
}

// LevelNames lists the built-in level names, sorted.
func LevelNames() []string {
	var n []string
	for k := range levels {
		n = append(n, k)
	}
	slices.Sort(n)
	return n
}

// Seccomp resolves the level's profile for a container whose final bounding
// capability set is bounding, for this host's architecture and kernel.
func (l *Level) Seccomp(bounding []string) (*specs.LinuxSeccomp, error) {
	p, err := mobyseccomp.GetDefaultProfile(&specs.Spec{Process: &specs.Process{
		Capabilities: &specs.LinuxCapabilities{Bounding: bounding},
	}})
	if err != nil {
		return nil, fmt.Errorf("resolving Docker's default seccomp profile: %w", err)
	}
	if len(l.Deny) == 0 && len(l.Only) == 0 {
		return Normalize(p), nil
	}
	drop := map[string]bool{}
	for _, n := range l.Deny {
		drop[n] = true
	}
	for n := range l.Only {
		drop[n] = true
	}
	out := make([]specs.LinuxSyscall, 0, len(p.Syscalls)+len(l.Only))
	for _, r := range p.Syscalls {
		if Permissive(r.Action) {
			r.Names = slices.DeleteFunc(slices.Clone(r.Names), func(n string) bool { return drop[n] })
			if len(r.Names) == 0 {
				continue
			}
		}
		out = append(out, r)
	}
	for _, name := range sortedKeys(l.Only) {
		for _, v := range l.Only[name] {
			out = append(out, specs.LinuxSyscall{
				Names: []string{name}, Action: specs.ActAllow,
				Args: []specs.LinuxSeccompArg{{Index: 0, Value: v, Op: specs.OpEqualTo}},
			})
		}
	}
	p.Syscalls = out
	return Normalize(p), nil
}

func sortedKeys[V any](m map[string]V) []string {
	k := make([]string, 0, len(m))
	for n := range m {
		k = append(k, n)
	}
	slices.Sort(k)
	return k
}
