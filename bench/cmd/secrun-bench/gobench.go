package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

type goBench struct {
	name                string
	nsPerOp, bytesPerOp float64
	allocsPerOp         int64
}

// parseGoBench reads `go test -bench -benchmem` output: lines like
// "BenchmarkX/10KB-2  1234  98765 ns/op  4321 B/op  12 allocs/op".
func parseGoBench(path string) ([]goBench, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []goBench
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") {
			continue
		}
		g := goBench{name: trimProcs(fields[0])}
		for i := 2; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				continue
			}
			switch fields[i+1] {
			case "ns/op":
				g.nsPerOp = v
			case "B/op":
				g.bytesPerOp = v
			case "allocs/op":
				g.allocsPerOp = int64(v)
			}
		}
		out = append(out, g)
	}
	if err := sc.Err(); err != nil {
		return out, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no benchmark lines", path)
	}
	return out, nil
}

// trimProcs drops the -GOMAXPROCS suffix go test appends to names.
func trimProcs(name string) string {
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		if _, err := strconv.Atoi(name[i+1:]); err == nil {
			return name[:i]
		}
	}
	return name
}
