package spec

import specs "github.com/opencontainers/runtime-spec/specs-go"

// noNewPrivileges sets process.noNewPrivileges when the policy asks for it:
// no setuid binary or file capability can raise the process's privileges.
type noNewPrivileges struct{ p *Policy }

func (m noNewPrivileges) Modify(s *specs.Spec) ([]Change, error) {
	if !m.p.NoNewPrivileges || s.Process.NoNewPrivileges {
		return nil, nil
	}
	s.Process.NoNewPrivileges = true
	return []Change{changed("noNewPrivileges", "set")}, nil
}
