package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/secrun/secrun/profiles"
)

// sameAsLegacy checks out, what Encode made of orig for s, against what
// the encoder this package had before made: the same document once decoded,
// unknown fields included.
func sameAsLegacy(t testing.TB, orig []byte, s *specs.Spec, out []byte) {
	t.Helper()
	if !json.Valid(out) {
		t.Fatalf("output is not JSON:\n%s", out)
	}
	raw, _, err := legacyParseConfig(orig)
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		// The old parser decoded the whole spec; the new one decodes only
		// what secrun reads, and leaves type errors elsewhere to the
		// runtime.
		return
	}
	if err != nil {
		t.Fatalf("the old parser refuses what the new one accepted: %v\n%s", err, orig)
	}
	want, err := legacyEncode(raw, s, false)
	if err != nil {
		t.Fatal(err)
	}
	if g, w := decodeAny(t, out), decodeAny(t, want); !reflect.DeepEqual(g, w) {
		t.Fatalf("decodes unlike the old encoding:\n%s\nwant (key order aside):\n%s", out, want)
	}
	var gs, ws specs.Spec
	json.Unmarshal(out, &gs)
	json.Unmarshal(want, &ws)
	if !reflect.DeepEqual(gs, ws) {
		t.Fatalf("decodes to another spec than the old encoding:\n%s\n%s", out, want)
	}
}

func decodeAny(t testing.TB, data []byte) any {
	t.Helper()
	var v any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	return v
}

var (
	noAppArmor = func(s *specs.Spec) { s.Process.ApparmorProfile = "" }
	noNNP      = func(s *specs.Spec) { s.Process.NoNewPrivileges = false }
	setNNP     = func(s *specs.Spec) { s.Process.NoNewPrivileges = true }
	setCaps    = func(s *specs.Spec) {
		s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: []string{"CAP_KILL"}}
	}
	mark = func(v string) func(*specs.Spec) {
		return func(s *specs.Spec) {
			if s.Annotations == nil {
				s.Annotations = map[string]string{}
			}
			s.Annotations[AnnPolicy] = v
		}
	}
	seccomp = func(p *specs.LinuxSeccomp) func(*specs.Spec) {
		return func(s *specs.Spec) {
			if s.Linux == nil {
				s.Linux = &specs.Linux{}
			}
			s.Linux.Seccomp = p
		}
	}
	errnoProfile = &specs.LinuxSeccomp{DefaultAction: specs.ActErrno}
)

func TestSplice(t *testing.T) {
	for _, tc := range []struct {
		name, doc, want string
		edits           []func(*specs.Spec)
	}{
		{"remove first", `{"process":{"apparmorProfile":"x","args":["sh"],"cwd":"/"}}`, `{"process":{"args":["sh"],"cwd":"/"}}`, edits(noAppArmor)},
		{"remove middle", `{"process":{"args":["sh"],"apparmorProfile":"x","cwd":"/"}}`, `{"process":{"args":["sh"],"cwd":"/"}}`, edits(noAppArmor)},
		{"remove last", `{"process":{"args":["sh"],"cwd":"/","apparmorProfile":"x"}}`, `{"process":{"args":["sh"],"cwd":"/"}}`, edits(noAppArmor)},
		{"remove only", `{"process":{"apparmorProfile":"x"}}`, `{"process":{}}`, edits(noAppArmor)},
		{"remove first two", `{"process":{"apparmorProfile":"x","noNewPrivileges":true,"cwd":"/"}}`, `{"process":{"cwd":"/"}}`, edits(noAppArmor, noNNP)},
		{"remove first and last", `{"process":{"apparmorProfile":"x","cwd":"/","noNewPrivileges":true}}`, `{"process":{"cwd":"/"}}`, edits(noAppArmor, noNNP)},
		{"remove last two", `{"process":{"cwd":"/","apparmorProfile":"x","noNewPrivileges":true}}`, `{"process":{"cwd":"/"}}`, edits(noAppArmor, noNNP)},
		{"remove all", `{"process":{"apparmorProfile":"x","noNewPrivileges":true}}`, `{"process":{}}`, edits(noAppArmor, noNNP)},
		{"remove last, insert", `{"process":{"cwd":"/","apparmorProfile":"x"}}`, `{"process":{"cwd":"/","noNewPrivileges":true}}`, edits(noAppArmor, setNNP)},
		{"remove only, insert", `{"process":{"apparmorProfile":"x"}}`, `{"process":{"noNewPrivileges":true}}`, edits(noAppArmor, setNNP)},
		{"remove first, replace", `{"process":{"apparmorProfile":"x","capabilities":{}}}`, `{"process":{"capabilities":{"bounding":["CAP_KILL"]}}}`, edits(noAppArmor, setCaps)},
		{"insert into empty", `{"process":{}}`, `{"process":{"noNewPrivileges":true}}`, edits(setNNP)},
		{"insert after last", `{"process":{"cwd":"/"},"x":[1]}`, `{"process":{"cwd":"/","noNewPrivileges":true},"x":[1]}`, edits(setNNP)},
		{"insert, spaced", `{ "process": { "cwd": "/" } }`, `{ "process": { "cwd": "/", "noNewPrivileges": true } }`, edits(setNNP)},
		{"insert, wrapped compact", "{\"process\":{\"cwd\":\"/\",\n\"args\":[\"sh\"]}}", "{\"process\":{\"cwd\":\"/\",\n\"args\":[\"sh\"],\n\"capabilities\":{\"bounding\":[\"CAP_KILL\"]}}}", edits(setCaps)},

		{"indented remove first", "{\n\t\"process\": {\n\t\t\"apparmorProfile\": \"x\",\n\t\t\"cwd\": \"/\"\n\t}\n}\n", "{\n\t\"process\": {\n\t\t\"cwd\": \"/\"\n\t}\n}\n", edits(noAppArmor)},
		{"indented remove last", "{\n\t\"process\": {\n\t\t\"cwd\": \"/\",\n\t\t\"apparmorProfile\": \"x\"\n\t}\n}\n", "{\n\t\"process\": {\n\t\t\"cwd\": \"/\"\n\t}\n}\n", edits(noAppArmor)},
		{"indented remove only", "{\n\t\"process\": {\n\t\t\"apparmorProfile\": \"x\"\n\t}\n}\n", "{\n\t\"process\": {}\n}\n", edits(noAppArmor)},
		{"indented remove only, insert", "{\n\t\"process\": {\n\t\t\"apparmorProfile\": \"x\"\n\t}\n}",
			"{\n\t\"process\": {\n\t\t\"capabilities\": {\n\t\t\t\"bounding\": [\n\t\t\t\t\"CAP_KILL\"\n\t\t\t]\n\t\t}\n\t}\n}", edits(noAppArmor, setCaps)},
		{"indented insert into empty", "{\n\t\"process\": {}\n}\n", "{\n\t\"process\": {\n\t\t\"noNewPrivileges\": true\n\t}\n}\n", edits(setNNP)},
		{"indented replace", "{\n\t\"process\": {\n\t\t\"capabilities\": {\"bounding\": []}\n\t}\n}",
			"{\n\t\"process\": {\n\t\t\"capabilities\": {\n\t\t\t\"bounding\": [\n\t\t\t\t\"CAP_KILL\"\n\t\t\t]\n\t\t}\n\t}\n}", edits(setCaps)},
		{"four spaces", "{\n    \"process\": {\n        \"cwd\": \"/\"\n    }\n}",
			"{\n    \"process\": {\n        \"cwd\": \"/\",\n        \"capabilities\": {\n            \"bounding\": [\n                \"CAP_KILL\"\n            ]\n        }\n    }\n}", edits(setCaps)},
		{"CRLF", "{\r\n\t\"process\": {\r\n\t\t\"cwd\": \"/\"\r\n\t}\r\n}\r\n",
			"{\r\n\t\"process\": {\r\n\t\t\"cwd\": \"/\",\r\n\t\t\"capabilities\": {\r\n\t\t\t\"bounding\": [\r\n\t\t\t\t\"CAP_KILL\"\r\n\t\t\t]\r\n\t\t}\r\n\t}\r\n}\r\n", edits(setCaps)},
		{"CRLF new object", "{\r\n\t\"process\": {}\r\n}",
			"{\r\n\t\"process\": {},\r\n\t\"annotations\": {\r\n\t\t\"secrun.io/policy\": \"p/enforce\"\r\n\t}\r\n}", edits(mark("p/enforce"))},

		{"annotations absent", `{"process":{}}`, `{"process":{},"annotations":{"secrun.io/policy":"p/enforce"}}`, edits(mark("p/enforce"))},
		{"annotations null", `{"process":{},"annotations":null}`, `{"process":{},"annotations":{"secrun.io/policy":"p/enforce"}}`, edits(mark("p/enforce"))},
		{"annotations present", `{"annotations":{"a":"b"},"process":{}}`, `{"annotations":{"a":"b","secrun.io/policy":"p/enforce"},"process":{}}`, edits(mark("p/enforce"))},
		{"annotations empty", `{"annotations":{},"process":{}}`, `{"annotations":{"secrun.io/policy":"p/enforce"},"process":{}}`, edits(mark("p/enforce"))},
		{"annotation replaced", `{"annotations":{"secrun.io/policy":"old","a":"b"},"process":{}}`, `{"annotations":{"secrun.io/policy":"p/enforce","a":"b"},"process":{}}`, edits(mark("p/enforce"))},
		{"annotation unchanged", `{"annotations":{"secrun.io/policy":"p/enforce"},"process":{}}`, `{"annotations":{"secrun.io/policy":"p/enforce"},"process":{}}`, edits(mark("p/enforce"))},
		{"annotation emptied", `{"annotations":{"secrun.io/policy":"x","a":"b"},"process":{}}`, `{"annotations":{"a":"b"},"process":{}}`, edits(mark(""))},
		{"annotation emptied, absent", `{"process":{}}`, `{"process":{},"annotations":{}}`, edits(mark(""))},
		{"indented annotations absent", "{\n\t\"process\": {}\n}",
			"{\n\t\"process\": {},\n\t\"annotations\": {\n\t\t\"secrun.io/policy\": \"p/enforce\"\n\t}\n}", edits(mark("p/enforce"))},
		{"indented annotations null", "{\n\t\"process\": {},\n\t\"annotations\": null\n}",
			"{\n\t\"process\": {},\n\t\"annotations\": {\n\t\t\"secrun.io/policy\": \"p/enforce\"\n\t}\n}", edits(mark("p/enforce"))},

		{"linux absent, nothing to hold", `{"process":{}}`, `{"process":{}}`, edits(seccomp(nil))},
		{"linux null, nothing to hold", `{"process":{},"linux":null}`, `{"process":{},"linux":{}}`, edits(seccomp(nil))},
		{"linux absent", `{"process":{}}`, `{"process":{},"linux":{"seccomp":{"defaultAction":"SCMP_ACT_ERRNO"}}}`, edits(seccomp(errnoProfile))},
		{"both added", `{"process":{}}`, `{"process":{},"annotations":{"secrun.io/policy":"p/enforce"},"linux":{"seccomp":{"defaultAction":"SCMP_ACT_ERRNO"}}}`, edits(seccomp(errnoProfile), mark("p/enforce"))},
		{"seccomp replaced", `{"process":{},"linux":{"seccomp":{"defaultAction":"SCMP_ACT_ALLOW"},"x":1}}`, `{"process":{},"linux":{"seccomp":{"defaultAction":"SCMP_ACT_ERRNO"},"x":1}}`, edits(seccomp(errnoProfile))},
		{"seccomp removed", `{"process":{},"linux":{"x":1,"seccomp":{"defaultAction":"SCMP_ACT_ALLOW"}}}`, `{"process":{},"linux":{"x":1}}`, edits(seccomp(nil))},

		{"escaped keys", `{"\u0070rocess":{"\u0061pparmorProfile":"x","cwd":"/"}}`, `{"\u0070rocess":{"cwd":"/"}}`, edits(noAppArmor)},
		{"whitespace inside owned value", `{"process":{"capabilities": { "bounding" : [ "CAP_KILL" ] }}}`, `{"process":{"capabilities": { "bounding" : [ "CAP_KILL" ] }}}`, edits(setCaps)},
		{"unowned bytes kept", `{"process":{"cwd":"\u002f","x":"<&>"},"n":1.50e0}`, `{"process":{"cwd":"\u002f","x":"<&>","noNewPrivileges":true},"n":1.50e0}`, edits(setNNP)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig("config.json", []byte(tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range tc.edits {
				e(c.Spec)
			}
			out, err := c.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tc.want {
				t.Errorf("got\n%q\nwant\n%q", out, tc.want)
			}
			sameAsLegacy(t, []byte(tc.doc), c.Spec, out)
		})
	}
}

func edits(e ...func(*specs.Spec)) []func(*specs.Spec) { return e }

func TestSpliceProcessFile(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{`{}`, `{"noNewPrivileges":true}`},
		{"{\n}\n", "{\n\t\"noNewPrivileges\": true\n}\n"},
		{`{"args":["sh"],"apparmorProfile":"unconfined"}`, `{"args":["sh"],"noNewPrivileges":true}`},
		{`{"noNewPrivileges":true}`, `{"noNewPrivileges":true}`},
	} {
		path := filepath.Join(t.TempDir(), "process.json")
		os.WriteFile(path, []byte(tc.doc), 0o600)
		p, err := LoadProcess(path)
		if err != nil {
			t.Fatal(err)
		}
		p.Process.NoNewPrivileges, p.Process.ApparmorProfile = true, ""
		out, err := p.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != tc.want {
			t.Errorf("%q: got %q, want %q", tc.doc, out, tc.want)
		}
		raw, err := legacyDecodeObject([]byte(tc.doc), path)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := legacyEncodeProcess(raw, p.Process, false)
		if !reflect.DeepEqual(decodeAny(t, out), decodeAny(t, want)) {
			t.Errorf("%q: decodes unlike the old encoding %s", out, want)
		}
	}
	path := filepath.Join(t.TempDir(), "process.json")
	os.WriteFile(path, []byte(`{"args":["sh"],"NoNewPrivileges":false}`), 0o600)
	if _, err := LoadProcess(path); err == nil || !strings.Contains(err.Error(), `must be spelled "noNewPrivileges"`) {
		t.Errorf("case variant in a process file: %v", err)
	}
}

// TestCompliantNotRewritten: once confined, a config.json is what the
// policy wants: Encode gives back its very bytes and Save does not write.
func TestCompliantNotRewritten(t *testing.T) {
	runcSpec, _ := os.ReadFile("testdata/runc-spec.json")
	for name, doc := range map[string]string{"runc spec": string(runcSpec), "docker": dockerSpec} {
		t.Run(name, func(t *testing.T) {
			dir := writeBundle(t, doc)
			p := policy(profiles.RuntimeDefault)
			apply(t, dir, p)
			path := filepath.Join(dir, "config.json")
			before, _ := os.Stat(path)
			c, err := LoadConfig(dir, "")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.ApplyConfig(c.Spec); err != nil {
				t.Fatal(err)
			}
			out, err := c.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, c.Orig) {
				t.Fatalf("a compliant spec was re-encoded:\n%s\n---\n%s", c.Orig, out)
			}
			changed, err := c.Save(out)
			if err != nil || changed {
				t.Fatalf("Save: changed %v, err %v", changed, err)
			}
			if after, _ := os.Stat(path); !os.SameFile(before, after) || !after.ModTime().Equal(before.ModTime()) {
				t.Error("config.json was written")
			}
		})
	}
}

func TestAmbiguousKeysAtAnyDepth(t *testing.T) {
	for _, tc := range []struct{ name, doc, want string }{
		{"user uid", `{"process":{"user":{"uid":1000,"UID":0}}}`, `process.user: keys "uid" and "UID" differ only in case`},
		{"mount source", `{"process":{},"mounts":[{"source":"/a"},{"source":"/b","Source":"/"}]}`, `mounts[1]: keys "source" and "Source"`},
		{"annotation twice", `{"process":{},"annotations":{"a":"1","a":"2"}}`, `annotations: key "a" appears twice`},
		{"annotation key path", `{"process":{},"x":{"a.b":{"k":1,"k":2}}}`, `x["a.b"]: key "k" appears twice`},
		{"escaped twice", `{"process":{},"\u0070rocess":{}}`, `key "process" appears twice`},
		{"long s", `{"process":{},"hostname":"a","hoſtname":"b"}`, `keys "hostname" and "hoſtname" differ only in case`},
		{"kelvin", `{"process":{"user":{"uid":0}},"x":{"k":1,"\u212a":2}}`, "x: keys \"k\" and \"\u212a\" differ only in case"},
		{"invalid UTF-8", "{\"process\":{},\"x\":{\"\xff\":1,\"\xfe\":2}}", "x: key \"\ufffd\" appears twice"},
		{"long s owned", `{"process":{},"linux":{"ſeccomp":{}}}`, `linux: key "ſeccomp" must be spelled "seccomp"`},
		{"policy annotation variant", `{"process":{},"annotations":{"Secrun.io/policy":""}}`, `annotations: key "Secrun.io/policy" must be spelled "secrun.io/policy"`},
		{"dotted i owned", `{"process":{},"lİnux":{}}`, `key "lİnux" must be spelled "linux"`},
		{"many keys", `{"process":{},"annotations":{` + manyKeys(40) + `,"K7":""}}`, `annotations: keys "k7" and "K7" differ only in case`},
	} {
		_, err := ParseConfig("config.json", []byte(tc.doc))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "config.json: ") {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
	// Distinct keys, many of them and alike, pass.
	if _, err := ParseConfig("config.json", []byte(`{"process":{},"annotations":{`+manyKeys(100)+`}}`)); err != nil {
		t.Error(err)
	}
}

func manyKeys(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"k` + strings.Repeat("x", i/10) + string(rune('0'+i%10)) + `":""`)
	}
	return b.String()
}

func TestNotAnObject(t *testing.T) {
	for doc, want := range map[string]string{
		`null`:                                "config.json: is JSON null, expected an object",
		` [] `:                                "config.json: is a JSON array, expected an object",
		`"x"`:                                 "config.json: is a JSON string, expected an object",
		"{\n,}":                               "config.json: invalid JSON at line 2",
		`{"a":1`:                              "config.json: invalid JSON at line 1",
		`{"process":{"user":{"uid":"root"}}}`: `config.json: field "process.user.uid" has the wrong type`,
	} {
		if _, err := ParseConfig("config.json", []byte(doc)); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", doc, err, want)
		}
	}
}
