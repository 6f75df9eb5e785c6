package spec

import (
	"encoding/json"
	"reflect"
	"strconv"
	"unicode/utf8"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// decodeView fills v from data, as json.Unmarshal(data, v) would: same
// values, same refusals of wrong types. data must be valid JSON whose keys
// the scan found unambiguous (so matching a name case-insensitively, as
// encoding/json does, finds at most one member).
//
// Why by hand: secrun decodes one spec per process. encoding/json's first
// decode into a struct type analyses the type by reflection, and the code it
// runs is paged in for that one use: measured, that made decoding the view
// cost several times the rest of the parse. Only the few fields of view are
// walked here; the rest of the document is skipped by the scanner.
// FuzzApplyConfig holds it to json.Unmarshal into the same view.
func decodeView(data []byte, top int, v *view) error {
	d := &viewDecoder{data: data}
	return d.object(top, "", func(name []byte, s, e int) error {
		switch {
		case foldEqual(name, "process"):
			return d.ptr(s, func() error {
				v.Process = &processView{}
				return d.process(s, v.Process)
			})
		case foldEqual(name, "mounts"):
			return d.array(s, "mounts", func() { v.Mounts = []mountView{} }, func(s, e int) error {
				v.Mounts = append(v.Mounts, mountView{})
				return d.mount(s, &v.Mounts[len(v.Mounts)-1])
			})
		case foldEqual(name, "annotations"):
			return d.stringMap(s, "annotations", &v.Annotations)
		case foldEqual(name, "linux"):
			return d.ptr(s, func() error {
				v.Linux = &linuxView{}
				return d.linux(s, e, v.Linux)
			})
		}
		return nil
	})
}

type viewDecoder struct{ data []byte }

// typeError is what encoding/json reports for a value of the wrong kind.
func (d *viewDecoder) typeError(s int, field string, want reflect.Type) error {
	kind := map[byte]string{'{': "object", '[': "array", '"': "string", 't': "bool", 'f': "bool"}[d.data[s]]
	if kind == "" {
		kind = "number " + string(d.literal(s))
	}
	return &json.UnmarshalTypeError{Value: kind, Type: want, Offset: int64(s), Field: field}
}

func (d *viewDecoder) literal(s int) []byte {
	e := s
	for e < len(d.data) && !isDelim(d.data[e]) {
		e++
	}
	return d.data[s:e]
}

func isDelim(c byte) bool {
	switch c {
	case ',', '}', ']', ' ', '\t', '\r', '\n':
		return true
	}
	return false
}

func (d *viewDecoder) null(s int) bool { return d.data[s] == 'n' }

// ptr runs fill unless the value is null (which leaves a pointer nil).
func (d *viewDecoder) ptr(s int, fill func() error) error {
	if d.null(s) {
		return nil
	}
	return fill()
}

// object calls fn for each member of the object at s; null has none.
func (d *viewDecoder) object(s int, field string, fn func(name []byte, s, e int) error) error {
	if d.null(s) {
		return nil
	}
	if d.data[s] != '{' {
		return d.typeError(s, field, reflect.TypeFor[struct{}]())
	}
	sc := &scanner{data: d.data, pos: s + 1}
	for {
		sc.ws()
		if sc.peek() == '}' {
			return nil
		}
		ks := sc.pos
		if err := sc.str(); err != nil {
			return err
		}
		name, err := sc.name(ks, sc.pos)
		if err != nil {
			return err
		}
		sc.ws()
		sc.pos++ // :
		sc.ws()
		vs := sc.pos
		if _, err := sc.value(1, "", false); err != nil {
			return err
		}
		if err := fn(name, vs, sc.pos); err != nil {
			return err
		}
		sc.ws()
		if sc.peek() == ',' {
			sc.pos++
		}
	}
}

// array calls start once (a JSON array, even empty, is a non-nil slice) and
// elem for each element; null leaves the slice nil.
func (d *viewDecoder) array(s int, field string, start func(), elem func(s, e int) error) error {
	if d.null(s) {
		return nil
	}
	if d.data[s] != '[' {
		return d.typeError(s, field, reflect.TypeFor[[]any]())
	}
	start()
	sc := &scanner{data: d.data, pos: s + 1}
	for {
		sc.ws()
		if sc.peek() == ']' {
			return nil
		}
		vs := sc.pos
		if _, err := sc.value(1, "", false); err != nil {
			return err
		}
		if err := elem(vs, sc.pos); err != nil {
			return err
		}
		sc.ws()
		if sc.peek() == ',' {
			sc.pos++
		}
	}
}

// str decodes a string into *dst; null leaves it as it is.
func (d *viewDecoder) str(s, e int, field string, dst *string) error {
	if d.null(s) {
		return nil
	}
	if d.data[s] != '"' {
		return d.typeError(s, field, reflect.TypeFor[string]())
	}
	raw := d.data[s+1 : e-1]
	for _, c := range raw {
		if c == '\\' || c >= utf8.RuneSelf {
			// Escapes, and invalid UTF-8 (which becomes U+FFFD): the
			// decoder's own rules.
			return json.Unmarshal(d.data[s:e], dst)
		}
	}
	*dst = string(raw)
	return nil
}

func (d *viewDecoder) strings(s int, field string, dst *[]string) error {
	return d.array(s, field, func() { *dst = []string{} }, func(s, e int) error {
		*dst = append(*dst, "")
		return d.str(s, e, field, &(*dst)[len(*dst)-1])
	})
}

func (d *viewDecoder) stringMap(s int, field string, dst *map[string]string) error {
	if d.null(s) {
		return nil
	}
	if d.data[s] != '{' {
		return d.typeError(s, field, reflect.TypeFor[map[string]string]())
	}
	*dst = map[string]string{}
	return d.object(s, field, func(name []byte, s, e int) error {
		var v string
		if err := d.str(s, e, field, &v); err != nil {
			return err
		}
		(*dst)[string(name)] = v
		return nil
	})
}

func (d *viewDecoder) boolean(s int, field string, dst *bool) error {
	switch d.data[s] {
	case 'n':
		return nil
	case 't', 'f':
		*dst = d.data[s] == 't'
		return nil
	}
	return d.typeError(s, field, reflect.TypeFor[bool]())
}

func (d *viewDecoder) uint32(s int, field string, dst *uint32) error {
	if d.null(s) {
		return nil
	}
	n, err := strconv.ParseUint(string(d.literal(s)), 10, 32)
	if err != nil || d.data[s] == '"' {
		return d.typeError(s, field, reflect.TypeFor[uint32]())
	}
	*dst = uint32(n)
	return nil
}

func (d *viewDecoder) int64Ptr(s int, field string, dst **int64) error {
	if d.null(s) {
		return nil
	}
	n, err := strconv.ParseInt(string(d.literal(s)), 10, 64)
	if err != nil || d.data[s] == '"' {
		return d.typeError(s, field, reflect.TypeFor[int64]())
	}
	*dst = &n
	return nil
}

func (d *viewDecoder) process(s int, p *processView) error {
	return d.object(s, "process", func(name []byte, s, e int) error {
		switch {
		case foldEqual(name, "user"):
			return d.object(s, "process.user", func(name []byte, s, e int) error {
				switch {
				case foldEqual(name, "uid"):
					return d.uint32(s, "process.user.uid", &p.User.UID)
				case foldEqual(name, "gid"):
					return d.uint32(s, "process.user.gid", &p.User.GID)
				}
				return nil
			})
		case foldEqual(name, "capabilities"):
			return d.ptr(s, func() error {
				p.Capabilities = &specs.LinuxCapabilities{}
				return d.capabilities(s, p.Capabilities)
			})
		case foldEqual(name, "noNewPrivileges"):
			return d.boolean(s, "process.noNewPrivileges", &p.NoNewPrivileges)
		case foldEqual(name, "apparmorProfile"):
			return d.str(s, e, "process.apparmorProfile", &p.ApparmorProfile)
		}
		return nil
	})
}

func (d *viewDecoder) capabilities(s int, c *specs.LinuxCapabilities) error {
	return d.object(s, "process.capabilities", func(name []byte, s, e int) error {
		for _, f := range []struct {
			name string
			set  *[]string
		}{{"bounding", &c.Bounding}, {"effective", &c.Effective}, {"inheritable", &c.Inheritable}, {"permitted", &c.Permitted}, {"ambient", &c.Ambient}} {
			if foldEqual(name, f.name) {
				return d.strings(s, "process.capabilities."+f.name, f.set)
			}
		}
		return nil
	})
}

func (d *viewDecoder) mount(s int, m *mountView) error {
	return d.object(s, "mounts", func(name []byte, s, e int) error {
		switch {
		case foldEqual(name, "destination"):
			return d.str(s, e, "mounts.destination", &m.Destination)
		case foldEqual(name, "type"):
			return d.str(s, e, "mounts.type", &m.Type)
		case foldEqual(name, "source"):
			return d.str(s, e, "mounts.source", &m.Source)
		case foldEqual(name, "options"):
			return d.strings(s, "mounts.options", &m.Options)
		}
		return nil
	})
}

func (d *viewDecoder) linux(s, e int, l *linuxView) error {
	return d.object(s, "linux", func(name []byte, s, e int) error {
		switch {
		case foldEqual(name, "namespaces"):
			return d.array(s, "linux.namespaces", func() { l.Namespaces = []specs.LinuxNamespace{} }, func(s, e int) error {
				l.Namespaces = append(l.Namespaces, specs.LinuxNamespace{})
				ns := &l.Namespaces[len(l.Namespaces)-1]
				return d.object(s, "linux.namespaces", func(name []byte, s, e int) error {
					switch {
					case foldEqual(name, "type"):
						var t string
						err := d.str(s, e, "linux.namespaces.type", &t)
						ns.Type = specs.LinuxNamespaceType(t)
						return err
					case foldEqual(name, "path"):
						return d.str(s, e, "linux.namespaces.path", &ns.Path)
					}
					return nil
				})
			})
		case foldEqual(name, "resources"):
			return d.ptr(s, func() error {
				l.Resources = &resourcesView{}
				return d.object(s, "linux.resources", func(name []byte, s, e int) error {
					if !foldEqual(name, "devices") {
						return nil
					}
					return d.array(s, "linux.resources.devices", func() { l.Resources.Devices = []specs.LinuxDeviceCgroup{} }, func(s, e int) error {
						l.Resources.Devices = append(l.Resources.Devices, specs.LinuxDeviceCgroup{})
						return d.device(s, &l.Resources.Devices[len(l.Resources.Devices)-1])
					})
				})
			})
		case foldEqual(name, "seccomp"):
			// Present only when the pod picked a profile: the one
			// value decoded by encoding/json.
			return d.ptr(s, func() error {
				l.Seccomp = &specs.LinuxSeccomp{}
				if err := json.Unmarshal(d.data[s:e], l.Seccomp); err != nil {
					return withField(err, "linux.seccomp", s)
				}
				return nil
			})
		case foldEqual(name, "sysctl"):
			return d.stringMap(s, "linux.sysctl", &l.Sysctl)
		case foldEqual(name, "maskedPaths"):
			return d.strings(s, "linux.maskedPaths", &l.MaskedPaths)
		case foldEqual(name, "readonlyPaths"):
			return d.strings(s, "linux.readonlyPaths", &l.ReadonlyPaths)
		}
		return nil
	})
}

func (d *viewDecoder) device(s int, dev *specs.LinuxDeviceCgroup) error {
	const f = "linux.resources.devices."
	return d.object(s, "linux.resources.devices", func(name []byte, s, e int) error {
		switch {
		case foldEqual(name, "allow"):
			return d.boolean(s, f+"allow", &dev.Allow)
		case foldEqual(name, "type"):
			return d.str(s, e, f+"type", &dev.Type)
		case foldEqual(name, "major"):
			return d.int64Ptr(s, f+"major", &dev.Major)
		case foldEqual(name, "minor"):
			return d.int64Ptr(s, f+"minor", &dev.Minor)
		case foldEqual(name, "access"):
			return d.str(s, e, f+"access", &dev.Access)
		}
		return nil
	})
}

// withField places an error from decoding a sub-document in the whole one.
func withField(err error, field string, off int) error {
	if te, ok := err.(*json.UnmarshalTypeError); ok {
		te.Field = field + "." + te.Field
		te.Offset += int64(off)
	}
	return err
}
