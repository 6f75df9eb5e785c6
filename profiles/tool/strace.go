package tool

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Trace collects the syscall names found in strace output.
type Trace struct {
	// Calls counts the calls of each name (an unfinished call and its
	// resumption count once; a -c summary row adds its calls column).
	Calls map[string]int
	// Lines is the number of lines read, Skipped those that were not a
	// syscall (signals, exits, strace's own notes, table rules).
	Lines, Skipped int
	// Unparsed holds the first lines of no shape strace writes, as
	// "file:line: text"; UnparsedCount counts them all.
	Unparsed      []string
	UnparsedCount int
	// Numbers maps strace's syscall_0x... placeholders found to the name
	// libseccomp gives that number ("" when it has none).
	Numbers map[string]string
}

// NewTrace returns an empty Trace.
func NewTrace() *Trace {
	return &Trace{Calls: map[string]int{}, Numbers: map[string]string{}}
}

// Parse reads one strace output file (plain, -f, -ff files, -tt/-ttt/-r/-T,
// -i, -n, -k, --pidns-translation, and -c/-C summary tables) into t.
func (t *Trace) Parse(r io.Reader, file string) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024) // -s with long strings
	table := false
	lineNo := 0
	for sc.Scan() {
		lineNo++
		t.Lines++
		line := strings.TrimRight(sc.Text(), " \t\r")
		if table {
			if name, calls, ok := summaryRow(line); ok {
				if name != "total" {
					t.add(name, calls)
				} else {
					t.Skipped++
				}
				continue
			}
			table = false
		}
		if isSummaryHeader(line) {
			table = true
			t.Skipped++
			continue
		}
		name, kind := lineName(line)
		switch kind {
		case lineCall:
			t.add(name, 1)
		case lineResumed:
			t.add(name, 0)
		case lineIgnored:
			t.Skipped++
		case lineUnknown:
			t.Skipped++
			t.UnparsedCount++
			if len(t.Unparsed) < 3 {
				t.Unparsed = append(t.Unparsed, fmt.Sprintf("%s:%d: %s", file, lineNo, truncate(line, 100)))
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: reading strace output: %w", file, err)
	}
	return nil
}

func (t *Trace) add(name string, n int) {
	if strings.HasPrefix(name, "syscall_") {
		if real, ok := nameFromNumber(name); ok {
			t.Numbers[name] = real
			name = real
		} else {
			t.Numbers[name] = ""
		}
	}
	t.Calls[name] += n
}

type lineKind int

const (
	lineCall lineKind = iota
	lineResumed
	lineIgnored
	lineUnknown
)

// lineName finds the syscall a line of strace output is about.
func lineName(line string) (string, lineKind) {
	s := stripPrefixes(line)
	switch {
	case s == "":
		return "", lineIgnored
	case strings.HasPrefix(s, "+++ "), strings.HasPrefix(s, "--- "), // exits, signals
		strings.HasPrefix(s, "strace: "), strings.HasPrefix(s, "[ Process "), // notes
		strings.HasPrefix(s, "> "), // -k stack frames
		strings.HasPrefix(s, "System call usage summary"),
		strings.HasPrefix(s, "???("), // strace knows neither name nor number
		strings.HasPrefix(s, "------"):
		return "", lineIgnored
	case strings.HasPrefix(s, "<... "):
		rest := s[len("<... "):]
		name, after, ok := strings.Cut(rest, " ")
		if ok && validName(name) && strings.HasPrefix(after, "resumed>") {
			return name, lineResumed
		}
		return "", lineUnknown
	}
	i := strings.IndexByte(s, '(')
	if i > 0 && validName(s[:i]) {
		return s[:i], lineCall
	}
	return "", lineUnknown
}

// stripPrefixes removes what strace puts before the call: "[pid  123] " or a
// bare pid (-f with -o), timestamps (-t, -tt, -ttt, -r, and "(+ 0.000123)"
// when -r is combined with -t), "[00007f...]" (-i) and "[ 59]" (-n), in any
// order.
func stripPrefixes(s string) string {
	for {
		s = strings.TrimLeft(s, " \t")
		switch {
		case strings.HasPrefix(s, "[pid "):
			end := strings.IndexByte(s, ']')
			if end < 0 {
				return s
			}
			s = s[end+1:]
		case strings.HasPrefix(s, "(+"): // -r together with -t: "(+     0.000123)"
			end := strings.IndexByte(s, ')')
			if end < 0 || !isTimestamp(strings.TrimSpace(s[2:end])) {
				return s
			}
			s = s[end+1:]
		case strings.HasPrefix(s, "[") && !strings.HasPrefix(s, "[ Process "):
			end := strings.IndexByte(s, ']')
			if end < 0 || !isHexOrSpace(s[1:end]) {
				return s
			}
			s = s[end+1:]
		default:
			tok, rest, ok := strings.Cut(s, " ")
			if !ok || !(isDigits(tok) || isTimestamp(tok)) {
				return s
			}
			s = rest
		}
	}
}

// summaryRow parses a row of the -c table: numeric columns, then the name.
func summaryRow(line string) (name string, calls int, ok bool) {
	f := strings.Fields(line)
	if len(f) == 0 {
		return "", 0, false
	}
	if strings.Trim(line, "- ") == "" {
		return "total", 0, true // the rules above and below the rows
	}
	if len(f) < 2 || !validName(f[len(f)-1]) {
		return "", 0, false
	}
	for _, x := range f[:len(f)-1] {
		if x[0] < '0' || x[0] > '9' {
			return "", 0, false
		}
	}
	// Columns: % time, seconds, usecs/call, calls, errors (may be blank).
	if len(f) >= 5 {
		fmt.Sscan(f[3], &calls)
	}
	return f[len(f)-1], calls, true
}

// isSummaryHeader reports the header of strace -c's table:
// "% time     seconds  usecs/call     calls    errors syscall".
func isSummaryHeader(line string) bool {
	f := strings.Fields(line)
	return len(f) >= 2 && f[len(f)-1] == "syscall" &&
		(strings.HasPrefix(strings.TrimSpace(line), "% time") || strings.Contains(line, "calls"))
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isHexOrSpace matches the insides of -i's "[00007f...]" ("[????????]" when
// the process is gone) and -n's "[ 59]".
func isHexOrSpace(s string) bool {
	if strings.TrimSpace(s) == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == ' ' || c == '?' || c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// isTimestamp matches 12:34:56, 12:34:56.123456, 1700000000.123456 (-ttt)
// and 0.000123 (-r).
func isTimestamp(s string) bool {
	if s == "" {
		return false
	}
	digits := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == ':' || c == '.':
		default:
			return false
		}
	}
	return digits > 0 && strings.ContainsAny(s, ":.")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
