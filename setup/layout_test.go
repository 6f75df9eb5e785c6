package setup

import (
	"reflect"
	"testing"
)

func TestScanLayout(t *testing.T) {
	src := "# head\r\n" +
		"version = 2 # v\r\n" +
		"imports = [\r\n" +
		"  # one\r\n" +
		"  '/a.toml', # [not.a.table]\r\n" +
		"]\r\n" +
		"\r\n" +
		"  [ plugins . \"io.containerd.grpc.v1.cri\" ]   # cri\r\n" +
		"    s = \"\"\"\r\n[x]\r\ny = 1\"\"\"\r\n" +
		"    containerd.'default_runtime_name' = 'runc'\r\n" +
		"[[proxy]]\r\n" +
		"  k = { a = [1,\r\n 2] }\r\n"
	got, err := scanLayout(src)
	if err != nil {
		t.Fatal(err)
	}
	cri := []string{"plugins", "io.containerd.grpc.v1.cri"}
	want := []stmt{
		{kind: stmtKeyValue, startLine: 1, endLine: 1, table: nil, key: []string{"version"}, keyText: "version"},
		{kind: stmtKeyValue, startLine: 2, endLine: 5, table: nil, key: []string{"imports"}, keyText: "imports"},
		{kind: stmtTable, startLine: 7, endLine: 7, table: cri, indent: "  "},
		{kind: stmtKeyValue, startLine: 8, endLine: 10, table: cri, key: []string{"s"}, keyText: "s", indent: "    "},
		{kind: stmtKeyValue, startLine: 11, endLine: 11, table: cri, key: []string{"containerd", "default_runtime_name"}, keyText: "containerd.'default_runtime_name'", indent: "    "},
		{kind: stmtArrayTable, startLine: 12, endLine: 12, table: []string{"proxy"}},
		{kind: stmtKeyValue, startLine: 13, endLine: 14, table: []string{"proxy", "[]"}, key: []string{"k"}, keyText: "k", indent: "  "},
	}
	if len(got) != len(want) {
		t.Fatalf("%d statements, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("statement %d: %+v\nwant %+v", i, got[i], want[i])
		}
	}
	if _, err := scanLayout("version = 2\n[plugins\n"); err == nil || err.Error()[:7] != "line 2:" {
		t.Errorf("error = %v", err)
	}
}
