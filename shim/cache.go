package shim

import (
	"io/fs"
	"os"
	"syscall"

	"github.com/secrun/secrun/internal/atomicfile"
)

// featuresCache keeps what secrun learnt of a runtime binary (its version,
// hence how it reads a command line; whether it takes the seccomp log
// flag), keyed by the binary's identity, so the create path asks each
// binary once.
var featuresCache = "/run/secrun/runtime-features"

// readCache returns a cache entry secrun itself wrote: a regular file,
// owned by this user, writable by nobody else, in a directory of the same
// kind. Anything else is ignored (and rewritten): the entry decides how
// secrun reads the runtime's command line, so a planted one is never
// trusted.
func readCache(path string) (string, bool) {
	for _, p := range []string{featuresCache, path} {
		fi, err := os.Lstat(p)
		if err != nil || fi.Mode()&fs.ModeSymlink != 0 || fi.Mode().Perm()&0o022 != 0 {
			return "", false
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != os.Geteuid() {
			return "", false
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", false
	}
	return string(b), true
}

// writeCache stores an entry; failures only cost a probe next time.
func writeCache(path, value string) {
	if os.MkdirAll(featuresCache, 0o700) == nil {
		atomicfile.Write(path, []byte(value), 0o600)
	}
}
