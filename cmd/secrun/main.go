// Command secrun is a runc-compatible runtime that confines every container
// it creates, then runs the real runtime (runc or crun).
package main

import (
	"os"

	"github.com/secrun/secrun/shim"
)

func main() {
	growStack(0)
	os.Exit(shim.Main(os.Args))
}

// growStack makes the goroutine stack big once, while it is shallow.
// Otherwise it starts at 8 KB and is copied each time it doubles during the
// JSON and TOML decoding, and each copy walks every frame: measurably slow
// in a process that lives a few milliseconds.
//
//go:noinline
func growStack(i int) byte {
	var buf [96 << 10]byte
	buf[i] = 1
	return buf[(i+1)%len(buf)]
}
