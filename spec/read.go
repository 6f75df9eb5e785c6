package spec

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"

	"github.com/secrun/secrun/internal/regularfile"
)

// MaxSize bounds what is read: real configs are tens of KB, and a runaway
// file must not make every container start on the node slow or OOM.
const MaxSize = 16 << 20

// readFile reads a spec document: a regular file that is not a symbolic
// link (nor swapped for one after a check), up to MaxSize; with its
// permission bits.
func readFile(path string) ([]byte, fs.FileMode, error) {
	data, fi, err := regularfile.Read(path, MaxSize, nil)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, 0, fmt.Errorf("%s: does not exist", path)
	case errors.Is(err, syscall.ELOOP):
		return nil, 0, fmt.Errorf("%s: is a symbolic link; secrun rewrites only regular files so it cannot be steered to write elsewhere (replace the link with the file it points to)", path)
	case errors.Is(err, regularfile.ErrNotRegular):
		return nil, 0, fmt.Errorf("%s: is not a regular file", path)
	case errors.Is(err, regularfile.ErrTooLarge) && fi.Size() > MaxSize:
		return nil, 0, fmt.Errorf("%s: is %d bytes, over secrun's limit of %d bytes for a spec file", path, fi.Size(), MaxSize)
	case errors.Is(err, regularfile.ErrTooLarge):
		return nil, 0, fmt.Errorf("%s: grew over secrun's limit of %d bytes while being read", path, MaxSize)
	case err != nil:
		return nil, 0, err
	}
	return data, fi.Mode().Perm(), nil
}
