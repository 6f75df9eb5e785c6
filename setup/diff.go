package setup

import (
	"fmt"
	"io"
	"strings"
)

// lineDiff writes a unified diff (3 lines of context) between two texts.
// The files setup edits are small and its changes few, so a longest common
// subsequence over the lines between the common head and tail is plenty.
func lineDiff(w io.Writer, oldName, newName, a, b string) {
	al, bl := diffLines(a), diffLines(b)
	type op struct {
		kind byte // ' ', '-', '+'
		text string
		ai   int // line number in a (1-based) of this or the next old line
		bi   int
	}
	var ops []op
	pre := 0
	for pre < len(al) && pre < len(bl) && al[pre] == bl[pre] {
		pre++
	}
	suf := 0
	for suf < len(al)-pre && suf < len(bl)-pre && al[len(al)-1-suf] == bl[len(bl)-1-suf] {
		suf++
	}
	for i := 0; i < pre; i++ {
		ops = append(ops, op{' ', al[i], i + 1, i + 1})
	}
	am, bm := al[pre:len(al)-suf], bl[pre:len(bl)-suf]
	if len(am)*len(bm) > 4_000_000 {
		// too large for the table: show the middle as replaced
		for i, t := range am {
			ops = append(ops, op{'-', t, pre + i + 1, pre + 1})
		}
		for j, t := range bm {
			ops = append(ops, op{'+', t, pre + len(am) + 1, pre + j + 1})
		}
	} else {
		// lcs[i][j]: length of the LCS of am[i:] and bm[j:]
		lcs := make([][]int32, len(am)+1)
		for i := range lcs {
			lcs[i] = make([]int32, len(bm)+1)
		}
		for i := len(am) - 1; i >= 0; i-- {
			for j := len(bm) - 1; j >= 0; j-- {
				if am[i] == bm[j] {
					lcs[i][j] = lcs[i+1][j+1] + 1
				} else {
					lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
				}
			}
		}
		i, j := 0, 0
		for i < len(am) || j < len(bm) {
			switch {
			case i < len(am) && j < len(bm) && am[i] == bm[j]:
				ops = append(ops, op{' ', am[i], pre + i + 1, pre + j + 1})
				i++
				j++
			case i < len(am) && (j == len(bm) || lcs[i+1][j] >= lcs[i][j+1]):
				ops = append(ops, op{'-', am[i], pre + i + 1, pre + j + 1})
				i++
			default:
				ops = append(ops, op{'+', bm[j], pre + i + 1, pre + j + 1})
				j++
			}
		}
	}
	for k := 0; k < suf; k++ {
		ai, bi := len(al)-suf+k, len(bl)-suf+k
		ops = append(ops, op{' ', al[ai], ai + 1, bi + 1})
	}

	fmt.Fprintf(w, "--- %s\n+++ %s\n", oldName, newName)
	const ctx = 3
	for k := 0; k < len(ops); {
		if ops[k].kind == ' ' {
			k++
			continue
		}
		// a hunk: from ctx lines before this change to ctx lines after the
		// last change that is at most 2*ctx lines from the previous one
		start := max(k-ctx, 0)
		end := k
		for m := k; m < len(ops); m++ {
			if ops[m].kind != ' ' {
				end = m
			} else if m-end > 2*ctx {
				break
			}
		}
		end = min(end+ctx, len(ops)-1)
		var na, nb int
		for _, o := range ops[start : end+1] {
			if o.kind != '+' {
				na++
			}
			if o.kind != '-' {
				nb++
			}
		}
		as, bs := ops[start].ai, ops[start].bi
		if na == 0 {
			as--
		}
		if nb == 0 {
			bs--
		}
		fmt.Fprintf(w, "@@ -%d,%d +%d,%d @@\n", as, na, bs, nb)
		for _, o := range ops[start : end+1] {
			fmt.Fprintf(w, "%c%s\n", o.kind, o.text)
		}
		k = end + 1
	}
}

// diffLines splits text into lines for the diff; a missing final newline
// is shown the way diff(1) shows it.
func diffLines(s string) []string {
	if s == "" {
		return nil
	}
	ls := strings.Split(s, "\n")
	if ls[len(ls)-1] == "" {
		return ls[:len(ls)-1]
	}
	ls = append(ls, `\ No newline at end of file`)
	return ls
}
