package spec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Documents that runc (encoding/json) or crun (yajl) would read otherwise
// than secrun: each must be refused with the file and the place named.
func TestOneReadingRefusals(t *testing.T) {
	admin := `{"bounding":["CAP_SYS_ADMIN"],"effective":["CAP_SYS_ADMIN"],"permitted":["CAP_SYS_ADMIN"]}`
	for name, tc := range map[string]struct{ doc, want string }{
		"NUL key before the real one": {`{"process\u0000":{"args":["sh"],"capabilities":` + admin + `},"process":{"args":["sh"]}}`, "control character"},
		"NUL capabilities key":        {`{"process":{"args":["sh"],"capabilities\u0000":` + admin + `,"capabilities":{}}}`, "control character"},
		"NUL noNewPrivileges key":     {`{"process":{"args":["sh"],"noNewPrivileges\u0000":false,"noNewPrivileges":true}}`, "control character"},
		"newline in a key":            {`{"process":{"args":["sh"]},"linux\n":{}}`, "control character"},
		"case variant":                {`{"process":{"args":["sh"]},"Process":{"args":["sh"]}}`, `must be spelled "process"`},
		"long s folds to s":           {`{"process":{"args":["sh"]},"proceſs":{"args":["sh"]}}`, `must be spelled "process"`},
		"Kelvin sign folds to k":      {`{"process":{"args":["sh"]},"linux":{"mas\u212AedPaths":[]}}`, `must be spelled "maskedPaths"`},
		"variant deep down":           {`{"process":{"args":["sh"]},"linux":{"resources":{"devices":[{"Allow":true,"access":"rwm"}]}}}`, `must be spelled "allow"`},
		"variant in a mount":          {`{"process":{"args":["sh"]},"mounts":[{"destination":"/x","Source":"/etc"}]}`, `must be spelled "source"`},
		"duplicate":                   {`{"process":{"args":["sh"]},"process":{"args":["sh"]}}`, "duplicate"},
		"escaped duplicate":           {`{"process":{"args":["sh"]},"proc\u0065ss":{"args":["sh"]}}`, "duplicate"},
		"duplicate annotation":        {`{"process":{"args":["sh"]},"annotations":{"a":"1","a":"2"}}`, "duplicate"},
		"NUL in a mount source":       {`{"process":{"args":["sh"]},"mounts":[{"destination":"/x","type":"bind","source":"/etc\u0000/../tmp"}]}`, "NUL"},
		"NUL in an unknown field":     {`{"process":{"args":["sh"]},"x":["a\u0000"]}`, "NUL"},
		"lone surrogate":              {`{"process":{"args":["\ud800"]}}`, "surrogate"},
		"invalid UTF-8":               {"{\"process\":{\"args\":[\"\xff\"]}}", "UTF-8"},
		"exponent uid":                {`{"process":{"args":["sh"],"user":{"uid":1e3}}}`, "/process/user/uid"},
		"fraction uid":                {`{"process":{"args":["sh"],"user":{"uid":1000.0}}}`, "/process/user/uid"},
		"negative zero":               {`{"process":{"args":["sh"],"user":{"uid":-0}}}`, "/process/user/uid"},
		"uid out of range":            {`{"process":{"args":["sh"],"user":{"uid":4294967296}}}`, "out of range"},
		"comment":                     {`{"process":{"args":["sh"]} /* x */}`, "invalid JSON"},
		"trailing data":               {`{"process":{"args":["sh"]}} {}`, "invalid JSON"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := writeBundle(t, tc.doc)
			_, err := LoadConfig(dir, "")
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "config.json") {
				t.Fatalf("err = %v, want one naming config.json and %q", err, tc.want)
			}
			if got, _ := os.ReadFile(filepath.Join(dir, "config.json")); string(got) != tc.doc {
				t.Error("file changed")
			}
		})
	}
}

// Free-form maps (annotations, sysctl) are maps in every reader: any key
// that is not a control character is theirs.
func TestOneReadingAccepts(t *testing.T) {
	for _, doc := range []string{
		`{"process":{"args":["sh"]},"annotations":{"Process":"1","process":"2","é":"3"}}`,
		`{"process":{"args":["sh"]},"linux":{"sysctl":{"Net.X":"1","net.x":"2"}}}`,
		`{"process":{"args":["sh"]},"x-vendor":{"Process":1,"process":2}}`,
	} {
		if _, err := ParseConfig("config.json", []byte(doc)); err != nil {
			t.Errorf("%s: %v", doc, err)
		}
	}
}

func TestProcessFileOneReading(t *testing.T) {
	for _, doc := range []string{
		`{"args":["sh"],"capabilities\u0000":{"bounding":["CAP_SYS_ADMIN"]},"capabilities":{}}`,
		`{"args":["sh"],"Capabilities":{"bounding":["CAP_SYS_ADMIN"]}}`,
		`{"args":["sh"],"noNewPrivileges":false,"noNewPrivileges":true}`,
		`{"args":["sh"],"user":{"UID":0}}`,
	} {
		path := filepath.Join(t.TempDir(), "process.json")
		os.WriteFile(path, []byte(doc), 0o600)
		if _, err := LoadProcess(path); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: err = %v", doc, err)
		}
	}
}
