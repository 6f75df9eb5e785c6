package shim

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"
)

// logger writes runc-format lines to --log (JSON or logrus text, as
// --log-format says), where containerd looks for the reason a call failed.
// Errors also go to stderr as plain text when --log names a file.
type logger struct {
	path, format string
	debug        bool
}

func newLogger(g Globals) *logger {
	return &logger{path: g.Log, format: g.LogFormat, debug: g.Debug}
}

func (l *logger) line(level, msg string) []byte {
	now := time.Now().Format(time.RFC3339)
	if l.format == "json" {
		b, _ := json.Marshal(struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
			Time  string `json:"time"`
		}{level, msg, now})
		return append(b, '\n')
	}
	return []byte(fmt.Sprintf("time=%q level=%s msg=%s\n", now, level, strconv.Quote(msg)))
}

func (l *logger) write(level, msg string) {
	if l.path == "" || l.path == "/dev/stderr" {
		os.Stderr.Write(l.line(level, msg))
		return
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		fmt.Fprintf(os.Stderr, "secrun: cannot open log %s: %v\n", l.path, err)
		return
	}
	f.Write(l.line(level, msg))
	f.Close()
}

// Error records why secrun refused or failed: in the log and on stderr.
func (l *logger) Error(msg string) {
	msg = "secrun: " + msg
	l.write("error", msg)
	if l.path != "" && l.path != "/dev/stderr" {
		fmt.Fprintln(os.Stderr, msg)
	}
}

// Warn lines record what the policy allowed but flagged (pod security in
// warn mode): rare, so always written.
func (l *logger) Warn(msg string) { l.write("warning", "secrun: "+msg) }

// Debug lines appear only with --debug or [log] level = "debug".
func (l *logger) Debug(format string, a ...any) {
	if l.debug {
		l.write("debug", "secrun: "+fmt.Sprintf(format, a...))
	}
}
