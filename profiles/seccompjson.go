package profiles

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// AppendSeccompJSON appends p as encoding/json's Encoder writes it with
// SetEscapeHTML(false) (as package spec does), without the trailing newline:
// the same bytes, field for field. secrun writes this profile on
// every create, in a process that lives a few milliseconds: encoding/json's
// first use of these types (reflection, encoder caches, code never paged in)
// costs more there than the encoding itself. TestSeccompJSON holds it to
// encoding/json's output and to the runtime-spec fields it knows.
func AppendSeccompJSON(b []byte, p *specs.LinuxSeccomp) []byte {
	if p == nil {
		return append(b, "null"...)
	}
	b = append(b, `{"defaultAction":`...)
	b = appendString(b, string(p.DefaultAction))
	if p.DefaultErrnoRet != nil {
		b = append(b, `,"defaultErrnoRet":`...)
		b = strconv.AppendUint(b, uint64(*p.DefaultErrnoRet), 10)
	}
	if len(p.Architectures) > 0 {
		b = append(b, `,"architectures":`...)
		b = appendStrings(b, p.Architectures)
	}
	if len(p.Flags) > 0 {
		b = append(b, `,"flags":`...)
		b = appendStrings(b, p.Flags)
	}
	if p.ListenerPath != "" {
		b = append(b, `,"listenerPath":`...)
		b = appendString(b, p.ListenerPath)
	}
	if p.ListenerMetadata != "" {
		b = append(b, `,"listenerMetadata":`...)
		b = appendString(b, p.ListenerMetadata)
	}
	if len(p.Syscalls) > 0 {
		b = append(b, `,"syscalls":[`...)
		for i, r := range p.Syscalls {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendSyscall(b, &r)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

func appendSyscall(b []byte, r *specs.LinuxSyscall) []byte {
	b = append(b, `{"names":`...)
	b = appendStrings(b, r.Names)
	b = append(b, `,"action":`...)
	b = appendString(b, string(r.Action))
	if r.ErrnoRet != nil {
		b = append(b, `,"errnoRet":`...)
		b = strconv.AppendUint(b, uint64(*r.ErrnoRet), 10)
	}
	if len(r.Args) > 0 {
		b = append(b, `,"args":[`...)
		for i, a := range r.Args {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"index":`...)
			b = strconv.AppendUint(b, uint64(a.Index), 10)
			b = append(b, `,"value":`...)
			b = strconv.AppendUint(b, a.Value, 10)
			if a.ValueTwo != 0 {
				b = append(b, `,"valueTwo":`...)
				b = strconv.AppendUint(b, a.ValueTwo, 10)
			}
			b = append(b, `,"op":`...)
			b = appendString(b, string(a.Op))
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// AppendCapabilitiesJSON appends c as encoding/json writes it (see
// AppendSeccompJSON): written on every create too.
func AppendCapabilitiesJSON(b []byte, c *specs.LinuxCapabilities) []byte {
	if c == nil {
		return append(b, "null"...)
	}
	b = append(b, '{')
	first := true
	for _, f := range []struct {
		name string
		set  []string
	}{{"bounding", c.Bounding}, {"effective", c.Effective}, {"inheritable", c.Inheritable}, {"permitted", c.Permitted}, {"ambient", c.Ambient}} {
		if len(f.set) == 0 {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, '"')
		b = append(b, f.name...)
		b = append(b, `":`...)
		b = appendStrings(b, f.set)
	}
	return append(b, '}')
}

// AppendJSONString appends s as a JSON string, as encoding/json writes it
// without HTML escaping.
func AppendJSONString(b []byte, s string) []byte { return appendString(b, s) }

// appendStrings writes a string slice; nil is null, as encoding/json has it.
func appendStrings[S ~string](b []byte, s []S) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, v := range s {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, string(v))
	}
	return append(b, ']')
}

// appendString writes plain ASCII directly and leaves anything that needs
// escaping to encoding/json, so the rules stay exactly its own.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.Encode(s)
			return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
