// Command goexec is the smallest honest Go exec wrapper: it execve's the
// program named by $GOEXEC_TARGET with its own argv[1:] and environment
// unchanged, and does nothing else.
//
// It exists to measure a floor. secrun is a Go program that containerd runs
// in place of the runtime, so every call pays the Go runtime's start-up
// (loading and faulting in a multi-megabyte binary, runtime and package
// initialisation, threads) before secrun does any work of its own.
// secrun-bench times goexec in place of secrun, on the same inputs, to
// report how much of secrun's cost any Go wrapper would pay on the machine
// and how much is secrun's own work. Build it the way bin/secrun is built
// (pure Go, static) so that the two start up alike:
//
//	CGO_ENABLED=0 go build -o bin/goexec ./bench/goexec
//
// Only os and syscall: the packages any wrapper needs to read its
// environment and exec. Importing anything more would put some other
// program's start-up into the floor.
package main

import (
	"os"
	"syscall"
)

func main() {
	target := os.Getenv("GOEXEC_TARGET")
	if target == "" {
		os.Stderr.WriteString("goexec: GOEXEC_TARGET is not set\n")
		os.Exit(2)
	}
	// argv[0] is the target's path, as secrun passes it to the runtime.
	argv := append([]string{target}, os.Args[1:]...)
	err := syscall.Exec(target, argv, os.Environ())
	os.Stderr.WriteString("goexec: exec " + target + ": " + err.Error() + "\n")
	os.Exit(127)
}
