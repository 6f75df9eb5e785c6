package shim

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"strings"
	"syscall"

	"github.com/secrun/secrun/internal/regularfile"

	"github.com/secrun/secrun/internal/atomicfile"
	"github.com/secrun/secrun/spec"
)

// Running a bundle again (`secrun run` twice, with another profile the
// second time) must confine the bundle's original spec, not secrun's earlier
// rewrite of it: a profile merged into the rewrite would be intersected with
// the earlier one. So on first sight secrun keeps the original next to it,
// and starts from it again while config.json is exactly what secrun wrote:
//
//	config.json.secrun-orig  one line "secrun-orig fnv64a:XXXXXXXXXXXXXXXX", the
//	                         digest of the config.json secrun wrote last,
//	                         then the spec as it was before secrun's first
//	                         rewrite
//
// The digest (FNV-1a, 64 bits) tells secrun's own output from an edit. A collision,
// accidental or crafted, only makes secrun discard the edit and confine the
// kept original again: never a looser result, so no cryptographic hash (and
// its packages in every runtime call) is needed. One file, not two, because
// each is an atomic replace on every create.
//
// A config.json without the marker annotation (secrun.io/policy) is an
// original: it replaces the kept one. One with the marker is secrun's own
// output: it is replaced by the kept original when its digest is the one
// secrun recorded, and refused otherwise (edited after secrun wrote it, or
// copied from a rewritten bundle), since secrun cannot tell what the
// original was.
//
// Planting: the file is written only by secrun (temp file and rename, mode
// 0600) and read only when it is a regular file owned by secrun's own user
// with no group or other access; whoever could plant it could write
// config.json itself. And an original goes through the whole policy like
// any spec: at worst it is another spec, never a looser result.
const (
	origSuffix = ".secrun-orig"
	keptHeader = "secrun-orig fnv64a:"
	digestLen  = 16 // hex digits of digest
)

// original is what keepOriginal found, for saving the result.
type original struct {
	path string      // config.json
	mode fs.FileMode // its mode, kept when it is rewritten from the original
	used bool        // cfg was parsed from the kept original
}

// keepOriginal returns the spec to confine: cfg itself (kept as the
// original) or the kept original of a config.json secrun rewrote.
func keepOriginal(cfg *spec.Config) (*spec.Config, *original, error) {
	o := &original{path: cfg.Path, mode: cfg.Mode()}
	if _, marked := cfg.Spec.Annotations[spec.AnnPolicy]; !marked {
		return cfg, o, nil
	}
	keptPath := cfg.Path + origSuffix
	putBack := fmt.Sprintf("secrun keeps the one it first saw in %s after its first line: `tail -n +2 %s > %s`", keptPath, keptPath, cfg.Path)
	refuse := func(why string) error {
		return &spec.Error{Msg: fmt.Sprintf("%s carries secrun's annotation %s, so secrun rewrote it, but %s; secrun will not confine a rewrite again (the profiles would be intersected). Put the bundle's original config.json back (%s), or remove the annotation %s to confine this file as it is",
			cfg.Path, spec.AnnPolicy, why, putBack, spec.AnnPolicy)}
	}
	kept, err := readKept(keptPath)
	if err != nil {
		return nil, nil, refuse(err.Error())
	}
	sum, data, ok := splitKept(kept)
	if !ok {
		if first := bytes.TrimLeft(kept, " \t\r\n"); len(first) > 0 && first[0] == '{' {
			// Kept by a secrun before the digest line: the whole file
			// is the original.
			putBack = fmt.Sprintf("%s is the original as an older secrun kept it: `cp %s %s`, and remove %s", keptPath, keptPath, cfg.Path, cfg.Path+".secrun-sum")
		}
		return nil, nil, refuse(keptPath + " does not start with the line secrun writes (\"" + keptHeader + "\" and a digest)")
	}
	if sum != digest(cfg.Orig) {
		return nil, nil, refuse("it is not what secrun wrote last (its digest differs from the one in " + keptPath + "): it was edited since")
	}
	orig, err := spec.ParseConfig(keptPath, data)
	if err != nil {
		return nil, nil, err
	}
	orig.Path = cfg.Path
	o.used = true
	return orig, o, nil
}

// save keeps cfg's original with the digest of data, then writes data as
// config.json, each with an atomic rename (not fsync'd: a bundle means
// nothing after a reboot). secrun killed in between leaves a config.json
// that is either the original or a rewrite whose digest does not match:
// confined again, or refused, never confined from the wrong original. A
// file emptied by a power loss is refused the same way.
func (o *original) save(cfg *spec.Config, data []byte) error {
	kept := make([]byte, 0, len(keptHeader)+digestLen+1+len(cfg.Orig))
	kept = append(append(append(kept, keptHeader...), digest(data)...), '\n')
	if err := atomicfile.Replace(o.path+origSuffix, append(kept, cfg.Orig...), 0o600); err != nil {
		return err
	}
	if !o.used {
		_, err := cfg.Save(data)
		return err
	}
	if cur, _, err := regularfile.Read(o.path, int64(len(data)), nil); err == nil && bytes.Equal(cur, data) {
		return nil
	}
	return atomicfile.Replace(o.path, data, o.mode)
}

// splitKept parses a kept file into the digest it records and the original.
func splitKept(kept []byte) (sum string, orig []byte, ok bool) {
	line, rest, found := bytes.Cut(kept, []byte{'\n'})
	sum, isKept := strings.CutPrefix(string(line), keptHeader)
	if !found || !isKept || len(sum) != digestLen {
		return "", nil, false
	}
	return sum, rest, true
}

// keptMax bounds the kept file: a spec and the digest line.
const keptMax = int64(spec.MaxSize + len(keptHeader) + digestLen + 1)

// readKept reads a file secrun keeps beside config.json, refusing one it
// cannot have written. The checks are made on the file opened (not
// following a link), so a file swapped in after them is not what is read.
func readKept(path string) ([]byte, error) {
	data, _, err := regularfile.Read(path, keptMax, func(fi fs.FileInfo) error {
		if st, ok := fi.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != os.Geteuid() {
			return fmt.Errorf("%s is not owned by secrun's user (uid %d)", path, os.Geteuid())
		}
		if fi.Mode().Perm()&0o077 != 0 {
			return fmt.Errorf("%s has group or other access (mode %04o; secrun writes it 0600)", path, fi.Mode().Perm())
		}
		return nil
	})
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%s does not exist", path)
	case errors.Is(err, syscall.ELOOP) || errors.Is(err, regularfile.ErrNotRegular):
		return nil, fmt.Errorf("%s is not a regular file", path)
	case errors.Is(err, regularfile.ErrTooLarge):
		return nil, fmt.Errorf("%s is larger than a spec and secrun's digest line may be (%d bytes)", path, keptMax)
	}
	return data, err
}

// digest is FNV-1a (64 bits) of data in hex: no tables to build, which
// CRC-32C's hardware path needs on first use (100 µs, more than hashing a
// spec takes).
func digest(data []byte) string {
	h := fnv.New64a()
	h.Write(data)
	return fmt.Sprintf("%016x", h.Sum64())
}
