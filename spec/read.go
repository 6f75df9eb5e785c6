package spec

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"syscall"
)

// MaxSize bounds what is read: real configs are tens of KB, and a runaway
// file must not make every container start on the node slow or OOM.
const MaxSize = 16 << 20

// Errors of ReadRegular besides the open's own.
var (
	ErrNotRegular = errors.New("not a regular file")
	ErrTooLarge   = errors.New("over the size limit")
)

// ReadRegular reads the regular file at path, up to limit bytes, and says
// what fstat says of the very file read, so that checks made on the result
// hold for the bytes returned: a file swapped in after a check by path is
// never what is read. It does not follow a final symbolic link (the open
// fails with ELOOP), and does not wait on a FIFO (refused as not regular).
// The read is plain syscalls: an os.File on a non-blocking descriptor
// would start Go's network poller, which every create would pay for.
func ReadRegular(path string, limit int64) ([]byte, *syscall.Stat_t, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, nil, &fs.PathError{Op: "fstat", Path: path, Err: err}
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return nil, &st, ErrNotRegular
	}
	if st.Size > limit {
		return nil, &st, ErrTooLarge
	}
	buf := make([]byte, 0, st.Size+1) // +1: a file that grew is seen
	for {
		if int64(len(buf)) > limit {
			return nil, &st, ErrTooLarge
		}
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, 64<<10)
		}
		n, err := syscall.Read(fd, buf[len(buf):cap(buf)])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &st, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			return buf, &st, nil
		}
		buf = buf[:len(buf)+n]
	}
}

// readFile reads a spec document: a regular file that is not a symbolic
// link, up to MaxSize; with its permission bits.
func readFile(path string) ([]byte, fs.FileMode, error) {
	data, st, err := ReadRegular(path, MaxSize)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, 0, fmt.Errorf("%s: does not exist", path)
	case errors.Is(err, syscall.ELOOP):
		return nil, 0, fmt.Errorf("%s: is a symbolic link; secrun rewrites only regular files so it cannot be steered to write elsewhere (replace the link with the file it points to)", path)
	case errors.Is(err, ErrNotRegular):
		return nil, 0, fmt.Errorf("%s: is not a regular file", path)
	case errors.Is(err, ErrTooLarge) && st.Size > MaxSize:
		return nil, 0, fmt.Errorf("%s: is %d bytes, over secrun's limit of %d bytes for a spec file", path, st.Size, MaxSize)
	case errors.Is(err, ErrTooLarge):
		return nil, 0, fmt.Errorf("%s: grew over secrun's limit of %d bytes while being read", path, MaxSize)
	case err != nil:
		return nil, 0, err
	}
	return data, fs.FileMode(st.Mode).Perm(), nil
}
