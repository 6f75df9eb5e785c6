// Command specexec is the least a Go wrapper that rewrites the spec does
// with secrun's JSON library: for `create --bundle DIR` it reads
// DIR/config.json, decodes it into the runtime-spec type, encodes it again,
// replaces the file by rename, and execve's $GOEXEC_TARGET with its own
// argv[1:] and environment, as goexec does. It applies no policy.
//
// With SPECEXEC_FILE set it rewrites that file instead of config.json, so
// that in front of a real runtime it can do this work on the original spec
// while the runtime reads secrun's output from config.json.
//
// It measures a second floor, above goexec's: what decoding and writing a
// container's spec with github.com/go-json-experiment/json costs a
// short-lived process (most of it the library building its codecs by
// reflection on first use). secrun's create minus specexec's is the work of
// secrun's policy itself. Build it as bin/secrun is built:
//
//	CGO_ENABLED=0 go build -o bin/specexec ./bench/specexec
package main

import (
	"os"
	"path/filepath"
	"syscall"

	"github.com/go-json-experiment/json"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func main() {
	target := os.Getenv("GOEXEC_TARGET")
	if target == "" {
		fail("GOEXEC_TARGET is not set")
	}
	path := os.Getenv("SPECEXEC_FILE")
	if bundle := bundleArg(os.Args); path == "" && bundle != "" {
		path = filepath.Join(bundle, "config.json")
	}
	if path != "" {
		if err := rewrite(path); err != nil {
			fail(err.Error())
		}
	}
	argv := append([]string{target}, os.Args[1:]...)
	err := syscall.Exec(target, argv, os.Environ())
	fail("exec " + target + ": " + err.Error())
}

// bundleArg is the value of --bundle DIR (containerd's spelling), or "".
func bundleArg(args []string) string {
	for i, a := range args {
		if a == "--bundle" && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

func rewrite(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	out, err := json.Marshal(&s)
	if err != nil {
		return err
	}
	tmp := path + ".specexec"
	if err := os.WriteFile(tmp, out, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func fail(msg string) {
	os.Stderr.WriteString("specexec: " + msg + "\n")
	os.Exit(127)
}
