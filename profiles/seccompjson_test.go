package profiles

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func stdJSON(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// A runtime-spec upgrade that adds a seccomp field must fail here, not
// silently drop the field from every profile secrun writes.
func TestSeccompJSONKnowsEveryField(t *testing.T) {
	want := map[reflect.Type]string{
		reflect.TypeFor[specs.LinuxSeccomp]():      "defaultAction defaultErrnoRet,omitempty architectures,omitempty flags,omitempty listenerPath,omitempty listenerMetadata,omitempty syscalls,omitempty",
		reflect.TypeFor[specs.LinuxSyscall]():      "names action errnoRet,omitempty args,omitempty",
		reflect.TypeFor[specs.LinuxSeccompArg]():   "index value valueTwo,omitempty op",
		reflect.TypeFor[specs.LinuxCapabilities](): "bounding,omitempty effective,omitempty inheritable,omitempty permitted,omitempty ambient,omitempty",
	}
	for typ, tags := range want {
		var got []string
		for i := range typ.NumField() {
			got = append(got, typ.Field(i).Tag.Get("json"))
		}
		if g := joinSpace(got); g != tags {
			t.Errorf("%s fields are now %q; AppendSeccompJSON writes %q: update it", typ, g, tags)
		}
	}
}

func joinSpace(s []string) string {
	var b bytes.Buffer
	for i, x := range s {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(x)
	}
	return b.String()
}

func TestSeccompJSON(t *testing.T) {
	// Docker's default as secrun resolves it, and its complain form.
	def, err := Levels[RuntimeDefault].Seccomp(Baseline)
	if err != nil {
		t.Fatal(err)
	}
	cases := []*specs.LinuxSeccomp{nil, {}, def}
	r := rand.New(rand.NewPCG(1, 2))
	strs := []string{"", "SCMP_ACT_ERRNO", "read", "a\"b", `back\slash`, "<&>", "tab\there", "\x00\x1f", "ünï", "\u2028", "bad\xffutf8", "\x7f"}
	str := func() string { return strs[r.IntN(len(strs))] }
	errno := func() *uint {
		if r.IntN(3) == 0 {
			return nil
		}
		v := uint(r.Uint64())
		return &v
	}
	strSlice := func() []string {
		switch r.IntN(4) {
		case 0:
			return nil
		case 1:
			return []string{}
		}
		s := make([]string, r.IntN(4)+1)
		for i := range s {
			s[i] = str()
		}
		return s
	}
	for range 500 {
		p := &specs.LinuxSeccomp{
			DefaultAction: specs.LinuxSeccompAction(str()), DefaultErrnoRet: errno(),
			ListenerPath: str(), ListenerMetadata: str(),
		}
		for _, a := range strSlice() {
			p.Architectures = append(p.Architectures, specs.Arch(a))
		}
		for _, f := range strSlice() {
			p.Flags = append(p.Flags, specs.LinuxSeccompFlag(f))
		}
		if r.IntN(5) == 0 {
			p.Flags = []specs.LinuxSeccompFlag{}
		}
		for range r.IntN(5) {
			s := specs.LinuxSyscall{Names: strSlice(), Action: specs.LinuxSeccompAction(str()), ErrnoRet: errno()}
			for range r.IntN(3) {
				s.Args = append(s.Args, specs.LinuxSeccompArg{Index: uint(r.Uint64()), Value: r.Uint64(), ValueTwo: r.Uint64() * uint64(r.IntN(2)), Op: specs.LinuxSeccompOperator(str())})
			}
			if r.IntN(6) == 0 {
				s.Args = []specs.LinuxSeccompArg{}
			}
			p.Syscalls = append(p.Syscalls, s)
		}
		if r.IntN(8) == 0 {
			p.Syscalls = []specs.LinuxSyscall{}
		}
		cases = append(cases, p)
	}
	for i, p := range cases {
		want := stdJSON(t, p)
		if got := AppendSeccompJSON(nil, p); !bytes.Equal(got, want) {
			t.Fatalf("case %d:\n got %s\nwant %s", i, got, want)
		}
	}
	capCases := []*specs.LinuxCapabilities{nil, {}, {Bounding: Stock, Effective: Stock, Permitted: Stock}}
	for range 300 {
		capCases = append(capCases, &specs.LinuxCapabilities{Bounding: strSlice(), Effective: strSlice(), Inheritable: strSlice(), Permitted: strSlice(), Ambient: strSlice()})
	}
	for i, c := range capCases {
		want := stdJSON(t, c)
		if got := AppendCapabilitiesJSON(nil, c); !bytes.Equal(got, want) {
			t.Fatalf("capabilities case %d:\n got %s\nwant %s", i, got, want)
		}
	}
	for _, s := range strs {
		if got, want := AppendJSONString(nil, s), stdJSON(t, s); !bytes.Equal(got, want) {
			t.Fatalf("string %q: got %s, want %s", s, got, want)
		}
	}
}
