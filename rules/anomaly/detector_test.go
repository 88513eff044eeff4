package anomaly

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"
)

const step = 5 * time.Minute

func mustPreset(t testing.TB, name string, mod ...func(*Params)) *Params {
	t.Helper()
	p, err := Preset(name)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mod {
		m(&p)
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	return &p
}

// feed observes values at 5-minute steps from t0 and returns the scores
// (NaN while not ready).
func feed(d *Detector, t0 time.Time, vals []float64) []float64 {
	out := make([]float64, len(vals))
	for i, v := range vals {
		s, ok := d.Observe(t0.Add(time.Duration(i)*step).UnixMilli(), v)
		if !ok {
			s = math.NaN()
		}
		out[i] = s
	}
	return out
}

func noise(r *rand.Rand, n int, mean, sd float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = mean + sd*r.NormFloat64()
	}
	return v
}

func maxOf(s []float64) float64 {
	m := 0.0
	for _, v := range s {
		if v > m {
			m = v
		}
	}
	return m
}

func TestDetectorScenarios(t *testing.T) {
	t0 := time.Date(2024, 3, 4, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		preset string
		mod    func(*Params)
		series func(r *rand.Rand) []float64
		at     int  // index whose score is checked
		flag   bool // whether the score at `at` must exceed the threshold
		quiet  int  // scores before this index must stay under the threshold
	}{
		{
			name: "step up is flagged", preset: PresetGauge,
			series: func(r *rand.Rand) []float64 { return append(noise(r, 200, 50, 1), noise(r, 10, 70, 1)...) },
			at:     200, flag: true, quiet: 200,
		},
		{
			name: "spike is flagged", preset: PresetGauge,
			series: func(r *rand.Rand) []float64 {
				v := noise(r, 300, 20, 2)
				v[250] = 60
				return v
			},
			at: 250, flag: true, quiet: 250,
		},
		{
			name: "latency down-shift is not flagged", preset: PresetLatency,
			series: func(r *rand.Rand) []float64 {
				return append(noise(r, 200, 0.020, 0.001), noise(r, 10, 0.005, 0.0005)...)
			},
			at: 200, flag: false, quiet: 210,
		},
		{
			name: "latency doubling is flagged", preset: PresetLatency,
			series: func(r *rand.Rand) []float64 {
				return append(noise(r, 200, 0.020, 0.001), noise(r, 10, 0.045, 0.001)...)
			},
			at: 200, flag: true, quiet: 200,
		},
		{
			name: "counter rate rise is flagged", preset: PresetCounter,
			series: func(r *rand.Rand) []float64 {
				v := noise(r, 200, 2, 0.2)
				return append(v, noise(r, 10, 8, 0.2)...)
			},
			at: 200, flag: true, quiet: 200,
		},
		{
			name: "counter rate drop is not flagged", preset: PresetCounter,
			series: func(r *rand.Rand) []float64 {
				return append(noise(r, 200, 8, 0.2), noise(r, 10, 1, 0.2)...)
			},
			at: 200, flag: false, quiet: 210,
		},
		{
			name: "daily square wave is learnt with daily seasonality", preset: PresetGauge,
			mod: func(p *Params) { p.Seasonality = Daily },
			series: func(r *rand.Rand) []float64 {
				v := noise(r, 288*6, 10, 0.5)
				for i := range v {
					if (i%288)/144 == 1 {
						v[i] += 40 // 12h high, 12h low, every day
					}
				}
				return v
			},
			// From the third day on the daily jumps must not alert.
			at: 288*6 - 1, flag: false, quiet: -1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mods := []func(*Params){}
			if tc.mod != nil {
				mods = append(mods, tc.mod)
			}
			p := mustPreset(t, tc.preset, mods...)
			vals := tc.series(rand.New(rand.NewPCG(1, 2)))
			scores := feed(NewDetector(p), t0, vals)
			if got := scores[tc.at] > p.Threshold; got != tc.flag {
				t.Errorf("score at %d = %.2f (threshold %.1f): flagged %v, want %v", tc.at, scores[tc.at], p.Threshold, got, tc.flag)
			}
			quiet := tc.quiet
			if quiet < 0 {
				quiet = len(scores)
			}
			from := 0
			if p.Seasonality == Daily {
				from = 2 * 288
			}
			for i := from; i < quiet; i++ {
				if scores[i] > p.Threshold {
					t.Errorf("score at %d = %.2f exceeds threshold %.1f on normal data", i, scores[i], p.Threshold)
					break
				}
			}
		})
	}
}

func TestDetectorSquareWaveWithoutSeasonalityScoresHigh(t *testing.T) {
	// The counterpart of the seasonal case: without seasonality the same
	// daily jumps score far higher, so the seasonal test is not vacuous.
	r := rand.New(rand.NewPCG(1, 2))
	v := noise(r, 288*6, 10, 0.5)
	for i := range v {
		if (i%288)/144 == 1 {
			v[i] += 40
		}
	}
	t0 := time.Date(2024, 3, 4, 0, 0, 0, 0, time.UTC)
	plainScores := feed(NewDetector(mustPreset(t, PresetGauge, func(p *Params) { p.Seasonality = NoSeason })), t0, v)
	seasonalScores := feed(NewDetector(mustPreset(t, PresetGauge, func(p *Params) { p.Seasonality = Daily })), t0, v)
	var plain, seasonal float64
	jumps := 0
	for i := 2 * 288; i < len(v); i += 144 {
		plain += plainScores[i]
		seasonal += seasonalScores[i]
		jumps++
	}
	plain /= float64(jumps)
	seasonal /= float64(jumps)
	t.Logf("mean score at the daily jumps from day 3: %.2f without seasonality, %.2f with", plain, seasonal)
	if plain < 3*seasonal {
		t.Errorf("mean jump score without seasonality %.2f, want at least 3 times the seasonal %.2f", plain, seasonal)
	}
}

func TestDetectorWarmUp(t *testing.T) {
	p := mustPreset(t, PresetGauge, func(p *Params) { p.MinHistory = 30 })
	d := NewDetector(p)
	t0 := time.Unix(1e9, 0)
	for i := 0; i < 30; i++ {
		v := 1.0
		if i == 20 {
			v = 1e6 // a huge value during warm-up produces no score
		}
		if _, ok := d.Observe(t0.Add(time.Duration(i)*step).UnixMilli(), v); ok {
			t.Fatalf("sample %d scored during warm-up (min_history 30)", i)
		}
	}
	if _, ok := d.Observe(t0.Add(30*step).UnixMilli(), 1); !ok {
		t.Fatal("sample 31 not scored after 30 samples of history")
	}
	if _, ok := d.Observe(t0.Add(31*step).UnixMilli(), math.NaN()); ok {
		t.Fatal("NaN scored")
	}
}

func TestMedianMADMatchesBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, w := range []int{8, 9, 33, 64, 96} {
		t.Run("window", func(t *testing.T) {
			p := &Params{Window: w, MinHistory: 2, Threshold: 1, HalfLife: 1}
			d := NewDetector(p)
			var hist []float64
			for i := 0; i < 3*w; i++ {
				v := float64(float32(math.Round(r.NormFloat64()*5) / 2)) // ties on purpose
				d.Observe(int64(i), v)
				hist = append(hist, v)
				win := hist[max(0, len(hist)-w):]
				wantM, wantMAD := bruteMedianMAD(win)
				m, mad := d.medianMAD()
				if math.Abs(m-wantM) > 1e-6 || math.Abs(mad-wantMAD) > 1e-6 {
					t.Fatalf("w=%d after %d: median/MAD = %v/%v, want %v/%v", w, i+1, m, mad, wantM, wantMAD)
				}
			}
		})
	}
}

func bruteMedianMAD(v []float64) (float64, float64) {
	med := func(x []float64) float64 {
		s := append([]float64(nil), x...)
		sort.Float64s(s)
		n := len(s)
		if n%2 == 1 {
			return s[n/2]
		}
		return (s[n/2-1] + s[n/2]) / 2
	}
	m := med(v)
	dev := make([]float64, len(v))
	for i, x := range v {
		dev[i] = math.Abs(x - m)
	}
	return m, med(dev)
}

func TestDetectorStateRoundTrip(t *testing.T) {
	for _, season := range []Seasonality{NoSeason, Daily, Weekly} {
		t.Run(season.String(), func(t *testing.T) {
			p := mustPreset(t, PresetGauge, func(p *Params) { p.Seasonality = season })
			r := rand.New(rand.NewPCG(5, 6))
			vals := noise(r, 3000, 100, 10)
			t0 := time.Unix(1.7e9, 0)
			a := NewDetector(p)
			feed(a, t0, vals[:2500])
			data, err := a.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			b := NewDetector(p)
			if err := b.UnmarshalBinary(data); err != nil {
				t.Fatal(err)
			}
			t1 := t0.Add(2500 * step)
			sa, sb := feed(a, t1, vals[2500:]), feed(b, t1, vals[2500:])
			for i := range sa {
				if sa[i] != sb[i] {
					t.Fatalf("score %d after restore = %v, want %v", i, sb[i], sa[i])
				}
			}
			again, _ := b.MarshalBinary()
			if again2, _ := a.MarshalBinary(); string(again) != string(again2) {
				t.Fatal("state differs after the same samples")
			}
		})
	}
}

func TestDetectorStateWindowShrinks(t *testing.T) {
	big := mustPreset(t, PresetGauge, func(p *Params) { p.Window = 64 })
	small := mustPreset(t, PresetGauge, func(p *Params) { p.Window = 16 })
	a := NewDetector(big)
	feed(a, time.Unix(0, 0), noise(rand.New(rand.NewPCG(1, 1)), 100, 5, 1))
	data, _ := a.MarshalBinary()
	b := NewDetector(small)
	if err := b.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	if b.n != 16 || b.Seen() != 100 {
		t.Fatalf("restored window %d values, %d seen; want 16, 100", b.n, b.Seen())
	}
}

func TestDetectorStateRejectsDamage(t *testing.T) {
	p := mustPreset(t, PresetGauge)
	a := NewDetector(p)
	feed(a, time.Unix(0, 0), noise(rand.New(rand.NewPCG(1, 1)), 100, 5, 1))
	data, _ := a.MarshalBinary()
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"bad magic", append([]byte("XXXX"), data[4:]...)},
		{"truncated", data[:len(data)/2]},
		{"one byte short", data[:len(data)-1]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := NewDetector(p).UnmarshalBinary(tc.data); err == nil {
				t.Fatal("damaged state accepted")
			}
		})
	}
}

func TestDetectorBytes(t *testing.T) {
	for _, name := range Presets() {
		for _, s := range []Seasonality{NoSeason, Daily, Weekly} {
			p := mustPreset(t, name, func(p *Params) { p.Seasonality = s })
			if b := p.DetectorBytes(); b > MaxDetectorBytes {
				t.Errorf("%s/%s: %d bytes per detector, budget %d", name, s, b, MaxDetectorBytes)
			}
		}
	}
	p := mustPreset(t, PresetGauge)
	p.Seasonality, p.SeasonBucket = Weekly, time.Hour
	if err := p.Validate(); err == nil {
		t.Error("weekly seasonality with 1h buckets and a 64-sample window accepted over the memory budget")
	}
}

func TestAlertLifecycle(t *testing.T) {
	p := &Params{For: 10 * time.Minute, KeepFiringFor: 5 * time.Minute}
	var a alertState
	m := func(min int) int64 { return int64(min) * 60000 }
	steps := []struct {
		min       int
		anomalous bool
		state     uint8
		fired     bool
	}{
		{0, true, statePending, false},
		{5, true, statePending, false},
		{10, true, stateFiring, true},
		{15, false, stateFiring, false}, // keep_firing_for holds it
		{20, false, stateInactive, false},
		{25, true, statePending, false},
		{30, false, stateInactive, false}, // pending ends without firing
	}
	for _, s := range steps {
		fired := a.step(m(s.min), s.anomalous, p)
		if a.State != s.state || fired != s.fired {
			t.Fatalf("minute %d: state %d fired %v, want %d %v", s.min, a.State, fired, s.state, s.fired)
		}
	}
}

func FuzzDetectorUnmarshal(f *testing.F) {
	p, _ := Preset(PresetGauge)
	d := NewDetector(&p)
	feed(d, time.Unix(0, 0), noise(rand.New(rand.NewPCG(1, 1)), 200, 5, 1))
	good, _ := d.MarshalBinary()
	f.Add(good)
	f.Add([]byte(detectorMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		d := NewDetector(&p)
		if err := d.UnmarshalBinary(data); err != nil {
			return
		}
		if s, ok := d.Observe(d.last+60000, 5); ok && (math.IsNaN(s) || s < 0) {
			t.Fatalf("restored detector scored %v", s)
		}
	})
}
