// Command secrun is a runc-compatible runtime that confines every container
// it creates, then runs the real runtime (runc or crun).
package main

import (
	"os"

	"github.com/secrun/secrun/shim"
)

func main() { os.Exit(shim.Main(os.Args)) }
