package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// quantile returns the q-quantile of xs by linear interpolation between the
// closest ranks (numpy's default), or NaN for no data.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	pos := q * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	return s[lo] + (s[hi]-s[lo])*(pos-float64(lo))
}

func median(xs []float64) float64 { return quantile(xs, 0.5) }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// diffCI is a percentile-bootstrap 95% interval for median(x) - median(y).
// Samples are resampled as pairs when they are the same length (interleaved
// runs: iteration i of x and of y ran back to back, under the same load).
func diffCI(x, y []float64) (lo, hi float64) {
	return bootCI(x, y, func(mx, my float64) float64 { return mx - my })
}

// ratioCI is the same interval for median(x) / median(y).
func ratioCI(x, y []float64) (lo, hi float64) {
	return bootCI(x, y, func(mx, my float64) float64 { return mx / my })
}

func bootCI(x, y []float64, stat func(mx, my float64) float64) (lo, hi float64) {
	if len(x) < 5 || len(y) < 5 {
		return math.NaN(), math.NaN()
	}
	r := rand.New(rand.NewPCG(1, 2)) // fixed seed: the same data gives the same interval
	paired := len(x) == len(y)
	const rounds = 2000
	d := make([]float64, rounds)
	bx := make([]float64, len(x))
	by := make([]float64, len(y))
	for k := range d {
		for i := range bx {
			j := r.IntN(len(x))
			bx[i] = x[j]
			if paired {
				by[i] = y[j]
			}
		}
		if !paired {
			for i := range by {
				by[i] = y[r.IntN(len(y))]
			}
		}
		d[k] = stat(median(bx), median(by))
	}
	return quantile(d, 0.025), quantile(d, 0.975)
}

// pairedMedian is the median of x[i]-y[i].
func pairedMedian(x, y []float64) float64 {
	n := min(len(x), len(y))
	d := make([]float64, n)
	for i := range d {
		d[i] = x[i] - y[i]
	}
	return median(d)
}
