package spec

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/secrun/secrun/profiles"
)

// probeNames are syscalls whose verdicts the fuzzer compares: a spread of
// ones Docker's profile allows, denies, and allows only for some arguments.
var probeNames = []string{"read", "getpid", "keyctl", "unshare", "mount", "bpf", "clone", "clone3",
	"personality", "socket", "ptrace", "io_uring_setup", "userfaultfd", "kexec_load", "add_key", "setns"}

var probeArgs = [][6]uint64{{}, {8}, {0xffffffff}, {0x10000000}, {40}, {2, 1}}

// FuzzApplyConfig: for any spec the loader accepts, the policy either
// refuses it or produces a spec that (1) has no capability outside the
// allowlist, (2) allows no call the node profile or the spec's own profile
// denies, (3) sets no-new-privileges, (4) keeps every top-level member, (5)
// is a fixed point: loading and confining the output changes nothing, and
// (6) has one reading: Go's encoding/json (runc: case-insensitive, last
// duplicate wins) decodes the output to what secrun decided.
func FuzzApplyConfig(f *testing.F) {
	runcSpec, _ := os.ReadFile("testdata/runc-spec.json")
	stock, _ := json.Marshal(profiles.StockCaps())
	f.Add(runcSpec, uint8(0))
	f.Add(bytes.ReplaceAll([]byte(dockerSpec), []byte("STOCK"), stock), uint8(1))
	f.Add([]byte(`{"process":{"capabilities":{"bounding":["CAP_NET_ADMIN"]}},"linux":{"seccomp":{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":3,"op":"SCMP_CMP_EQ"}]}]}}}`), uint8(2))
	f.Add([]byte(`{"process":{},"linux":{"seccomp":{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["personality","socket","clone"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":8,"op":"SCMP_CMP_EQ"},{"index":1,"value":1,"op":"SCMP_CMP_GE"}]}]}},"x":1}`), uint8(3))
	f.Add([]byte("{\r\n  \"process\": {\"apparmorProfile\": \"x\", \"noNewPrivileges\": false},\r\n  \"annotations\": null,\r\n  \"linux\": null\r\n}"), uint8(4))
	f.Add([]byte(`{"\u0070rocess":{"capabilities":{"bounding":[],"effective":["CAP_KILL"]},"apparmorProfile":""},"annotations":{"secrun.io/policy":""},"linux":{}}`), uint8(5))
	// Everything the Pod Security checks read, next to fields they do not.
	f.Add([]byte(`{"process":{"user":{"uid":0,"gid":0,"additionalGids":[1]},"args":["sh"],"rlimits":[{"type":"RLIMIT_NOFILE","hard":1,"soft":1}],"capabilities":{"bounding":["CAP_SYS_ADMIN","CAP_KILL"]}},"mounts":[{"destination":"/x","type":"bind","source":"/var/lib/kubelet/pods","options":["rbind"]},{"destination":"/proc","type":"proc","source":"proc"}],"linux":{"namespaces":[{"type":"pid","path":"/proc/1/ns/pid"},{"type":"network"}],"resources":{"devices":[{"allow":true,"access":"rwm"}],"memory":{"limit":1}},"sysctl":{"kernel.msgmax":"1","net.ipv4.ip_local_port_range":"1 2"},"maskedPaths":[],"readonlyPaths":["/proc/sys"],"hooks":{}}}`), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, sel uint8) {
		fuzzProcessFile(t, data)
		c, err := ParseConfig("config.json", data)
		if err != nil {
			return
		}
		level := profiles.LevelNames()[int(sel)%2]
		p := policy(level)
		if sel&2 != 0 {
			p.OnViolation = "drop"
		}
		if sel&4 != 0 {
			p.SeccompMode = "complain"
		}
		var user *specs.LinuxSeccomp
		if c.Spec.Linux != nil && c.Spec.Linux.Seccomp != nil {
			u := *c.Spec.Linux.Seccomp
			user = &u
		}
		if _, err := p.ApplyConfig(c.Spec); err != nil {
			return
		}
		out, err := c.Encode()
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		oneReading(t, out, c.Spec)
		if caps := c.Spec.Process.Capabilities; caps != nil {
			for _, set := range [][]string{caps.Bounding, caps.Effective, caps.Permitted, caps.Inheritable, caps.Ambient} {
				for _, n := range set {
					if !slices.Contains(p.CapAllow, n) {
						t.Fatalf("%s kept outside the allowlist", n)
					}
				}
			}
		}
		if !c.Spec.Process.NoNewPrivileges {
			t.Fatal("noNewPrivileges not set")
		}
		var bounding []string
		if c.Spec.Process.Capabilities != nil {
			bounding = c.Spec.Process.Capabilities.Bounding
		}
		def, _ := p.Seccomp(bounding)
		final := c.Spec.Linux.Seccomp
		if p.SeccompMode == "enforce" {
			for _, n := range probeNames {
				for _, a := range probeArgs {
					got := profiles.Permissive(profiles.Evaluate(final, n, a))
					if got && !profiles.Permissive(profiles.Evaluate(def, n, a)) {
						t.Fatalf("%s%v allowed, the node profile denies it", n, a)
					}
					if got && user != nil && !profiles.Permissive(profiles.Evaluate(user, n, a)) {
						t.Fatalf("%s%v allowed, the spec's own profile denied it", n, a)
					}
				}
			}
		}
		var before, after map[string]json.RawMessage
		json.Unmarshal(data, &before)
		json.Unmarshal(out, &after)
		for k := range before {
			if _, ok := after[k]; !ok && k != "linux" && k != "process" {
				t.Fatalf("top-level field %q lost", k)
			}
		}
		c2, err := ParseConfig("config.json", out)
		if err != nil {
			t.Fatalf("own output does not parse: %v\n%s", err, out)
		}
		if _, err := p.ApplyConfig(c2.Spec); err != nil {
			t.Fatalf("own output refused: %v", err)
		}
		out2, _ := c2.Encode()
		if !bytes.Equal(out, out2) {
			t.Fatalf("not idempotent:\n%s\n%s", out, out2)
		}
	})
}

// fuzzProcessFile: data as an exec process file, confined, must encode to
// a document runc's decoder reads as secrun decided.
func fuzzProcessFile(t *testing.T, data []byte) {
	// Parsed in memory: a temporary file per input made the fuzzer spend
	// most of its time in ext4's mkdir.
	p, err := ParseProcess("process.json", data)
	if err != nil {
		return
	}
	if _, err := policy(profiles.RuntimeDefault).ApplyExec(p.Process, nil); err != nil {
		return
	}
	out, err := p.Encode()
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	var runc specs.Process
	if err := json.Unmarshal(out, &runc); err != nil {
		t.Fatalf("runc's decoder refuses secrun's output: %v\n%s", err, out)
	}
	if !reflect.DeepEqual(normalize(&runc), normalize(p.Process)) {
		t.Fatalf("runc reads another process than secrun decided:\n%+v\n%+v\n%s", runc, *p.Process, out)
	}
}

// oneReading: encoding/json v1 (runc's reader) decodes out to s.
func oneReading(t *testing.T, out []byte, s *specs.Spec) {
	t.Helper()
	var runc specs.Spec
	if err := json.Unmarshal(out, &runc); err != nil {
		t.Fatalf("runc's decoder refuses secrun's output: %v\n%s", err, out)
	}
	if !reflect.DeepEqual(normalize(&runc), normalize(s)) {
		t.Fatalf("runc reads another spec than secrun decided:\n%s", out)
	}
}

// normalize re-encodes v so that nil and empty collections compare equal
// (they mean the same to both runtimes).
func normalize(v any) any {
	b, _ := json.Marshal(v)
	var m any
	json.Unmarshal(b, &m)
	return m
}
