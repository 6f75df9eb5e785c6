package shim

// The option tables of the runtimes, read from their sources: runc 1.1 and
// 1.2-1.5 (urfave/cli v1 flags: main.go, create.go, run.go, restore.go,
// exec.go) and crun 1.0-1.29 (argp options: src/crun.c, create.c, run.c,
// restore.c, exec.c). Each table is the union over those versions: an option
// a given version lacks makes that version fail, so accepting it here never
// makes secrun read a line the runtime reads otherwise. (No crun option added
// since 1.0 is a prefix of an older one, which would change how an
// abbreviation resolves.)

// optArg says whether an option takes a value.
type optArg uint8

const (
	argNone optArg = iota
	argRequired
	argOptional // crun only: the value must be attached (-tVAL, --tty=VAL)
)

// option is one option of a command line. key names what it sets: options
// with one key are one option (urfave's "bundle, b"; crun's --rootless,
// which before 1.22 was an alias of --root).
type option struct {
	long  string
	short byte
	arg   optArg
	key   string
}

func o(long string, short byte, arg optArg) option {
	return option{long: long, short: short, arg: arg, key: long}
}

// Keys secrun reads; every other option only needs its arity known.
const (
	keyBundle  = "bundle"
	keyConfig  = "config"
	keyProcess = "process"
	keyCap     = "cap"
	keyAA      = "apparmor"
	keyLSM     = "lsm-profile"
	keyNNP     = "no-new-privs"
	keyRoot    = "root"
	keyUser    = "user"
)

// urfave/cli adds help to the app and to every command.
var runcHelp = o("help", 'h', argNone)

var runcGlobal = []option{
	o("debug", 0, argNone), o("log", 0, argRequired), o("log-format", 0, argRequired),
	o("root", 0, argRequired), o("criu", 0, argRequired), o("systemd-cgroup", 0, argNone),
	o("rootless", 0, argRequired), runcHelp, o("version", 'v', argNone),
}

// runcCommand is a command's option table (a switch, not a map: see
// takesValue).
func runcCommand(cmd string) []option {
	switch cmd {
	case "create":
		return []option{o("bundle", 'b', argRequired), o("console-socket", 0, argRequired), o("pidfd-socket", 0, argRequired),
			o("pid-file", 0, argRequired), o("no-pivot", 0, argNone), o("no-new-keyring", 0, argNone),
			o("preserve-fds", 0, argRequired), runcHelp}
	case "run":
		return []option{o("bundle", 'b', argRequired), o("console-socket", 0, argRequired), o("pidfd-socket", 0, argRequired),
			o("detach", 'd', argNone), o("keep", 0, argNone), o("pid-file", 0, argRequired), o("no-subreaper", 0, argNone),
			o("no-pivot", 0, argNone), o("no-new-keyring", 0, argNone), o("preserve-fds", 0, argRequired), runcHelp}
	case "restore":
		return []option{o("console-socket", 0, argRequired), o("image-path", 0, argRequired), o("work-path", 0, argRequired),
			o("tcp-established", 0, argNone), o("ext-unix-sk", 0, argNone), o("shell-job", 0, argNone),
			o("file-locks", 0, argNone), o("manage-cgroups-mode", 0, argRequired), o("bundle", 'b', argRequired),
			o("detach", 'd', argNone), o("pid-file", 0, argRequired), o("no-subreaper", 0, argNone),
			o("no-pivot", 0, argNone), o("empty-ns", 0, argRequired), o("auto-dedup", 0, argNone),
			o("lazy-pages", 0, argNone), o("lsm-profile", 0, argRequired), o("lsm-mount-context", 0, argRequired), runcHelp}
	case "exec":
		return []option{o("console-socket", 0, argRequired), o("pidfd-socket", 0, argRequired), o("cwd", 0, argRequired),
			o("env", 'e', argRequired), o("tty", 't', argNone), o("user", 'u', argRequired),
			o("additional-gids", 'g', argRequired), o("process", 'p', argRequired), o("detach", 'd', argNone),
			o("pid-file", 0, argRequired), o("process-label", 0, argRequired), o("apparmor", 0, argRequired),
			o("no-new-privs", 0, argNone), o("cap", 'c', argRequired), o("preserve-fds", 0, argRequired),
			o("cgroup", 0, argRequired), o("ignore-paused", 0, argNone), runcHelp}
	}
	return nil
}

// argp adds these to every parser (glibc argp-parse.c): --program-name and
// --HANG are hidden, but they are options, and --program-name takes a value.
var argpDefaults = []option{
	o("help", '?', argNone), o("usage", 0, argNone), o("program-name", 0, argRequired), o("HANG", 0, argOptional),
}

// crunGlobal: rootlessIsRoot picks crun < 1.22, where --rootless was an
// alias of --root (so `--rootless X` sets the root and `--roo` is not
// ambiguous).
func crunGlobal(rootlessIsRoot bool) []option {
	rootless := o("rootless", 0, argRequired)
	if rootlessIsRoot {
		rootless.key = keyRoot
	}
	return append([]option{
		o("debug", 0, argNone), o("cgroup-manager", 0, argRequired), o("systemd-cgroup", 0, argNone),
		o("log", 0, argRequired), o("log-format", 0, argRequired), o("log-level", 0, argRequired),
		o("root", 0, argRequired), rootless, o("version", 'v', argNone), {short: 'V', arg: argNone, key: "version"},
	}, argpDefaults...)
}

func crunCommand(cmd string) []option {
	switch cmd {
	case "create":
		return []option{o("bundle", 'b', argRequired), o("config", 'f', argRequired), o("console-socket", 0, argRequired),
			o("preserve-fds", 0, argRequired), o("no-pivot", 0, argNone), o("pid-file", 0, argRequired),
			o("no-subreaper", 0, argNone), o("no-new-keyring", 0, argNone)}
	case "run":
		return []option{o("bundle", 'b', argRequired), o("config", 'f', argRequired), o("detach", 'd', argNone),
			o("console-socket", 0, argRequired), o("preserve-fds", 0, argRequired), o("pid-file", 0, argRequired),
			o("keep", 0, argNone), o("no-subreaper", 0, argNone), o("no-new-keyring", 0, argNone), o("no-pivot", 0, argNone)}
	case "restore":
		return []option{o("bundle", 'b', argRequired), o("image-path", 0, argRequired), o("work-path", 0, argRequired),
			o("tcp-established", 0, argNone), o("tcp-close", 0, argNone), o("ext-unix-sk", 0, argNone),
			o("shell-job", 0, argNone), o("detach", 'd', argNone), o("pid-file", 0, argRequired),
			o("console-socket", 0, argRequired), o("file-locks", 0, argNone), o("manage-cgroups-mode", 0, argRequired),
			o("network-lock", 0, argNone), o("lsm-profile", 0, argRequired), o("lsm-mount-context", 0, argRequired)}
	case "exec":
		return []option{o("console-socket", 0, argRequired), o("tty", 't', argOptional), o("process", 'p', argRequired),
			o("cwd", 0, argRequired), o("cgroup", 0, argRequired), o("detach", 'd', argNone), o("user", 'u', argRequired),
			o("env", 'e', argRequired), o("cap", 'c', argRequired), o("pid-file", 0, argRequired),
			o("preserve-fds", 0, argRequired), o("no-new-privs", 0, argNone), o("process-label", 0, argRequired),
			o("apparmor", 0, argRequired)}
	}
	return nil
}
