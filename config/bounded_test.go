package config

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/secrun/secrun/profiles"
	"github.com/secrun/secrun/spec"
)

const (
	cloneNewUser = 0x10000000
	threadFlags  = 0x3d0f00 // glibc's pthread_create
)

// looseRecording allows what a recording of a program that made user
// namespaces allows: clone and clone3 outright, and keyctl.
const looseRecording = `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
	{"names":["read","write","clone","clone3","keyctl","exit_group"],"action":"SCMP_ACT_ALLOW"}]}`

func profileDir(t *testing.T, files map[string]string) string {
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name+".json"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// denies reports whether p denies each of runtime-default's denials we
// care about here.
func checkBounded(t *testing.T, what string, p *specs.LinuxSeccomp) {
	t.Helper()
	for _, c := range []struct {
		name  string
		flags uint64
		allow bool
	}{
		{"clone", threadFlags, true},
		{"clone", threadFlags | cloneNewUser, false},
		{"clone", cloneNewUser, false},
		{"clone3", 0, false},
		{"keyctl", 0, false},
		{"read", 0, true},
	} {
		if got := profiles.Permissive(profiles.Evaluate(p, c.name, [6]uint64{c.flags})); got != c.allow {
			t.Errorf("%s: %s(%#x) allowed %v, want %v", what, c.name, c.flags, got, c.allow)
		}
	}
}

// A profile file is bounded by runtime-default however it is used: as the
// node's profile, a rule's, or a pod's pick; explain says so.
func TestProfileFileBoundedByDefault(t *testing.T) {
	dir := profileDir(t, map[string]string{"rec": looseRecording})
	for name, text := range map[string]string{
		"node":       "[seccomp]\nprofile = \"rec\"\n",
		"rule":       "[[rules]]\nnamespace = \"web\"\n[rules.seccomp]\nprofile = \"rec\"\n",
		"annotation": "",
		"absolute":   "[seccomp]\nprofile = \"" + filepath.Join(dir, "rec.json") + "\"\n",
	} {
		t.Run(name, func(t *testing.T) {
			c, err := Load(write(t, "profiles_dir = \""+dir+"\"\n[podsecurity]\nlevel = \"off\"\n"+text, 0o644))
			if err != nil {
				t.Fatal(err)
			}
			ann := map[string]string{AnnNamespace: "web", AnnSeccompProfile: "rec"}
			if name != "annotation" {
				delete(ann, AnnSeccompProfile)
			}
			p, _, err := c.PolicyFor(nil, ann)
			if err != nil {
				t.Fatal(err)
			}
			s := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: profiles.StockCaps()}}}
			changes, err := p.ApplyConfig(s)
			if err != nil {
				t.Fatal(err)
			}
			checkBounded(t, name, s.Linux.Seccomp)
			note := fmt.Sprint(changes)
			if !strings.Contains(note, "merged with runtime-default") || !strings.Contains(note, "clone") {
				t.Errorf("no note that the profile was bounded: %s", note)
			}
		})
	}
}

func TestAllowLooserNeedsNamespaceRule(t *testing.T) {
	dir := profileDir(t, map[string]string{"rec": looseRecording})
	for text, want := range map[string]string{
		"[seccomp]\nallow_looser_than_default = true\n":                                                          "only in a [[rules]] entry",
		"[[rules]]\npod = \"x\"\n[rules.seccomp]\nallow_looser_than_default = true\n":                            "needs namespace",
		"[[rules]]\nnamespace = \"kube-*\"\n[rules.seccomp]\nallow_looser_than_default = true\n":                 "needs namespace",
		"[[rules]]\nnamespace = \"ops\"\n[rules.seccomp]\nallow_looser_than_default = true\nprofile = \"rec\"\n": "",
	} {
		c, err := Load(write(t, "profiles_dir = \""+dir+"\"\n"+text, 0o644))
		if want != "" {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%q: err = %v, want %q", text, err, want)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		// The namespace the rule names gets the profile as it is...
		p, _, err := c.PolicyFor(nil, map[string]string{AnnNamespace: "ops"})
		if err != nil {
			t.Fatal(err)
		}
		s, _ := p.Seccomp(profiles.StockCaps())
		if !profiles.Permissive(profiles.Evaluate(s, "clone", [6]uint64{cloneNewUser})) {
			t.Error("allow_looser_than_default: the rule's profile was bounded anyway")
		}
		// ...and a node whose default is runtime-default keeps it elsewhere.
		p, _, _ = c.PolicyFor(nil, map[string]string{AnnNamespace: "other", AnnSeccompProfile: "rec"})
		s, _ = p.PodProfile(profiles.StockCaps())
		checkBounded(t, "other namespace's pick", s)
	}
}

// Property: whatever a profile file allows, the profile a container gets
// from it (as the node's, or picked by a pod on top of it) allows nothing
// runtime-default denies for the container's capabilities.
func TestUsedProfileNeverLooserThanDefault(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	names := []string{"read", "write", "clone", "clone3", "unshare", "keyctl", "mount", "personality", "socket", "bpf", "ptrace"}
	args := [][6]uint64{{}, {threadFlags}, {threadFlags | cloneNewUser}, {cloneNewUser}, {0x20000}, {8}, {0xffffffff}, {40}, {2}}
	ops := []specs.LinuxSeccompOperator{specs.OpEqualTo, specs.OpMaskedEqual, specs.OpNotEqual, specs.OpGreaterEqual}
	actions := []specs.LinuxSeccompAction{specs.ActAllow, specs.ActAllow, specs.ActLog, specs.ActErrno}
	for i := range 150 {
		p := specs.LinuxSeccomp{DefaultAction: specs.ActErrno}
		if r.Intn(5) == 0 {
			p.DefaultAction = specs.ActAllow
		}
		for range r.Intn(6) + 1 {
			rule := specs.LinuxSyscall{Action: actions[r.Intn(len(actions))]}
			for range r.Intn(5) + 1 {
				rule.Names = append(rule.Names, names[r.Intn(len(names))])
			}
			rule.Names = slices.Compact(slices.Sorted(slices.Values(rule.Names)))
			if r.Intn(3) == 0 {
				a := args[r.Intn(len(args))][0]
				rule.Args = []specs.LinuxSeccompArg{{Index: 0, Op: ops[r.Intn(len(ops))], Value: a | 0x10000, ValueTwo: a & 0x10000}}
			}
			p.Syscalls = append(p.Syscalls, rule)
		}
		data, _ := json.Marshal(p)
		dir := profileDir(t, map[string]string{"rec": string(data), "pick": string(data)})
		c, err := Load(write(t, "profiles_dir = \""+dir+"\"\n[podsecurity]\nlevel = \"off\"\n[seccomp]\nprofile = \"rec\"\n", 0o644))
		if err != nil {
			t.Fatal(err)
		}
		for _, bounding := range [][]string{profiles.StockCaps(), nil, {"CAP_SYS_ADMIN"}} {
			def, _ := profiles.LevelNamed(profiles.RuntimeDefault).Seccomp(bounding)
			for _, ann := range []map[string]string{nil, {AnnSeccompProfile: "pick"}} {
				pol, _, err := c.PolicyFor(nil, ann)
				if err != nil {
					t.Fatal(err)
				}
				s := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: bounding}}}
				if _, err := pol.ApplyConfig(s); err != nil {
					var pe *spec.Error
					if !asPolicyError(err, &pe) {
						t.Fatal(err)
					}
					continue // refused (e.g. CAP_SYS_ADMIN): nothing runs
				}
				for _, n := range names {
					for _, a := range args {
						if profiles.Permissive(profiles.Evaluate(s.Linux.Seccomp, n, a)) && !profiles.Permissive(profiles.Evaluate(def, n, a)) {
							t.Fatalf("case %d %v %v: %s(%#x) allowed, runtime-default denies it\nprofile %s", i, bounding, ann, n, a[0], data)
						}
					}
				}
			}
		}
	}
}

func asPolicyError(err error, pe **spec.Error) bool {
	e, ok := err.(*spec.Error)
	*pe = e
	return ok
}

// [seccomp] architectures = "native" holds when the spec brings a profile
// (Kubernetes RuntimeDefault brings Docker's, with x86 and x32; #13).
func TestNativeArchitecturesHoldWithSpecProfile(t *testing.T) {
	c, err := Load(write(t, "[podsecurity]\nlevel = \"off\"\n[seccomp]\narchitectures = \"native\"\n", 0o644))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := c.Policy(nil)
	brought, _ := profiles.LevelNamed(profiles.RuntimeDefault).Seccomp(profiles.StockCaps())
	if len(brought.Architectures) < 2 {
		t.Skip("this architecture has no compat ABIs")
	}
	s := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: profiles.StockCaps()}},
		Linux: &specs.Linux{Seccomp: brought}}
	if _, err := p.ApplyConfig(s); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Linux.Seccomp.Architectures, brought.Architectures[:1]) {
		t.Errorf("architectures = %v, want the native one only", s.Linux.Seccomp.Architectures)
	}
}
