package spec

import (
	"bytes"
	"encoding/json"
	"fmt"
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

// FuzzApplyConfig: for any spec the parser accepts, the policy either
// refuses it or produces a spec that (1) has no capability outside the
// allowlist, (2) allows no call the node profile or the spec's own profile
// denies, (3) sets no-new-privileges, (4) keeps unknown fields, and (5) is
// a fixed point: applying the policy again changes nothing. The spliced
// output must also be JSON that decodes as the old sorted re-encoding of the
// same spec did, from input the old parser accepted too.
func FuzzApplyConfig(f *testing.F) {
	runcSpec, _ := os.ReadFile("testdata/runc-spec.json")
	stock, _ := json.Marshal(profiles.Stock)
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
		viewDecodeAgrees(t, data)
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
		var full specs.Spec
		fullOK := json.Unmarshal(data, &full) == nil
		if fullOK {
			viewAgrees(t, c, &full, p)
		}
		if _, err := p.ApplyConfig(c.Spec); err != nil {
			return
		}
		out, err := c.Encode()
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		sameAsLegacy(t, data, c.Spec, out)
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

// fuzzProcessFile: data as an exec process file, confined, must splice into
// JSON that decodes as the old encoding did.
func fuzzProcessFile(t *testing.T, data []byte) {
	var proc specs.Process
	f, err := parseFile("process.json", data, 0o600, &proc)
	if err != nil {
		return
	}
	if err := exactNames(f.top, f.Path, "", processOwned...); err != nil {
		return
	}
	raw, err := legacyDecodeObject(data, "process.json")
	if err != nil {
		t.Fatalf("the old parser refuses a process file the new one accepted: %v", err)
	}
	if _, err := policy(profiles.RuntimeDefault).ApplyExec(&proc, nil); err != nil {
		return
	}
	p := &Process{File: f, Process: &proc}
	out, err := p.Encode()
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	want, err := legacyEncodeProcess(raw, &proc, false)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(out) || !reflect.DeepEqual(decodeAny(t, out), decodeAny(t, want)) {
		t.Fatalf("process file decodes unlike the old encoding:\n%s\n%s", out, want)
	}
}

// viewAgrees: the policy and the Pod Security checks must decide the same
// on the view secrun decodes as on the whole spec (Config.Spec holds only
// the fields secrun reads; a check reading any other would see zero).
func viewAgrees(t *testing.T, c *Config, full *specs.Spec, p *Policy) {
	t.Helper()
	// root and hooks come from DecodeHostFields, as the shim reads them.
	vs := *c.Spec
	withHost := &Config{File: c.File, Spec: &vs}
	hostErr := withHost.DecodeHostFields()
	for _, level := range []string{PSSBaseline, PSSRestricted} {
		if hostErr != nil {
			break // refused before any check runs
		}
		if got, want := CheckPodSecurity(withHost.Spec, PodSecurity{Level: level}), CheckPodSecurity(full, PodSecurity{Level: level}); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s checks on the view: %v, on the whole spec: %v", level, got, want)
		}
	}
	viewCopy, err := ParseConfig(c.Path, c.Orig)
	if err != nil {
		t.Fatal(err)
	}
	fc := &Config{File: viewCopy.File, Spec: full}
	pf := *p
	pf.PodSecurity = PodSecurity{Level: PSSRestricted, Mode: "enforce"}
	pv := pf
	vch, verr := pv.ApplyConfig(viewCopy.Spec)
	fch, ferr := pf.ApplyConfig(fc.Spec)
	if fmt.Sprint(verr) != fmt.Sprint(ferr) || !slices.Equal(vch, fch) {
		t.Fatalf("the view and the whole spec differ:\n%v %q\n%v %q", verr, vch, ferr, fch)
	}
	if verr != nil {
		return
	}
	vout, err1 := viewCopy.Encode()
	fout, err2 := fc.Encode()
	if err1 != nil || err2 != nil || !bytes.Equal(vout, fout) {
		t.Fatalf("encoded from the view and from the whole spec differ (%v, %v):\n%s\n%s", err1, err2, vout, fout)
	}
}

// viewDecodeAgrees: decodeView reads what json.Unmarshal into the view reads,
// and refuses what it refuses.
func viewDecodeAgrees(t *testing.T, data []byte) {
	t.Helper()
	if !json.Valid(data) {
		return
	}
	top, err := scan(data)
	if err != nil || top == nil {
		return
	}
	var want, got view
	wantErr := json.Unmarshal(data, &want)
	gotErr := decodeView(data, top.open, &got)
	if (wantErr == nil) != (gotErr == nil) {
		t.Fatalf("json.Unmarshal: %v; decodeView: %v", wantErr, gotErr)
	}
	if wantErr == nil && !reflect.DeepEqual(want, got) {
		t.Fatalf("decodeView differs from json.Unmarshal:\n%#v\n%#v", got, want)
	}
}
