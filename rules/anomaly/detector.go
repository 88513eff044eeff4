package anomaly

import (
	"math"
	"sort"
	"time"
	"unsafe"
)

// madScale turns a median absolute deviation into a standard deviation for
// normally distributed data.
const madScale = 1.4826

// Detector keeps the incremental baseline of one series and scores each new
// sample against it. It is not safe for concurrent use.
//
// The score of a sample x (after the params' transform and seasonal offset) is
//
//	z = (x - median) / scale
//	scale = max(1.4826·MAD, StdWeight·σ_ewma, RelativeFloor·|median|, AbsoluteFloor)
//
// over the rolling window of the last Window samples (the sample itself is
// scored before it joins the window). The score is z for Direction Up, -z for
// Down and |z| for Both, and never negative.
type Detector struct {
	p      *Params
	buf    []float32 // [0,w) ring in arrival order, [w,2w) the same values sorted
	season []float32 // per-bucket EWMA of the values; NaN until visited
	n      uint16    // values in the window
	head   uint16    // next ring slot
	seen   uint32    // samples observed
	mean   float64   // EWMA mean
	vari   float64   // EWMA variance
	first  int64     // ms timestamp of the first sample
	last   int64     // ms timestamp of the last sample
}

// detectorFixedBytes is the size of the Detector struct itself.
const detectorFixedBytes = int(unsafe.Sizeof(Detector{}))

// NewDetector returns an empty detector. p must be valid (Params.Validate)
// and must not change while the detector is in use.
func NewDetector(p *Params) *Detector {
	d := &Detector{p: p, buf: make([]float32, 2*p.Window)}
	if nb := p.seasonBuckets(); nb > 0 {
		d.season = make([]float32, nb)
		for i := range d.season {
			d.season[i] = float32(math.NaN())
		}
	}
	return d
}

// Params returns the detector's parameters.
func (d *Detector) Params() *Params { return d.p }

// Seen is the number of samples observed so far.
func (d *Detector) Seen() int { return int(d.seen) }

// Ready says whether the baseline has enough history to score.
func (d *Detector) Ready() bool { return int(d.seen) >= d.p.MinHistory && d.n >= 2 }

// Baseline returns the current window median and scale (in transformed units).
func (d *Detector) Baseline() (median, scale float64) {
	if d.n == 0 {
		return math.NaN(), math.NaN()
	}
	m, mad := d.medianMAD()
	return m, d.scale(m, mad)
}

// Observe scores the sample (t in milliseconds) and then learns from it.
// ready is false during warm-up and for NaN/Inf values (which are ignored).
func (d *Detector) Observe(t int64, v float64) (score float64, ready bool) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	y := d.transform(v)
	if d.seen == 0 {
		d.first = t
	}
	x := y - d.seasonalOffset(t)
	if d.Ready() {
		m, mad := d.medianMAD()
		s := d.scale(m, mad)
		z := (x - m) / s
		switch d.p.Direction {
		case Up:
			score = math.Max(z, 0)
		case Down:
			score = math.Max(-z, 0)
		default:
			score = math.Abs(z)
		}
		ready = true
		d.learnEWMA(x, s)
	} else {
		d.learnEWMA(x, 0)
	}
	d.learnSeason(t, y)
	d.push(float32(x))
	d.seen++
	d.last = t
	return score, ready
}

func (d *Detector) transform(v float64) float64 {
	if d.p.Transform == Log {
		return math.Log(math.Max(v, 1e-12))
	}
	return v
}

func (d *Detector) scale(m, mad float64) float64 {
	s := madScale * mad
	if w := d.p.StdWeight * math.Sqrt(d.vari); w > s {
		s = w
	}
	if r := d.p.RelativeFloor * math.Abs(m); r > s {
		s = r
	}
	if d.p.AbsoluteFloor > s {
		s = d.p.AbsoluteFloor
	}
	if s < 1e-12 {
		s = 1e-12
	}
	return s
}

// learnEWMA updates the EWMA mean and variance. Once scoring, a deviation is
// clipped at Threshold·scale so one spike cannot blow the variance up.
func (d *Detector) learnEWMA(x, scale float64) {
	if d.seen == 0 {
		d.mean = x
		return
	}
	// Early on, weigh samples equally (1/n) so the variance is not biased low
	// while the EWMA fills.
	a := max(1-math.Exp2(-1/d.p.HalfLife), 1/float64(d.seen+1))
	dev := x - d.mean
	if scale > 0 {
		lim := d.p.Threshold * scale
		dev = math.Max(-lim, math.Min(lim, dev))
	}
	d.mean += a * dev
	d.vari = (1 - a) * (d.vari + a*dev*dev)
}

func (d *Detector) bucketOf(t int64) int {
	period := d.p.Seasonality.Period().Milliseconds()
	b := d.p.bucket().Milliseconds()
	off := t % period
	if off < 0 {
		off += period
	}
	return int(off / b)
}

// seasonalOffset is the learned offset of t's bucket from the mean of all
// buckets, once one full period has been seen.
func (d *Detector) seasonalOffset(t int64) float64 {
	if d.season == nil || t-d.first < d.p.Seasonality.Period().Milliseconds() {
		return 0
	}
	cur := d.season[d.bucketOf(t)]
	if math.IsNaN(float64(cur)) {
		return 0
	}
	var sum float64
	var k int
	for _, v := range d.season {
		if !math.IsNaN(float64(v)) {
			sum += float64(v)
			k++
		}
	}
	return float64(cur) - sum/float64(k)
}

func (d *Detector) learnSeason(t int64, y float64) {
	if d.season == nil {
		return
	}
	b := d.bucketOf(t)
	cur := float64(d.season[b])
	if math.IsNaN(cur) {
		d.season[b] = float32(y)
		return
	}
	// Samples per bucket visit, from the current sampling interval.
	per := 1.0
	if dt := t - d.last; d.seen > 0 && dt > 0 {
		per = math.Max(1, float64(d.p.bucket().Milliseconds())/float64(dt))
	}
	a := 1 - math.Exp2(-1/(d.p.SeasonHalfLife*per))
	d.season[b] = float32(cur + a*(y-cur))
}

// push adds x to the window, evicting the oldest value when full.
func (d *Detector) push(x float32) {
	w := d.p.Window
	ring, sorted := d.buf[:w], d.buf[w:]
	n := int(d.n)
	if n == w {
		old := ring[d.head]
		i := sort.Search(n, func(i int) bool { return sorted[i] >= old })
		for i < n-1 && sorted[i] != old { // NaN never enters; exact match exists
			i++
		}
		copy(sorted[i:n-1], sorted[i+1:n])
		n--
	}
	i := sort.Search(n, func(i int) bool { return sorted[i] > x })
	copy(sorted[i+1:n+1], sorted[i:n])
	sorted[i] = x
	ring[d.head] = x
	d.head = uint16((int(d.head) + 1) % w)
	if int(d.n) < w {
		d.n++
	}
}

// medianMAD returns the window's median and median absolute deviation,
// merging the two sorted halves of deviations in O(n) without allocating.
func (d *Detector) medianMAD() (float64, float64) {
	n := int(d.n)
	s := d.buf[d.p.Window : d.p.Window+n]
	var m float64
	if n%2 == 1 {
		m = float64(s[n/2])
	} else {
		m = (float64(s[n/2-1]) + float64(s[n/2])) / 2
	}
	// Left deviations m-s[i] grow as i goes down from the split; right ones
	// s[j]-m grow as j goes up. Walk both to the middle rank(s).
	j := sort.Search(n, func(i int) bool { return float64(s[i]) >= m })
	i := j - 1
	lo, hi := (n-1)/2, n/2
	var a, b float64
	for k := 0; k <= hi; k++ {
		var dev float64
		if i >= 0 && (j >= n || m-float64(s[i]) <= float64(s[j])-m) {
			dev = m - float64(s[i])
			i--
		} else {
			dev = float64(s[j]) - m
			j++
		}
		if k == lo {
			a = dev
		}
		if k == hi {
			b = dev
		}
	}
	return m, (a + b) / 2
}

// alertState is the Prometheus-like life of one alert: inactive → pending →
// firing → resolved, with For and KeepFiringFor.
type alertState struct {
	State      uint8 // stateInactive, statePending, stateFiring
	ActiveAt   int64 // ms
	FiredAt    int64
	ResolvedAt int64
	KeepSince  int64
}

const (
	stateInactive uint8 = iota
	statePending
	stateFiring
)

// step advances the alert at t (ms). It returns true when the alert starts
// firing at this step.
func (a *alertState) step(t int64, anomalous bool, p *Params) (fired bool) {
	if anomalous {
		a.KeepSince = 0
		switch a.State {
		case stateInactive:
			*a = alertState{State: statePending, ActiveAt: t}
			fallthrough
		case statePending:
			if time.Duration(t-a.ActiveAt)*time.Millisecond >= p.For {
				a.State = stateFiring
				a.FiredAt = t
				return true
			}
		}
		return false
	}
	switch a.State {
	case statePending:
		*a = alertState{}
	case stateFiring:
		if p.KeepFiringFor > 0 {
			if a.KeepSince == 0 {
				a.KeepSince = t
			}
			if time.Duration(t-a.KeepSince)*time.Millisecond < p.KeepFiringFor {
				return false
			}
		}
		a.State = stateInactive
		a.ResolvedAt = t
		a.KeepSince = 0
	}
	return false
}
