// Package record makes seccomp profiles by recording what a container
// actually calls: `secrun record` runs a bundle in the foreground, and
// Prepare/AgentMain record a container that secrun create starts for
// containerd.
//
// # Mechanism: seccomp user notification through listenerPath
//
// The container runs under a recording filter that the runtime installs
// itself, from the spec: every syscall name libseccomp knows for the
// architectures of the profile gets SCMP_ACT_NOTIFY, and
// linux.seccomp.listenerPath names a unix socket this package listens on.
// After loading the filter, runc (1.1 and later) and crun connect to the
// socket and send the container process state JSON with the filter's
// notification fd (SCM_RIGHTS). The recorder then loops on that fd: poll,
// SECCOMP_IOCTL_NOTIF_RECV (libseccomp's NotifReceive) gives the arch and
// number of the call, which is counted, and the answer is
// SECCOMP_USER_NOTIF_FLAG_CONTINUE (NotifRespond with NotifRespFlagContinue),
// which lets the kernel run the call unchanged. When the last process under
// the filter is gone the fd polls POLLHUP, and the profile is written.
//
// Why this and not the alternatives:
//
//   - Complete by construction: every call on the NOTIFY list stops until the
//     recorder has seen it. Nothing is sampled, buffered or rate-limited.
//     SCMP_ACT_LOG goes through the audit log and printk rate limiting
//     (it drops records under load); eBPF tracing needs BTF or kernel
//     headers and loses events when its ring buffer fills; ptrace (strace,
//     which `secrun profile from-strace` reads) must wrap the runtime,
//     mixes the runtime's calls before the filter with the container's,
//     and cannot trace a process that is already traced.
//   - It records exactly the filter's view: calls by number and audit
//     architecture, after the runtime has installed the filter, so the
//     runtime's own calls between filter and execve are in the recording,
//     and 32-bit (x86, x32) calls are told apart from native ones.
//   - No privileges beyond what starting a container takes, no kernel
//     configuration, and the same spec field works on runc and crun.
//
// The price is a round trip to the recorder per call (about 17µs here:
// 200,000 reads took 3.6 s instead of 0.18 s), fine for recording a
// workload's behaviour, not for measuring its speed.
//
// The limits come from the runtimes: runc refuses SCMP_ACT_NOTIFY as the
// default action (so the list names every syscall instead) and on write
// (runc init writes the fd number to its parent after loading the filter),
// so write is allowed during recording and always allowed in the output.
// Calls unknown to this libseccomp cannot be named in a filter: the
// recording filter's default is ERRNO(ENOSYS), what a kernel without the
// call answers, so libc falls back to an older call, which is recorded; the
// profile written behaves the same way under runc, whose filter answers
// ENOSYS for calls newer than the profile.
//
// Recording within a profile: when the spec already has a seccomp profile
// (secrun's policy, or the bundle's own), every rule that lets a call run
// becomes NOTIFY with the same argument conditions, and every rule that
// stops a call is kept. The container can do no more while recorded than it
// could before, and the profile written allows a recorded call only as that
// profile did (with its argument rules).
//
// Completeness: a call on the NOTIFY list runs only after the recorder has
// counted it and answered CONTINUE, so every call that ran during the
// recording is in it (write is always allowed). A call a signal interrupts
// before the recorder reads it is withdrawn by the kernel: it did not run,
// and when restarted (SA_RESTART, the Go runtime's handlers) it is seen
// then; such withdrawals are reported, not counted as losses. What does
// make a recording incomplete: an error receiving or answering a
// notification (the recorder stops, later calls fail with ENOSYS), a
// runtime connection without a notification fd, a filter sent after the
// recording ended, processes still under the filter when the recorder must
// stop, and a call number libseccomp cannot name. The recording then says
// which, writes what it has to OUTPUT.partial only, and fails.
package record
