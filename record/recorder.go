package record

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// Recorder collects the calls of every filter whose notification fd a
// runtime sends to its listener: the container's init filter and, for
// `runc exec`, one filter per exec'd process.
type Recorder struct {
	// Metadata, when set, must equal the listenerMetadata the runtime
	// sends with the state: connections for another container are refused.
	Metadata string
	// Logf reports connections and refusals (nil: silent).
	Logf func(format string, a ...any)

	mu        sync.Mutex
	calls     map[callKey]uint64
	problems  []string
	withdrawn uint64 // notifications withdrawn before they were read
	pending   int    // connections accepted, not yet handled
	filters   int    // notification fds received
	active    int    // of which still have processes
	done      chan struct{}
	closed    bool
}

type callKey struct {
	arch libseccomp.ScmpArch
	nr   libseccomp.ScmpSyscall
}

// NewRecorder returns an empty recorder.
func NewRecorder() *Recorder {
	return &Recorder{calls: map[callKey]uint64{}, done: make(chan struct{})}
}

// Done is closed when at least one filter was received and the processes
// under every filter received have exited.
func (r *Recorder) Done() <-chan struct{} { return r.done }

func (r *Recorder) logf(format string, a ...any) {
	if r.Logf != nil {
		r.Logf(format, a...)
	}
}

func (r *Recorder) problem(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	r.mu.Lock()
	r.problems = append(r.problems, msg)
	r.mu.Unlock()
	r.logf("%s", msg)
}

// Serve accepts the runtime's connections until l is closed.
func (r *Recorder) Serve(l *net.UnixListener) {
	for {
		c, err := l.AcceptUnix()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			r.problem("accepting a connection on the listener: %v", err)
			return
		}
		r.mu.Lock()
		r.pending++
		r.mu.Unlock()
		go func() {
			r.handle(c)
			r.mu.Lock()
			r.pending--
			r.mu.Unlock()
		}()
	}
}

// waitEnd waits, once the runtime has exited, for the processes under the
// filters to be gone: until Done, or at most max; without waiting when no
// filter arrived and no connection is being read (the runtime failed
// before loading the filter).
func (r *Recorder) waitEnd(max time.Duration) {
	deadline := time.After(max)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	idleTicks := 0
	for {
		select {
		case <-r.done:
			return
		case <-deadline:
			return
		case <-tick.C:
			r.mu.Lock()
			idle := r.filters == 0 && r.pending == 0
			r.mu.Unlock()
			if idle {
				idleTicks++
			} else {
				idleTicks = 0
			}
			if idleTicks >= 4 {
				return
			}
		}
	}
}

// handle receives the state and the notification fd from one connection
// and starts watching the fd.
func (r *Recorder) handle(c *net.UnixConn) {
	defer c.Close()
	if err := checkPeer(c); err != nil {
		r.logf("refused a connection: %v", err)
		return
	}
	st, fds, err := receive(c)
	if err != nil {
		closeAll(fds)
		r.problem("receiving the container state and notification fd from the runtime: %v", err)
		return
	}
	fd := -1
	for i, name := range st.Fds {
		if name == specs.SeccompFdName && i < len(fds) {
			fd = fds[i]
			fds = slices.Delete(fds, i, i+1)
			break
		}
	}
	if fd < 0 && len(st.Fds) == 0 && len(fds) == 1 {
		fd, fds = fds[0], nil
	}
	closeAll(fds)
	if r.Metadata != "" && st.Metadata != r.Metadata {
		if fd >= 0 {
			unix.Close(fd)
		}
		r.logf("refused the filter of container %q (pid %d): listenerMetadata %q is not this recording's", st.State.ID, st.Pid, st.Metadata)
		return
	}
	if fd < 0 {
		r.problem("the runtime connected for container %q (pid %d) without a seccomp notification fd (fds %v): its calls cannot be recorded", st.State.ID, st.Pid, st.Fds)
		return
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		unix.Close(fd)
		r.problem("the runtime connected for container %q (pid %d) after the recording ended: the profile does not include its calls", st.State.ID, st.Pid)
		return
	}
	r.filters++
	r.active++
	n := r.filters
	r.mu.Unlock()
	r.logf("recording container %q, pid %d (filter %d)", st.State.ID, st.Pid, n)
	go r.watch(fd, fmt.Sprintf("container %q pid %d", st.State.ID, st.Pid))
}

// watch answers every notification on fd with CONTINUE, counting the call,
// until the last process under the filter is gone (POLLHUP).
func (r *Recorder) watch(fd int, who string) {
	defer func() {
		unix.Close(fd)
		r.mu.Lock()
		r.active--
		if r.active == 0 && !r.closed {
			r.closed = true
			close(r.done)
		}
		r.mu.Unlock()
	}()
	sfd := libseccomp.ScmpFd(fd)
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		pfd[0].Revents = 0
		if _, err := unix.Poll(pfd, -1); err != nil {
			if err == unix.EINTR {
				continue
			}
			r.problem("%s: poll on the notification fd: %v; later calls are not recorded", who, err)
			return
		}
		ev := pfd[0].Revents
		if ev&unix.POLLIN == 0 {
			if ev&(unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0 {
				return // no process left under the filter
			}
			continue
		}
		req, err := libseccomp.NotifReceive(sfd)
		if err != nil {
			if errors.Is(err, syscall.ENOENT) {
				// The kernel withdrew the notification between poll and
				// receive: a signal interrupted the call (or killed its
				// thread, as execve does to the runtime's other threads)
				// before it ran. It did not run; restarted, it is seen.
				r.mu.Lock()
				r.withdrawn++
				r.mu.Unlock()
				continue
			}
			r.problem("%s: receiving a notification: %v; later calls are not recorded", who, err)
			return
		}
		r.mu.Lock()
		r.calls[callKey{req.Data.Arch, req.Data.Syscall}]++
		r.mu.Unlock()
		err = libseccomp.NotifRespond(sfd, &libseccomp.ScmpNotifResp{ID: req.ID, Flags: libseccomp.NotifRespFlagContinue})
		if err != nil && !errors.Is(err, syscall.ENOENT) {
			// ENOENT: the caller was interrupted after the call was counted.
			r.problem("%s: answering a notification for %s: %v; later calls are not recorded", who, func() string { n, _ := nameOf(req.Data.Arch, req.Data.Syscall); return n }(), err)
			return
		}
	}
}

// Snapshot is what a recorder has seen so far.
type Snapshot struct {
	Calls    map[string]uint64 // by syscall name
	Total    uint64            // calls seen
	Filters  int               // notification fds received
	Active   int               // filters with processes still running
	Problems []string          // why calls may be missing
	// Withdrawn counts notifications the kernel withdrew before they were
	// read: calls a signal interrupted before they ran (they did not run;
	// a restarted call is seen again). Not a loss: every call that runs
	// was counted first.
	Withdrawn uint64
}

// Snapshot returns the calls seen so far and the reasons, if any, the
// recording may miss calls.
func (r *Recorder) Snapshot() Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Snapshot{Calls: map[string]uint64{}, Filters: r.filters, Active: r.active, Problems: slices.Clone(r.problems)}
	for k, n := range r.calls {
		name, ok := nameOf(k.arch, k.nr)
		if !ok {
			s.Problems = append(s.Problems, fmt.Sprintf("libseccomp has no name for syscall %s (%d calls): a profile cannot allow it", name, n))
			continue
		}
		s.Calls[name] += n
		s.Total += n
	}
	s.Withdrawn = r.withdrawn
	return s
}

func (s Snapshot) summary() string {
	out := fmt.Sprintf("%d calls to %d syscalls recorded from %d filter(s)", s.Total, len(s.Calls), s.Filters)
	if s.Withdrawn > 0 {
		out += fmt.Sprintf(" (%d calls interrupted by a signal before they ran, not counted)", s.Withdrawn)
	}
	return out
}

// Close marks the recording as ended: filters sent later are refused (and
// reported as a problem).
func (r *Recorder) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.closed = true
		close(r.done)
	}
}

// checkPeer accepts connections from root or from our own user only: the
// socket lives in a private directory, this is the second lock.
func checkPeer(c *net.UnixConn) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return err
	}
	if credErr != nil {
		return fmt.Errorf("SO_PEERCRED: %w", credErr)
	}
	if cred.Uid != 0 && int(cred.Uid) != os.Geteuid() {
		return fmt.Errorf("peer pid %d runs as uid %d, not root", cred.Pid, cred.Uid)
	}
	return nil
}

// maxStateSize bounds the state JSON a runtime sends (annotations included).
const maxStateSize = 4 << 20

// receive reads what runc and crun send: the container process state JSON
// with the notification fd in SCM_RIGHTS (runc 1.5 then closes the
// connection, runc 1.1 leaves it open until it exits).
func receive(c *net.UnixConn) (specs.ContainerProcessState, []int, error) {
	var st specs.ContainerProcessState
	var fds []int
	if err := c.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
		return st, nil, err
	}
	var data []byte
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(16*4))
	for {
		n, oobn, flags, _, err := c.ReadMsgUnix(buf, oob)
		if oobn > 0 {
			msgs, perr := unix.ParseSocketControlMessage(oob[:oobn])
			if perr != nil {
				return st, fds, fmt.Errorf("control message: %w", perr)
			}
			for _, m := range msgs {
				got, perr := unix.ParseUnixRights(&m)
				if perr != nil {
					continue
				}
				for _, fd := range got {
					unix.CloseOnExec(fd)
				}
				fds = append(fds, got...)
			}
		}
		if flags&unix.MSG_CTRUNC != 0 {
			return st, fds, errors.New("control message truncated (fds lost)")
		}
		if errors.Is(err, io.EOF) || (err == nil && n == 0 && oobn == 0) {
			break
		}
		if err != nil {
			return st, fds, err
		}
		data = append(data, buf[:n]...)
		if len(data) > maxStateSize {
			return st, fds, fmt.Errorf("state over %d bytes", maxStateSize)
		}
		// runc 1.1 keeps the connection open after sending: the state is
		// complete when it parses, not at EOF.
		if len(fds) > 0 && json.Valid(data) {
			break
		}
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return st, fds, fmt.Errorf("state JSON: %w", err)
	}
	return st, fds, nil
}

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}
