package shim

import (
	"fmt"
	"strings"
)

// crun reads its command line with glibc's argp on getopt_long, with
// ARGP_IN_ORDER everywhere: options end at the first word that is not one
// (no permutation) or after "--"; a short option's value may be attached
// (-bDIR, -dbDIR) or the next word; a long option may be abbreviated to any
// prefix that is unique, or whose matches all are one option; "=VALUE" or
// the next word is its value; an optional value must be attached. This file
// reproduces that reading (it is not glibc's code).

// getoptLong parses args (the words after the program or subcommand name)
// and returns the settings and the index of the first non-option word.
func getoptLong(runtime string, table []option, args []string) ([]setting, int, error) {
	var sets []setting
	i := 0
	for i < len(args) {
		s := args[i]
		if s == "--" {
			return sets, i + 1, nil
		}
		if len(s) < 2 || s[0] != '-' {
			break
		}
		i++
		if s[1] == '-' {
			body := s[2:]
			name, value, hasValue := strings.Cut(body, "=")
			opt, err := matchLong(runtime, table, name, s)
			if err != nil {
				return nil, 0, err
			}
			switch opt.arg {
			case argNone:
				if hasValue {
					return nil, 0, fmt.Errorf("%s refuses %q: --%s takes no value", runtime, s, opt.long)
				}
			case argRequired:
				if !hasValue {
					if i >= len(args) {
						return nil, 0, fmt.Errorf("%s needs a value after %s", runtime, s)
					}
					value, hasValue = args[i], true
					i++
				}
			}
			sets = append(sets, setting{opt: opt, value: value, hasValue: hasValue, token: s})
			continue
		}
		// A cluster of short options: -dt, -bDIR, -db DIR.
		for j := 1; j < len(s); {
			c := s[j]
			j++
			opt := findShort(table, c)
			if opt == nil {
				return nil, 0, fmt.Errorf("%q is not an option %s has here (-%c)", s, runtime, c)
			}
			st := setting{opt: opt, token: s}
			if opt.arg != argNone {
				if j < len(s) {
					st.value, st.hasValue = s[j:], true
				} else if opt.arg == argRequired {
					if i >= len(args) {
						return nil, 0, fmt.Errorf("%s needs a value after %s", runtime, s)
					}
					st.value, st.hasValue = args[i], true
					i++
				}
				j = len(s)
			}
			sets = append(sets, st)
		}
	}
	return sets, i, nil
}

func findShort(table []option, c byte) *option {
	for i := range table {
		if table[i].short == c {
			return &table[i]
		}
	}
	return nil
}

// matchLong: an exact name wins; otherwise the prefix must match one option
// only, or options that agree on arity and key (getopt compares has_arg and
// val, and argp gives options of one key one val).
func matchLong(runtime string, table []option, name, tok string) (*option, error) {
	if name == "" {
		return nil, fmt.Errorf("%s refuses %q", runtime, tok)
	}
	var found *option
	var names []string
	ambiguous := false
	for i := range table {
		t := &table[i]
		if t.long == "" {
			continue
		}
		if t.long == name {
			return t, nil
		}
		if strings.HasPrefix(t.long, name) {
			names = append(names, "--"+t.long)
			if found == nil {
				found = t
			} else if found.arg != t.arg || found.key != t.key {
				ambiguous = true
			}
		}
	}
	switch {
	case found == nil:
		return nil, fmt.Errorf("%q is not an option %s has here (secrun reads only what it can read as the runtime does: write options in full, as --bundle DIR)", tok, runtime)
	case ambiguous:
		return nil, fmt.Errorf("%s refuses %q: it abbreviates %s", runtime, tok, strings.Join(names, " and "))
	}
	return found, nil
}
