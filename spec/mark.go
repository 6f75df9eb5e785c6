package spec

import specs "github.com/opencontainers/runtime-spec/specs-go"

// AnnPolicy marks a spec secrun confined, with the policy in force, for
// `secrun monitor` and for people reading the spec.
const AnnPolicy = "secrun.io/policy"

// mark records the policy applied in the AnnPolicy annotation.
type mark struct{ p *Policy }

func (m mark) Modify(s *specs.Spec) ([]Change, error) {
	v := m.p.SeccompName + "/" + m.p.SeccompMode
	if s.Annotations[AnnPolicy] == v {
		return nil, nil
	}
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	s.Annotations[AnnPolicy] = v
	return nil, nil
}
