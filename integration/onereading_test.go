package integration

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/secrun/secrun/profiles"
)

// One reading of config.json: documents that runc (encoding/json) or crun
// (yajl) would read otherwise than secrun are refused on every runtime, and
// the documents secrun accepts come up exactly as confined as the
// config.json it wrote says.

var adminCaps = fmt.Sprintf(`{"bounding":%[1]s,"effective":%[1]s,"permitted":%[1]s}`, `["CAP_SYS_ADMIN","CAP_KILL"]`)

// hostileDoc edits the compact JSON of a bundle's spec.
type hostileDoc struct {
	name string
	edit func(doc string) string
	// contrast: the runtime family ("runc" or "crun") that, given the
	// document directly, starts the container with CAP_SYS_ADMIN.
	contrast string
}

var adminProcess = `{"args":["/bin/probe","status"],"cwd":"/","user":{"uid":0,"gid":0},"capabilities":` + adminCaps + `}`

var hostileDocs = []hostileDoc{
	{"NUL key before process", func(d string) string { return `{"process\u0000":` + adminProcess + "," + d[1:] }, "crun"},
	{"NUL key before capabilities", func(d string) string {
		return strings.Replace(d, `"process":{`, `"process":{"capabilities\u0000":`+adminCaps+",", 1)
	}, "crun"},
	{"NUL key before noNewPrivileges", func(d string) string {
		return strings.Replace(d, `"process":{`, `"process":{"noNewPrivileges\u0000":false,`, 1)
	}, ""},
	{"case variant after process", func(d string) string { return d[:len(d)-1] + `,"Process":` + adminProcess + "}" }, "runc"},
	{"folded variant after process", func(d string) string { return d[:len(d)-1] + `,"proceſs":` + adminProcess + "}" }, "runc"},
	{"duplicate process", func(d string) string { return d[:len(d)-1] + `,"process":` + adminProcess + "}" }, "runc"},
	{"NUL in a bind source", func(d string) string {
		return strings.Replace(d, `"mounts":[`, `"mounts":[{"destination":"/hostetc","type":"bind","source":"/etc\u0000/../tmp","options":["rbind","ro"]},`, 1)
	}, ""},
	{"exponent uid", func(d string) string { return strings.Replace(d, `"uid":0`, `"uid":0e0`, 1) }, ""},
}

// compactSpec is the bundle's spec as containerd writes it: compact, keys in
// Go's order.
func compactSpec(t *testing.T, b *Bundle) string {
	data, err := json.Marshal(b.Spec)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func writeRaw(t *testing.T, b *Bundle, doc string) {
	if err := os.WriteFile(b.ConfigPath(), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestOneReadingRefused(t *testing.T) {
	for _, rt := range runtimes() {
		t.Run(rt.Name, func(t *testing.T) {
			e := newEnv(t, rt)
			for i, h := range hostileDocs {
				b := newBundle(t, "probe", "status")
				doc := h.edit(compactSpec(t, b))
				writeRaw(t, b, doc)
				id := fmt.Sprintf("hostile-%d-%s", i, rt.Name)
				if _, err := e.Create(t, b, id); err == nil {
					e.Cmd("", "delete", "--force", id).Run()
					t.Errorf("%s: created; want refused", h.name)
					continue
				}
				msg := lastError(t, filepath.Join(b.Dir, "log.json"))
				if !strings.Contains(msg, "config.json") {
					t.Errorf("%s: log.json's error %q does not name config.json", h.name, msg)
				}
				if got, _ := os.ReadFile(b.ConfigPath()); string(got) != doc {
					t.Errorf("%s: the refused config.json was changed", h.name)
				}
				if h.contrast == "" || !strings.HasPrefix(rt.Name, h.contrast) {
					continue
				}
				// The same document given to the runtime directly: the
				// attack is real on this runtime.
				writeRaw(t, b, doc)
				got := fields(e.Plain(t, b, "plain-"+id))
				if got["CapEff"] != capMask(t, []string{"CAP_SYS_ADMIN", "CAP_KILL"}) {
					t.Errorf("%s: plain %s gave CapEff %s; the contrast expects CAP_SYS_ADMIN", h.name, rt.Name, got["CapEff"])
				}
			}
		})
	}
}

// acceptedDocs are unusual spellings with one reading: escapes, unknown
// members whose names look like spec fields, annotations named like fields.
var acceptedDocs = []hostileDoc{
	{"escaped key", func(d string) string { return strings.Replace(d, `"process":`, `"proc\u0065ss":`, 1) }, ""},
	{"escaped strings", func(d string) string { return strings.Replace(d, `"probe"`, `"\u0070rob\u0065"`, 1) }, ""},
	{"unknown member holding a process", func(d string) string { return d[:len(d)-1] + `,"x-vendor":{"Process":` + adminProcess + "}}" }, ""},
	{"annotations named like fields", func(d string) string {
		return d[:len(d)-1] + `,"annotations":{"Process":"x","capabilities":"CAP_SYS_ADMIN"}}`
	}, ""},
}

func TestOneReadingAccepted(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 1))
	for _, rt := range runtimes() {
		t.Run(rt.Name, func(t *testing.T) {
			e := newEnv(t, rt)
			docs := append([]hostileDoc{}, acceptedDocs...)
			for i := range 3 {
				seed := r.Uint64()
				docs = append(docs, hostileDoc{fmt.Sprintf("random spelling %d", i), func(d string) string { return respell(d, seed) }, ""})
			}
			for i, h := range docs {
				b := newBundle(t, "probe", "status")
				writeRaw(t, b, h.edit(compactSpec(t, b)))
				out, err := e.Run(t, b, fmt.Sprintf("accepted-%d-%s", i, rt.Name))
				if err != nil {
					t.Errorf("%s: %v", h.name, err)
					continue
				}
				insideMatchesSpec(t, h.name, b, fields(out))
			}
		})
	}
}

// insideMatchesSpec: what the container reads of itself is what the
// config.json secrun wrote says.
func insideMatchesSpec(t *testing.T, what string, b *Bundle, got map[string]string) {
	t.Helper()
	var s struct {
		Process struct {
			NoNewPrivileges bool `json:"noNewPrivileges"`
			Capabilities    struct {
				Bounding, Effective []string
			} `json:"capabilities"`
		} `json:"process"`
		Linux struct {
			Seccomp *struct{} `json:"seccomp"`
		} `json:"linux"`
	}
	data, _ := os.ReadFile(b.ConfigPath())
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("%s: secrun's config.json: %v", what, err)
	}
	want := map[string]string{
		"CapEff":     capMask(t, s.Process.Capabilities.Effective),
		"CapBnd":     capMask(t, s.Process.Capabilities.Bounding),
		"NoNewPrivs": map[bool]string{true: "1", false: "0"}[s.Process.NoNewPrivileges],
		"Seccomp":    map[bool]string{true: "2", false: "0"}[s.Linux.Seccomp != nil],
	}
	if want["CapEff"] != capMask(t, profiles.BaselineCaps()) || want["NoNewPrivs"] != "1" || want["Seccomp"] != "2" {
		t.Errorf("%s: secrun wrote a spec that is not the policy's: %v", what, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: inside the container %s = %q, config.json says %q", what, k, got[k], v)
		}
	}
}

// respell writes the same document with random escapes of ASCII letters in
// keys and strings, random whitespace and member order: every spelling
// must read the same to secrun, runc and crun.
func respell(doc string, seed uint64) string {
	r := rand.New(rand.NewPCG(seed, 7))
	var v any
	json.Unmarshal([]byte(doc), &v)
	var b strings.Builder
	var write func(v any)
	ws := func() {
		b.WriteString([]string{"", "", " ", "\n\t", "\r\n "}[r.IntN(5)])
	}
	str := func(s string) {
		b.WriteByte('"')
		for _, c := range s {
			switch {
			case c < 0x80 && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') && r.IntN(3) == 0:
				fmt.Fprintf(&b, `\u%04x`, c)
			case c == '"' || c == '\\':
				b.WriteByte('\\')
				b.WriteRune(c)
			case c == '/' && r.IntN(2) == 0:
				b.WriteString(`\/`)
			case c < 0x20:
				fmt.Fprintf(&b, `\u%04x`, c)
			default:
				b.WriteRune(c)
			}
		}
		b.WriteByte('"')
	}
	write = func(v any) {
		ws()
		switch v := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			r.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
			b.WriteByte('{')
			for i, k := range keys {
				if i > 0 {
					b.WriteByte(',')
				}
				ws()
				str(k)
				ws()
				b.WriteByte(':')
				write(v[k])
			}
			ws()
			b.WriteByte('}')
		case []any:
			b.WriteByte('[')
			for i, e := range v {
				if i > 0 {
					b.WriteByte(',')
				}
				write(e)
			}
			ws()
			b.WriteByte(']')
		case string:
			str(v)
		default:
			data, _ := json.Marshal(v)
			b.Write(data)
		}
		ws()
	}
	write(v)
	return b.String()
}

// The process file of `exec --process` gets the same one reading: a NUL key
// (crun reads it), a case variant or a duplicate (runc reads it) is refused.
func TestOneReadingExecProcess(t *testing.T) {
	base := `"args":["/bin/probe","status"],"cwd":"/","env":["PATH=/bin"],"user":{"uid":0,"gid":0}`
	stock := fmt.Sprintf(`{"bounding":%[1]s,"effective":%[1]s,"permitted":%[1]s}`, mustJSON(profiles.StockCaps()))
	docs := map[string]string{
		"NUL key":   `{` + base + `,"capabilities\u0000":` + adminCaps + `,"capabilities":` + stock + `}`,
		"variant":   `{` + base + `,"capabilities":` + stock + `,"Capabilities":` + adminCaps + `}`,
		"duplicate": `{` + base + `,"capabilities":` + stock + `,"capabilities":` + adminCaps + `}`,
	}
	for _, rt := range runtimes() {
		t.Run(rt.Name, func(t *testing.T) {
			e := newEnv(t, rt)
			b := newBundle(t, "probe", "sleep", "60")
			id := "exec1r-" + rt.Name
			e.Started(t, b, id)
			for name, doc := range docs {
				procFile := filepath.Join(t.TempDir(), "process.json")
				os.WriteFile(procFile, []byte(doc), 0o600)
				if out, err := e.Cmd(b.Dir, "exec", "--process", procFile, id).CombinedOutput(); err == nil {
					t.Errorf("%s: exec ran:\n%s", name, out)
					continue
				}
				if msg := lastError(t, filepath.Join(b.Dir, "log.json")); !strings.Contains(msg, procFile) {
					t.Errorf("%s: log.json error %q does not name the process file", name, msg)
				}
			}
		})
	}
}

func mustJSON(v any) string {
	data, _ := json.Marshal(v)
	return string(data)
}
