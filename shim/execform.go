package shim

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// exec's argument form (no --process) has the runtime build the process:
//   - runc takes the process of the container's config.json (which secrun
//     confined at create), adds --cap to its sets, and sets no_new_privs
//     from --no-new-privs[=BOOL] when given: --no-new-privs=false turns it
//     off;
//   - crun (1.0 to 1.29) takes the container's capabilities unless --cap
//     names the only ones, but sets no_new_privs only when --no-new-privs is
//     given, whatever the container has.
//
// The capabilities are checked by execPolicy. For no_new_privs, when the
// policy or the container wants it, secrun refuses --no-new-privs=false and,
// unless the runtime is a runc secrun knows, inserts --no-new-privs right
// after the subcommand: both runtimes read it there as an exec option
// (before any word that could be the container ID or the command, and
// before a "--"), and argv stays otherwise unchanged.
func argForm(inv *Invocation, args *CmdArgs, wantNNP bool) error {
	if !wantNNP {
		return nil
	}
	if args.NoNewPrivs != nil {
		if !*args.NoNewPrivs {
			return fmt.Errorf("exec %s refused by policy: --no-new-privs=false, but the container runs with no_new_privs (a process exec'd into it must too)", args.ID)
		}
		return nil
	}
	if args.InheritsNNP {
		return nil
	}
	if args.OptIndex < 2 || args.OptIndex > len(inv.Argv) || inv.Argv[args.OptIndex-1] != "exec" {
		return fmt.Errorf("exec %s refused: cannot place --no-new-privs in this command line", args.ID)
	}
	inv.Argv = slices.Insert(slices.Clone(inv.Argv), args.OptIndex, "--no-new-privs")
	return nil
}

// execUID reads the UID of exec --user UID[:GID] as runc and crun do
// (decimal; runc uses strconv.Atoi, crun strtol): a value secrun cannot
// read as a number is refused rather than guessed.
func execUID(user string) (uint32, error) {
	u, _, _ := strings.Cut(user, ":")
	n, err := strconv.ParseUint(u, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("--user %q: secrun reads only a decimal UID[:GID] here (write --user 1000:1000)", user)
	}
	return uint32(n), nil
}
