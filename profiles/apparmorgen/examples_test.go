package apparmorgen

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secrun/secrun/profiles"
)

func exampleFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob("examples/*")
	if err != nil || len(files) < 3 {
		t.Fatalf("examples: %v %v", files, err)
	}
	return files
}

// Every example policy generates, in both modes, a profile the real parser
// compiles.
func TestExamplesCompile(t *testing.T) {
	parser := parserPath(t)
	for _, file := range exampleFiles(t) {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		p, err := ParsePolicy(file, data)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if p.Name == "" {
			t.Errorf("%s: examples should name their profile", file)
		}
		for _, mode := range []string{"enforce", "complain"} {
			q := *p
			q.Mode = mode
			text, err := Generate(&q)
			if err != nil {
				t.Fatalf("%s (%s): %v", file, mode, err)
			}
			mustCompile(t, parser, file+" "+mode, text)
		}
	}
}

// The embedded default compiles in both modes, under its own name and
// another, as `secrun apparmor default` prints it.
func TestDefaultCompiles(t *testing.T) {
	parser := parserPath(t)
	for _, name := range []string{profiles.DefaultAppArmor, "web-1.2_x"} {
		for _, mode := range []string{"enforce", "complain"} {
			var out, errb strings.Builder
			c := &cli{host: &profiles.AppArmorHost{}, stdout: &out, stderr: &errb}
			if code := c.run([]string{"default", "--name", name, "--mode", mode}); code != 0 {
				t.Fatalf("default: %d %s", code, errb.String())
			}
			if out.String() != profiles.AppArmorDefault(name, mode == "complain") {
				t.Error("default does not print profiles.AppArmorDefault")
			}
			mustCompile(t, parser, "default "+name+" "+mode, out.String())
		}
	}
}
