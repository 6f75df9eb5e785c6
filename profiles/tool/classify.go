package tool

import (
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/secrun/secrun/profiles"
)

// Status is what a profile does with a syscall, whatever its arguments.
type Status int

const (
	Denied      Status = iota // never runs
	Conditional               // runs for some arguments only
	Allowed                   // runs whatever the arguments
)

func (s Status) String() string {
	return [...]string{"denied", "conditional", "allowed"}[s]
}

// classify returns the status of each name p mentions. When several rules
// match a call the most severe action wins, and every action that lets a
// call run (ALLOW, LOG, TRACE, NOTIFY) ranks below every one that stops it.
func classify(p *specs.LinuxSeccomp) map[string]Status {
	type flags struct{ denyAll, denySome, allowAll, allowSome bool }
	seen := map[string]*flags{}
	for _, r := range p.Syscalls {
		permissive := profiles.Permissive(r.Action)
		for _, n := range r.Names {
			f := seen[n]
			if f == nil {
				f = &flags{}
				seen[n] = f
			}
			switch {
			case !permissive && len(r.Args) == 0:
				f.denyAll = true
			case !permissive:
				f.denySome = true
			case len(r.Args) == 0:
				f.allowAll = true
			default:
				f.allowSome = true
			}
		}
	}
	defAllows := profiles.Permissive(p.DefaultAction)
	out := make(map[string]Status, len(seen))
	for n, f := range seen {
		switch {
		case f.denyAll:
			out[n] = Denied
		case f.denySome:
			out[n] = Conditional
		case f.allowAll:
			out[n] = Allowed
		case f.allowSome && defAllows:
			out[n] = Allowed
		case f.allowSome:
			out[n] = Conditional
		case defAllows: // only rules whose action is the default
			out[n] = Allowed
		default:
			out[n] = Denied
		}
	}
	return out
}

// statusOf is classify's answer for name, or the default action's for a
// name the profile does not mention.
func statusOf(p *specs.LinuxSeccomp, st map[string]Status, name string) Status {
	if s, ok := st[name]; ok {
		return s
	}
	if profiles.Permissive(p.DefaultAction) {
		return Allowed
	}
	return Denied
}

// namesWith returns the names of st with status s, sorted.
func namesWith(st map[string]Status, s Status) []string {
	var out []string
	for n, x := range st {
		if x == s {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// counts summarises a profile for the one-line reports.
type counts struct {
	Rules, Names, Unique, Allowed, Conditional int
}

func countProfile(p *specs.LinuxSeccomp) counts {
	c := counts{Rules: len(p.Syscalls)}
	uniq := map[string]bool{}
	for _, r := range p.Syscalls {
		c.Names += len(r.Names)
		for _, n := range r.Names {
			uniq[n] = true
		}
	}
	c.Unique = len(uniq)
	st := classify(p)
	c.Allowed = len(namesWith(st, Allowed))
	c.Conditional = len(namesWith(st, Conditional))
	return c
}
