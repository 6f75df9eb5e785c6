package shim

import (
	"fmt"
	"strconv"
	"strings"
)

// runc reads its command line with urfave/cli v1 on Go's flag package:
// -name and --name are the same, a value is "=VALUE" or the next word,
// a boolean takes only "=VALUE", nothing is abbreviated, nothing is attached
// to a short name, and parsing stops at the first word that is not a flag or
// after "--". This file reproduces that reading (it is not runc's code).

// setting is one option as read: which option, and its value if it has one.
type setting struct {
	opt      *option
	value    string
	hasValue bool
	token    string // the word it was read from, for messages
}

func findName(table []option, name string) *option {
	for i := range table {
		t := &table[i]
		if (t.long != "" && t.long == name) || (t.short != 0 && len(name) == 1 && name[0] == t.short) {
			return t
		}
	}
	return nil
}

// goFlags parses args as flag.FlagSet.Parse does and returns the settings
// and the words left after the flags.
func goFlags(runtime string, table []option, args []string) ([]setting, []string, error) {
	var sets []setting
	used := map[string]string{} // key -> the name first used for it
	for len(args) > 0 {
		s := args[0]
		if len(s) < 2 || s[0] != '-' {
			break
		}
		minuses := 1
		if s[1] == '-' {
			minuses = 2
			if len(s) == 2 {
				args = args[1:]
				break
			}
		}
		name := s[minuses:]
		if name == "" || name[0] == '-' || name[0] == '=' {
			return nil, nil, fmt.Errorf("%s refuses %q (bad flag syntax)", runtime, s)
		}
		args = args[1:]
		value, hasValue := "", false
		if i := strings.IndexByte(name[1:], '='); i >= 0 {
			name, value, hasValue = name[:i+1], name[i+2:], true
		}
		opt := findName(table, name)
		if opt == nil {
			return nil, nil, fmt.Errorf("%q is not an option %s has here (secrun reads only what it can read as the runtime does: write options in full, as --bundle DIR)", s, runtime)
		}
		// urfave/cli refuses both names of one flag ("Cannot use two forms").
		if prev, ok := used[opt.key]; ok && prev != name {
			return nil, nil, fmt.Errorf("%s refuses both -%s and -%s (two forms of one flag)", runtime, prev, name)
		}
		used[opt.key] = name
		if opt.arg == argNone {
			if hasValue {
				if _, err := strconv.ParseBool(value); err != nil {
					return nil, nil, fmt.Errorf("%s refuses %q: not a boolean", runtime, s)
				}
			}
		} else if !hasValue {
			if len(args) == 0 {
				return nil, nil, fmt.Errorf("%s needs a value after %s", runtime, s)
			}
			value, hasValue, args = args[0], true, args[1:]
		}
		sets = append(sets, setting{opt: opt, value: value, hasValue: hasValue, token: s})
	}
	return sets, args, nil
}

// urfave/cli moves a command's flags in front of its arguments before the
// flag package reads them (all but exec, which sets SkipArgReorder). How it
// does changed between the version runc 1.1 vendors (1.22.1) and the one
// runc 1.2-1.5 vendor (1.22.14-1.22.17).
type reorder uint8

const (
	reorderNone reorder = iota
	// reorderDashes (urfave/cli 1.22.1): every word starting with "-"
	// moves, with the word after it when it has no "=" and does not start
	// with "-"; "--" and everything after it stay at the end.
	reorderDashes
	// reorderKnown (urfave/cli 1.22.14+): only the command's own flags
	// move, with the next word unless that is one of its flags; words after
	// "--" follow the other arguments, behind a "--".
	reorderKnown
)

func (r reorder) apply(table []option, args []string) []string {
	switch r {
	case reorderDashes:
		var flags, rest []string
		value := false
		for i, a := range args {
			if a == "--" {
				rest = append(rest, args[i:]...)
				break
			}
			if value && !strings.HasPrefix(a, "-") {
				value = false
				flags = append(flags, a)
				continue
			}
			value = false
			if a != "-" && strings.HasPrefix(a, "-") {
				flags = append(flags, a)
				value = !strings.Contains(a, "=")
			} else {
				rest = append(rest, a)
			}
		}
		return append(flags, rest...)
	case reorderKnown:
		var moved, rest []string
		value := false
		for i, a := range args {
			switch {
			case value && !urfaveIsFlag(table, a):
				value = false
				moved = append(moved, a)
			case a == "--":
				rest = append([]string{"--"}, rest...)
				rest = append(rest, args[i+1:]...)
				return append(moved, rest...)
			case urfaveIsFlag(table, a):
				moved = append(moved, a)
				value = !strings.Contains(a, "=")
			default:
				rest = append(rest, a)
			}
		}
		return append(moved, rest...)
	}
	return args
}

// urfaveIsFlag is urfave/cli's argIsFlag: the name is what is left after
// removing up to two leading dashes, then one more, and cutting at "=".
func urfaveIsFlag(table []option, a string) bool {
	if a == "-" || a == "--" || !strings.HasPrefix(a, "-") {
		return false
	}
	if strings.HasPrefix(a, "--") {
		a = strings.Replace(a, "-", "", 2)
	}
	if strings.HasPrefix(a, "-") {
		a = strings.Replace(a, "-", "", 1)
	}
	name, _, _ := strings.Cut(a, "=")
	return findName(table, name) != nil
}
