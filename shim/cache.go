package shim

import (
	"path/filepath"

	"github.com/secrun/secrun/internal/cachefile"
)

// featuresCache keeps what secrun learnt of a runtime binary (its version,
// hence how it reads a command line; whether it takes the seccomp log
// flag), keyed by the binary's identity (cachefile.FileID), so the create
// path asks each binary once. A planted entry is never trusted
// (cachefile.Read): it decides how secrun reads the command line.
var featuresCache = filepath.Join(cachefile.Dir, "runtime-features")

// runtimeFact returns the cached fact of kind about the runtime binary at
// path, deriving and caching it on a miss; valid says which cached values
// may be used.
func runtimeFact(path, kind string, valid func(string) bool, derive func() string) string {
	id, err := cachefile.FileID(path)
	if err != nil {
		return derive()
	}
	name := cachefile.Name(id, kind)
	if v, ok := cachefile.Read(featuresCache, name); ok && valid(string(v)) {
		return string(v)
	}
	v := derive()
	if valid(v) {
		cachefile.Write(featuresCache, name, []byte(v))
	}
	return v
}
