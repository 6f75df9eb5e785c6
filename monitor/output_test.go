package monitor

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "findings.jsonl")
	w, err := OpenRotating(path, 100, 2)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		line := fmt.Sprintf("{\"n\":%02d,\"pad\":\"xxxxxxxxxx\"}\n", i) // 29 bytes
		if _, err := w.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	read := func(p string) []string {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if len(data) > 100 {
			t.Errorf("%s is %d bytes, over --max-size", p, len(data))
		}
		return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	}
	// 3 lines (87 bytes) per file: 20 lines end in files of 3,3,...,2.
	cur, one, two := read(path), read(path+".1"), read(path+".2")
	if _, err := os.Stat(path + ".3"); !os.IsNotExist(err) {
		t.Errorf("%s.3 kept with --keep 2", path)
	}
	all := append(append(two, one...), cur...)
	for i, l := range all {
		var v struct{ N int }
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("a line was split across files: %q", l)
		}
		if want := 20 - len(all) + i; v.N != want {
			t.Errorf("line %d is n=%d, want %d (order across rotated files)", i, v.N, want)
		}
	}
	if len(cur) != 2 || len(one) != 3 || len(two) != 3 {
		t.Errorf("lines per file: %d %d %d", len(cur), len(one), len(two))
	}

	// Reopening appends to what is there.
	w, err = OpenRotating(path, 100, 2)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("{\"n\":20}\n"))
	w.Close()
	if got := read(path); len(got) != 3 {
		t.Errorf("after reopen: %q", got)
	}

	// keep 0: the file starts over.
	p0 := filepath.Join(dir, "zero.jsonl")
	w, _ = OpenRotating(p0, 50, 0)
	for i := 0; i < 5; i++ {
		w.Write([]byte(strings.Repeat("y", 19) + "\n"))
	}
	w.Close()
	if got := read(p0); len(got) != 1 {
		t.Errorf("keep 0: %d lines", len(got))
	}
	if m, _ := filepath.Glob(p0 + ".*"); len(m) != 0 {
		t.Errorf("keep 0 kept %v", m)
	}
}

func TestSummarize(t *testing.T) {
	lines := []string{
		`{"type":"start","time":"2026-01-01T00:00:00.000Z","kmsg":"/dev/kmsg","roots":[],"pid":1}`,
		`{"type":"finding","time":"2026-01-01T00:00:01.000Z","container_id":"abc","namespace":"shop","pod":"web-0","container":"nginx","syscall":"keyctl","syscall_nr":250,"arch":"SCMP_ARCH_X86_64","action":"logged","seccomp_action":"log","pid":10,"comm":"a","exe":"/a","policy":"runtime-default/complain"}`,
		`{"type":"finding","time":"2026-01-01T00:00:03.000Z","container_id":"abc","namespace":"shop","pod":"web-0","container":"nginx","syscall":"keyctl","syscall_nr":250,"arch":"SCMP_ARCH_X86_64","action":"logged","seccomp_action":"log","pid":10,"comm":"a","exe":"/a"}`,
		`{"type":"finding","time":"2026-01-01T00:00:02.000Z","container_id":"abc","namespace":"shop","pod":"web-0","container":"nginx","syscall":"unshare","syscall_nr":272,"arch":"SCMP_ARCH_X86_64","action":"logged","seccomp_action":"log","pid":10,"comm":"a","exe":"/a"}`,
		`{"type":"finding","time":"2026-01-01T00:00:02.000Z","container_id":"abc","namespace":"shop","pod":"web-0","container":"nginx","syscall":"syscall_999","syscall_nr":999,"arch":"SCMP_ARCH_X86_64","action":"logged","seccomp_action":"log","pid":10,"comm":"a","exe":"/a"}`,
		`{"type":"finding","time":"2026-01-01T00:00:04.000Z","container_id":"def","namespace":"shop","pod":"db-0","container":"pg","syscall":"ptrace","syscall_nr":101,"arch":"SCMP_ARCH_X86_64","action":"denied","seccomp_action":"errno","errno":"EPERM","pid":11,"comm":"b","exe":"/b"}`,
		`{"type":"finding","time":"2026-01-01T00:00:04.000Z","container_id":"def","namespace":"shop","pod":"db-0","container":"pg","syscall":"clone3","syscall_nr":435,"arch":"SCMP_ARCH_X86_64","action":"compat","seccomp_action":"errno","errno":"ENOSYS","pid":11,"comm":"b","exe":"/b"}`,
		`{"type":"finding","time":"2026-01-01T00:00:04.000Z","container_id":"def","namespace":"shop","pod":"db-0","container":"pg","syscall":"clone3","syscall_nr":435,"arch":"SCMP_ARCH_X86_64","action":"denied","seccomp_action":"errno","errno":"ENOSYS","pid":11,"comm":"b","exe":"/b"}`,
		`{"type":"unattributed","time":"2026-01-01T00:00:04.000Z","container_id":"","syscall":"mount","action":"denied"}`,
		`{"type":"lost","time":"2026-01-01T00:00:05.000Z","count":4990,"reason":"printk_ratelimit"}`,
		`{"type":"lost","time":"2026-01-01T00:00:05.000Z","count":2,"reason":"audit_lost"}`,
		`{"type":"stats","time":"2026-01-01T00:00:06.000Z","seccomp_records":5,"findings":5,"ignored":{},"lost":{}}`,
		`not json`,
	}
	dir := t.TempDir()
	// Two files, as after a rotation.
	f1, f2 := filepath.Join(dir, "f.jsonl.1"), filepath.Join(dir, "f.jsonl")
	os.WriteFile(f1, []byte(strings.Join(lines[:4], "\n")+"\n"), 0o600)
	os.WriteFile(f2, []byte(strings.Join(lines[4:], "\n")+"\n"), 0o600)

	var out, errb bytes.Buffer
	if code := FindingsMain([]string{"summarize", f1, f2}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	text := out.String()
	for _, want := range []string{
		"container abc\n  namespace shop, pod web-0, container nginx, policy runtime-default/complain\n  from 2026-01-01T00:00:01.000Z to 2026-01-01T00:00:03.000Z",
		`{"names":["keyctl","unshare"],"action":"SCMP_ACT_ALLOW"}`,
		"not in the patch, libseccomp could not name them: syscall_999",
		"container def",
		"denied (the workload saw these fail): ptrace (EPERM)",
		"unattributed: 1 records",
		"records lost on the node: 4992 (audit_lost 2, printk_ratelimit 4990)",
		"1 lines were not findings JSON",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("summary lacks %q:\n%s", want, text)
		}
	}
	if !strings.Contains(text, "  keyctl             2        0\n") {
		t.Errorf("keyctl counts:\n%s", text)
	}
	if strings.Contains(text, "clone3 (ENOSYS)") || !strings.Contains(text, "  clone3         0        0\n") {
		t.Errorf("clone3's ENOSYS reported as a denial:\n%s", text)
	}
	if strings.Contains(text, "ptrace\"") || strings.Count(text, "profile patch") != 1 {
		t.Errorf("the denied-only container got a patch:\n%s", text)
	}

	out.Reset()
	if code := FindingsMain([]string{"summarize", "--json", f1, f2}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var s Summary
	if err := json.Unmarshal(out.Bytes(), &s); err != nil {
		t.Fatal(err)
	}
	if len(s.Containers) != 2 || s.Containers[0].ContainerID != "def" || s.Containers[1].ContainerID != "abc" {
		t.Fatalf("containers (sorted by namespace, pod): %+v", s.Containers)
	}
	abc := s.Containers[1]
	if abc.Patch == nil || strings.Join(abc.Patch.Names, ",") != "keyctl,unshare" || abc.Patch.Action != "SCMP_ACT_ALLOW" {
		t.Errorf("patch = %+v", abc.Patch)
	}
	if abc.Syscalls[0].Name != "keyctl" || abc.Syscalls[0].Logged != 2 {
		t.Errorf("syscalls = %+v", abc.Syscalls[0])
	}
	if s.LostTotal != 4992 || s.Containers[0].Patch != nil {
		t.Errorf("summary = %+v", s)
	}

	if code := FindingsMain([]string{"summarize"}, &out, &errb); code != 2 {
		t.Errorf("no FILE: exit %d", code)
	}
	if code := FindingsMain([]string{"frobnicate"}, &out, &errb); code != 2 {
		t.Errorf("unknown subcommand: exit %d", code)
	}
	if code := FindingsMain([]string{"summarize", filepath.Join(dir, "missing")}, &out, &errb); code != 1 {
		t.Errorf("missing file: exit %d", code)
	}
}

func TestMainFlags(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Main([]string{"--bogus"}, &out, &errb); code != 2 {
		t.Errorf("unknown flag: exit %d", code)
	}
	if code := Main([]string{"extra"}, &out, &errb); code != 2 {
		t.Errorf("extra argument: exit %d", code)
	}
	if code := Main([]string{"--keep", "-1"}, &out, &errb); code != 2 {
		t.Errorf("negative keep: exit %d", code)
	}
	errb.Reset()
	if code := Main([]string{"--help"}, &out, &errb); code != 0 || !strings.Contains(errb.String(), "usage: secrun monitor") {
		t.Errorf("--help: exit %d %s", code, errb.String())
	}
	// A saved kernel log is read once; the output goes to stdout.
	path := filepath.Join(t.TempDir(), "kmsg")
	os.WriteFile(path, []byte(kmsgLogged+"\n"), 0o600)
	out.Reset()
	if code := Main([]string{"--kmsg", path, "--roots", t.TempDir()}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), `"type":"start"`) || !strings.Contains(out.String(), `"final":true`) {
		t.Errorf("output:\n%s", out.String())
	}
	if code := Main([]string{"--kmsg", filepath.Join(t.TempDir(), "nope")}, &out, &errb); code != 1 {
		t.Errorf("missing kmsg: exit %d", code)
	}
}
