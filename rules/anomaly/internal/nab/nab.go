// Package nab scores binary detections against the labelled windows of the
// Numenta Anomaly Benchmark, the way NAB's sweeper (nab/sweeper.py) and
// runner (normalisation) do.
//
// It is test tooling for rules/anomaly: it must not be imported by
// production code paths and knows nothing of detectors.
package nab

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"time"
)

// Costs is a NAB application profile's cost matrix.
type Costs struct {
	TP, FP, FN float64
}

// Profiles NAB defines.
var (
	Standard    = Costs{TP: 1, FP: 0.11, FN: 1}
	RewardLowFP = Costs{TP: 1, FP: 0.22, FN: 1}
	RewardLowFN = Costs{TP: 1, FP: 0.11, FN: 2}
)

// Probation is the fraction of each file that is not scored.
const Probation = 0.15

// TimeLayout is the layout of NAB's timestamps (data and label files).
const TimeLayout = "2006-01-02 15:04:05"

// Window is one labelled anomaly window, inclusive at both ends.
type Window struct {
	Start, End time.Time
}

// LoadWindows reads combined_windows.json: file path → windows.
func LoadWindows(path string) (map[string][]Window, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var raw map[string][][2]string
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := make(map[string][]Window, len(raw))
	for file, ws := range raw {
		out[file] = []Window{}
		for i, w := range ws {
			s, err1 := time.Parse(TimeLayout, w[0])
			e, err2 := time.Parse(TimeLayout, w[1])
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("%s: %s window %d: bad timestamp %q..%q", path, file, i, w[0], w[1])
			}
			out[file] = append(out[file], Window{Start: s, End: e})
		}
		sort.Slice(out[file], func(a, b int) bool { return out[file][a].Start.Before(out[file][b].Start) })
	}
	return out, nil
}

// Result is the score of one file (or, summed, of a corpus).
type Result struct {
	Score float64 // raw NAB score
	// Windows is the number of scored windows (those not wholly inside the
	// probationary period); Detected how many of them got a detection.
	Windows, Detected int
	// TP and FP count scored detections inside and outside windows.
	TP, FP int
}

// Add sums two results.
func (r Result) Add(o Result) Result {
	return Result{r.Score + o.Score, r.Windows + o.Windows, r.Detected + o.Detected, r.TP + o.TP, r.FP + o.FP}
}

// Recall is the share of windows detected.
func (r Result) Recall() float64 { return ratio(r.Detected, r.Windows) }

// Precision is the share of detections that fell inside a window.
func (r Result) Precision() float64 { return ratio(r.TP, r.TP+r.FP) }

func ratio(a, b int) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

// ScaledSigmoid is NAB's reward curve over a relative position: -1 is a
// window's left edge (≈0.987), 0 its right edge (0), >0 past it (negative).
func ScaledSigmoid(pos float64) float64 {
	if pos > 3.0 {
		return -1.0
	}
	return 2/(1+math.Exp(5*pos)) - 1
}

// ProbationaryLength is the number of leading rows that are not scored.
func ProbationaryLength(rows int) int {
	return int(math.Min(math.Floor(Probation*float64(rows)), Probation*5000))
}

// ScoreFile scores one file: timestamps of every row, detected[i] true when
// the detector raised an alert at row i, and the file's windows. As in NAB's
// sweeper, a detection inside a window earns the scaled sigmoid of its
// position (normalised so the left edge earns TP), the earliest detection of
// a window counts, a window without one costs FN, and every detection outside
// windows costs FP times the sigmoid of its distance past the preceding
// window (or the full FP weight before any window).
func ScoreFile(ts []time.Time, detected []bool, windows []Window, c Costs) (Result, error) {
	if len(ts) != len(detected) {
		return Result{}, fmt.Errorf("%d timestamps but %d detections", len(ts), len(detected))
	}
	index := make(map[int64]int, len(ts))
	for i, t := range ts {
		index[t.UnixNano()] = i
	}
	type span struct{ left, right int }
	spans := make([]span, 0, len(windows))
	for _, w := range windows {
		l, ok1 := index[w.Start.UnixNano()]
		r, ok2 := index[w.End.UnixNano()]
		if !ok1 || !ok2 || r < l {
			return Result{}, fmt.Errorf("window %s..%s does not match rows of the file", w.Start.Format(TimeLayout), w.End.Format(TimeLayout))
		}
		spans = append(spans, span{l, r})
	}

	maxTP := ScaledSigmoid(-1)
	prob := ProbationaryLength(len(ts))
	var res Result
	best := make([]float64, len(spans)) // window score, -FN until detected
	scored := make([]bool, len(spans))
	for k := range best {
		best[k] = -c.FN
	}
	cur, prev := -1, -1
	next := 0
	for i := range ts {
		if cur < 0 && next < len(spans) && i == spans[next].left {
			cur = next
			next++
		}
		var sweep float64
		if cur >= 0 {
			width := float64(spans[cur].right - spans[cur].left + 1)
			pos := -float64(spans[cur].right-i+1) / width
			sweep = ScaledSigmoid(pos) * c.TP / maxTP
		} else if prev < 0 {
			sweep = -1 * c.FP
		} else {
			width := float64(spans[prev].right - spans[prev].left + 1)
			pos := math.Abs(float64(spans[prev].right-i)) / (width - 1)
			sweep = ScaledSigmoid(pos) * c.FP
		}
		if i >= prob {
			if cur >= 0 {
				scored[cur] = true
			}
			if detected[i] {
				if cur >= 0 {
					res.TP++
					best[cur] = math.Max(best[cur], sweep)
				} else {
					res.FP++
					res.Score += sweep
				}
			}
		}
		if cur >= 0 && i == spans[cur].right {
			prev, cur = cur, -1
		}
	}
	for k := range spans {
		if !scored[k] {
			continue
		}
		res.Windows++
		if best[k] > -c.FN {
			res.Detected++
		}
		res.Score += best[k]
	}
	return res, nil
}

// Normalise maps a corpus' raw score to NAB's scale: the null detector
// (no detections) scores 0 and a perfect one (every window detected at its
// left edge, no false positives) 100. windows is the number of labelled
// windows in the corpus.
func Normalise(raw, null float64, windows int, c Costs) float64 {
	perfect := float64(windows) * c.TP
	return 100 * (raw - null) / (perfect - null)
}
