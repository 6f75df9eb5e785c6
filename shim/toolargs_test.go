package shim

import (
	"slices"
	"testing"
)

func TestRecordGetsGlobalRoot(t *testing.T) {
	for _, c := range []struct{ argv, want []string }{
		{[]string{"secrun", "--root", "/r", "record", "--output", "o", "id"}, []string{"--root", "/r", "--output", "o", "id"}},
		{[]string{"secrun", "--root=/r", "record", "--root", "/own", "id"}, []string{"--root", "/r", "--root", "/own", "id"}},
		{[]string{"secrun", "record", "id"}, []string{"id"}},
		{[]string{"secrun", "--root", "/r", "profile", "show", "x"}, []string{"show", "x"}},
	} {
		if got := toolArgs(Parse(c.argv)); !slices.Equal(got, c.want) {
			t.Errorf("%v: %v, want %v", c.argv, got, c.want)
		}
	}
}
