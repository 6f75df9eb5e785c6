package spec

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// obj is a JSON object with its members in order, for generated documents.
type obj []kv

type kv struct {
	k string
	v any
}

// layout is how a generated document is written.
type layout struct{ nl, unit, colon, sep string }

var layouts = []layout{
	{"", "", ":", ""},             // containerd
	{"\n", "\t", ": ", ""},        // runc spec
	{"\n", "  ", ": ", ""},        // two spaces
	{"\r\n", "    ", ": ", ""},    // CRLF
	{"", "", " : ", " "},          // spaced, one line
	{"\n", "", ":", ""},           // wrapped, not indented
	{"\n\n", "\t ", " :\t", "  "}, // odd but valid
}

func render(b *strings.Builder, v any, l layout, depth int) {
	line := func(d int) {
		b.WriteString(l.nl)
		b.WriteString(strings.Repeat(l.unit, d))
		b.WriteString(l.sep)
	}
	switch v := v.(type) {
	case obj:
		b.WriteByte('{')
		for i, m := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			line(depth + 1)
			k, _ := json.Marshal(m.k)
			b.Write(k)
			b.WriteString(l.colon)
			render(b, m.v, l, depth+1)
		}
		if len(v) > 0 {
			line(depth)
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			line(depth + 1)
			render(b, e, l, depth+1)
		}
		if len(v) > 0 {
			line(depth)
		}
		b.WriteByte(']')
	case string:
		if strings.HasPrefix(v, "raw:") {
			b.WriteString(v[4:])
			return
		}
		s, _ := json.Marshal(v)
		b.Write(s)
	default:
		s, _ := json.Marshal(v)
		b.Write(s)
	}
}

// pick returns a random subset of ms in random order.
func pick(r *rand.Rand, ms ...kv) obj {
	var o obj
	for _, m := range ms {
		if r.IntN(3) > 0 {
			o = append(o, m)
		}
	}
	r.Shuffle(len(o), func(i, j int) { o[i], o[j] = o[j], o[i] })
	return o
}

func oneOf[T any](r *rand.Rand, vs ...T) T { return vs[r.IntN(len(vs))] }

func randomDoc(r *rand.Rand) string {
	caps := oneOf[any](r, obj{}, obj{{"bounding", []any{"CAP_KILL"}}}, obj{{"effective", []any{}}, {"bounding", []any{"CAP_KILL", "CAP_CHOWN"}}}, nil)
	proc := pick(r,
		kv{"args", []any{"sh"}}, kv{"cwd", "/"}, kv{"capabilities", caps},
		kv{"noNewPrivileges", oneOf[any](r, true, false)}, kv{"apparmorProfile", oneOf[any](r, "", "x", "raw:\"\\u0078\"")},
		kv{"x-p", obj{{"a", 1}}},
	)
	ann := oneOf[any](r, nil, obj{}, obj{{"a", "b"}}, obj{{"secrun.io/policy", "p/enforce"}}, obj{{"a", "b"}, {"secrun.io/policy", "old"}, {"c", "d"}})
	linux := oneOf[any](r, nil, obj{}, obj{{"seccomp", obj{{"defaultAction", "SCMP_ACT_ALLOW"}}}}, obj{{"x", 1}, {"seccomp", obj{{"defaultAction", "SCMP_ACT_ERRNO"}}}, {"y", []any{}}})
	top := pick(r, kv{"ociVersion", "1.0.2"}, kv{"annotations", ann}, kv{"linux", linux}, kv{"x", obj{}})
	top = append(top, kv{oneOf(r, "process", "raw:\"\\u0070rocess\""), proc})
	r.Shuffle(len(top), func(i, j int) { top[i], top[j] = top[j], top[i] })
	var b strings.Builder
	renderTop(&b, top, oneOf(r, layouts...))
	return b.String()
}

// renderTop writes top; keys spelled "raw:..." are written as they are.
func renderTop(b *strings.Builder, top obj, l layout) {
	var inner strings.Builder
	render(&inner, top, l, 0)
	s := inner.String()
	s = strings.ReplaceAll(s, `"raw:\"\\u0070rocess\""`, `"\u0070rocess"`)
	b.WriteString(s)
	b.WriteString(l.nl)
}

func randomEdit(r *rand.Rand, s *specs.Spec) {
	switch r.IntN(4) {
	case 0:
		s.Process.Capabilities = nil
	case 1:
		s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: []string{"CAP_KILL"}}
	case 2:
		s.Process.Capabilities = &specs.LinuxCapabilities{}
	}
	if r.IntN(2) == 0 {
		s.Process.NoNewPrivileges = r.IntN(2) == 0
	}
	if r.IntN(2) == 0 {
		s.Process.ApparmorProfile = oneOf(r, "", "x", "secrun-default")
	}
	switch r.IntN(4) {
	case 0:
		mark("p/enforce")(s)
	case 1:
		mark("")(s)
	}
	switch r.IntN(4) {
	case 0:
		s.Linux = nil
	case 1:
		seccomp(nil)(s)
	case 2:
		seccomp(&specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow}}})(s)
	}
}

// TestSpliceRandom: generated documents in every layout, with owned fields
// present, absent or null, edited at random, must splice into JSON that
// decodes as the old encoding did; encoding the output with the same edits
// must give it back unchanged.
func TestSpliceRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		doc := randomDoc(r)
		seed := r.Uint64()
		edit := func(s *specs.Spec) { randomEdit(rand.New(rand.NewPCG(seed, 0)), s) }
		c, err := ParseConfig("config.json", []byte(doc))
		if err != nil {
			t.Fatalf("%d: %v\n%s", i, err, doc)
		}
		edit(c.Spec)
		out, err := c.Encode()
		if err != nil {
			t.Fatalf("%d: %v\n%s", i, err, doc)
		}
		sameAsLegacy(t, []byte(doc), c.Spec, out)
		c2, err := ParseConfig("config.json", out)
		if err != nil {
			t.Fatalf("%d: output refused: %v\n%s", i, err, out)
		}
		edit(c2.Spec)
		out2, err := c2.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if string(out2) != string(out) {
			t.Fatalf("%d: not a fixed point:\n%q\n%q\n%q", i, doc, out, out2)
		}
	}
}
