package shim

import (
	"path/filepath"

	"github.com/secrun/secrun/internal/cachefile"
)

// runtimeFacts keeps what secrun learnt of runtime binaries (a binary's
// version, hence how it reads a command line; whether it takes the seccomp
// log flag) in dir, keyed by each binary's identity (cachefile.FileID), so
// the create path asks each binary once. A planted entry is never trusted
// (cachefile.Read): it decides how secrun reads the command line. The zero
// value keeps nothing and asks every time.
type runtimeFacts struct{ dir string }

// nodeFacts are kept where a node's secrun keeps them.
func nodeFacts() runtimeFacts {
	return runtimeFacts{dir: filepath.Join(cachefile.Dir, "runtime-features")}
}

// fact returns the fact of kind about the runtime binary at path, from
// the cache or derived (and cached); valid says which values may be used.
func (f runtimeFacts) fact(path, kind string, valid func(string) bool, derive func() string) string {
	if f.dir == "" {
		return derive()
	}
	id, err := cachefile.FileID(path)
	if err != nil {
		return derive()
	}
	name := cachefile.Name(id, kind)
	if v, ok := cachefile.Read(f.dir, name); ok && valid(string(v)) {
		return string(v)
	}
	v := derive()
	if valid(v) {
		cachefile.Write(f.dir, name, []byte(v))
	}
	return v
}
