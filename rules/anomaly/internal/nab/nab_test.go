package nab

import (
	"math"
	"testing"
	"time"
)

// rows returns n timestamps 5 minutes apart.
func rows(n int) []time.Time {
	t0 := time.Date(2014, 4, 1, 0, 0, 0, 0, time.UTC)
	ts := make([]time.Time, n)
	for i := range ts {
		ts[i] = t0.Add(time.Duration(i) * 5 * time.Minute)
	}
	return ts
}

func TestScaledSigmoid(t *testing.T) {
	for _, tc := range []struct{ pos, want float64 }{
		{-1, 0.98661}, {-0.5, 0.84828}, {0, 0}, {1, -0.98661}, {3.5, -1},
	} {
		if got := ScaledSigmoid(tc.pos); math.Abs(got-tc.want) > 1e-5 {
			t.Errorf("ScaledSigmoid(%v) = %v, want %v (NAB's docstring)", tc.pos, got, tc.want)
		}
	}
}

func TestScoreFile(t *testing.T) {
	ts := rows(100)                               // probation: floor(0.15·100) = 15 rows
	win := []Window{{Start: ts[40], End: ts[49]}} // 10 rows
	maxTP := ScaledSigmoid(-1)
	at := func(idx ...int) []bool {
		d := make([]bool, len(ts))
		for _, i := range idx {
			d[i] = true
		}
		return d
	}
	tests := []struct {
		name     string
		det      []bool
		want     float64
		detected int
		tp, fp   int
	}{
		{"no detection costs FN", at(), -1, 0, 0, 0},
		{"detection at the left edge earns TP", at(40), 1, 1, 1, 0},
		// position -(49-45+1)/10 = -0.5
		{"detection mid-window", at(45), ScaledSigmoid(-0.5) / maxTP, 1, 1, 0},
		{"only the earliest detection counts", at(45, 41), ScaledSigmoid(-0.9) / maxTP, 1, 2, 0},
		{"FP before any window costs the full weight", at(20, 40), 1 - 0.11, 1, 1, 1},
		{"detections in probation are ignored", at(3), -1, 0, 0, 0},
		// position past the window: |49-52| / (10-1)
		{"FP just after a window costs less", at(40, 52), 1 + 0.11*ScaledSigmoid(3.0/9), 1, 1, 1},
		{"FP far after a window costs the full weight", at(40, 99), 1 + 0.11*ScaledSigmoid(50.0/9), 1, 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ScoreFile(ts, tc.det, win, Standard)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(r.Score-tc.want) > 1e-9 || r.Detected != tc.detected || r.TP != tc.tp || r.FP != tc.fp || r.Windows != 1 {
				t.Errorf("got %+v, want score %v detected %d tp %d fp %d", r, tc.want, tc.detected, tc.tp, tc.fp)
			}
		})
	}
}

func TestScoreFileWindowMismatch(t *testing.T) {
	ts := rows(10)
	_, err := ScoreFile(ts, make([]bool, 10), []Window{{Start: ts[2].Add(time.Minute), End: ts[5]}}, Standard)
	if err == nil {
		t.Fatal("window not on a row accepted")
	}
}

func TestNormalise(t *testing.T) {
	// Null detector scores 0, perfect 100.
	if got := Normalise(-3, -3, 3, Standard); got != 0 {
		t.Errorf("null = %v", got)
	}
	if got := Normalise(3, -3, 3, Standard); got != 100 {
		t.Errorf("perfect = %v", got)
	}
}

func TestProbationaryLength(t *testing.T) {
	for _, tc := range []struct{ n, want int }{{100, 15}, {4032, 604}, {10000, 750}} {
		if got := ProbationaryLength(tc.n); got != tc.want {
			t.Errorf("ProbationaryLength(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
}
