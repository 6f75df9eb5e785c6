package config

import (
	"os"
	"testing"
)

// FuzzLoad: any file either loads into a config whose policy resolves, or
// fails with an error that names the file.
func FuzzLoad(f *testing.F) {
	if data, err := os.ReadFile("../deploy/config.toml"); err == nil {
		f.Add(string(data))
	}
	f.Add(rulesConfig)
	f.Add("runtime = [\"crun\", 3]\n[seccomp]\nmode = \"complain\"")
	f.Add("[[rules]]\nnamespace = \"[\"\n")
	f.Fuzz(func(t *testing.T, text string) {
		path := write(t, text, 0o644)
		c, err := Load(path)
		if err != nil {
			if !containsPath(err.Error(), path) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if _, _, err := c.PolicyFor(nil, map[string]string{AnnNamespace: "kube-system"}); err != nil && !containsPath(err.Error(), path) {
			t.Fatalf("policy error does not name the file: %v", err)
		}
	})
}

func containsPath(msg, path string) bool {
	for i := 0; i+len(path) <= len(msg); i++ {
		if msg[i:i+len(path)] == path {
			return true
		}
	}
	return false
}
