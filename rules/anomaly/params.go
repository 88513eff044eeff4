package anomaly

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Direction says which deviations from the baseline count as anomalous.
type Direction uint8

// Directions.
const (
	Both Direction = iota // rises and falls (gauges: temperature, power)
	Up                    // rises only (latency, error rates)
	Down                  // falls only (throughput, free space)
)

func (d Direction) String() string {
	switch d {
	case Up:
		return "up"
	case Down:
		return "down"
	default:
		return "both"
	}
}

// ParseDirection reads "up", "down" or "both".
func ParseDirection(s string) (Direction, error) {
	switch s {
	case "up":
		return Up, nil
	case "down":
		return Down, nil
	case "both":
		return Both, nil
	}
	return Both, fmt.Errorf("unknown direction %q (want up, down or both)", s)
}

// Transform is applied to every value before it reaches the baseline.
type Transform uint8

// Transforms.
const (
	Identity Transform = iota
	Log                // natural log: multiplicative shifts (latency) become additive
)

func (t Transform) String() string {
	if t == Log {
		return "log"
	}
	return "none"
}

// ParseTransform reads "none" or "log".
func ParseTransform(s string) (Transform, error) {
	switch s {
	case "none", "":
		return Identity, nil
	case "log":
		return Log, nil
	}
	return Identity, fmt.Errorf("unknown transform %q (want none or log)", s)
}

// Seasonality selects the per-bucket seasonal offsets a detector learns.
type Seasonality uint8

// Seasonalities.
const (
	NoSeason Seasonality = iota
	Daily                // buckets over the hour of the day
	Weekly               // buckets over the hour of the week
)

func (s Seasonality) String() string {
	switch s {
	case Daily:
		return "daily"
	case Weekly:
		return "weekly"
	}
	return "none"
}

// Period is the length of one season.
func (s Seasonality) Period() time.Duration {
	switch s {
	case Daily:
		return 24 * time.Hour
	case Weekly:
		return 7 * 24 * time.Hour
	}
	return 0
}

// ParseSeasonality reads "none", "daily" or "weekly".
func ParseSeasonality(s string) (Seasonality, error) {
	switch s {
	case "none", "":
		return NoSeason, nil
	case "daily":
		return Daily, nil
	case "weekly":
		return Weekly, nil
	}
	return NoSeason, fmt.Errorf("unknown seasonality %q (want none, daily or weekly)", s)
}

// MaxWindow is the largest rolling window a detector keeps (samples).
const MaxWindow = 96

// MaxDetectorBytes is the memory budget of one detector.
const MaxDetectorBytes = 1024

// Params tune one detector. Presets give tuned defaults; rules override
// single fields.
type Params struct {
	// Window is the number of recent samples in the rolling median/MAD
	// baseline (8..MaxWindow).
	Window int
	// MinHistory is the number of samples seen before any score is produced.
	MinHistory int
	// Threshold is the score above which a sample is anomalous.
	Threshold float64
	// Direction says which deviations count.
	Direction Direction
	// Transform is applied to values before anything else.
	Transform Transform
	// HalfLife is the EWMA half-life in samples for the mean and variance.
	HalfLife float64
	// StdWeight scales the EWMA standard deviation used as a floor of the
	// score's scale (0 disables it).
	StdWeight float64
	// RelativeFloor is the smallest scale as a fraction of |median|.
	RelativeFloor float64
	// AbsoluteFloor is the smallest scale in the (transformed) unit.
	AbsoluteFloor float64
	// Seasonality enables per-bucket seasonal offsets.
	Seasonality Seasonality
	// SeasonBucket is the width of one seasonal bucket; 0 means 1h for
	// daily and 4h for weekly seasonality.
	SeasonBucket time.Duration
	// SeasonHalfLife is the half-life, in visits of a bucket, of its offset.
	SeasonHalfLife float64
	// For is how long the score must stay above Threshold before an alert
	// fires.
	For time.Duration
	// KeepFiringFor keeps a firing alert firing this long after the score
	// fell back (Prometheus' keep_firing_for).
	KeepFiringFor time.Duration
}

// Preset names.
const (
	PresetLatency = "latency"
	PresetCounter = "counter"
	PresetGauge   = "gauge"
)

// Presets returns the names of the presets, sorted.
func Presets() []string {
	n := []string{PresetLatency, PresetCounter, PresetGauge}
	sort.Strings(n)
	return n
}

// Preset returns the tuned parameters of a preset.
func Preset(name string) (Params, error) {
	switch name {
	case PresetLatency:
		// RTT and p99: heavy right tail, multiplicative shifts; only rises
		// matter. Log space turns "twice as slow" into a fixed distance.
		return Params{
			Window: 64, MinHistory: 40, Threshold: 3.5, Direction: Up,
			Transform: Log, HalfLife: 64, StdWeight: 1.5,
			RelativeFloor: 0, AbsoluteFloor: 0.05,
			Seasonality: Daily, SeasonHalfLife: 4,
			KeepFiringFor: 4 * time.Hour,
		}, nil
	case PresetCounter:
		// Rates of counters (errors/s, requests/s, bytes/s): rises matter;
		// a floor relative to the level stops tiny rates from paging.
		return Params{
			Window: 64, MinHistory: 40, Threshold: 3.5, Direction: Up,
			Transform: Identity, HalfLife: 64, StdWeight: 1.5,
			RelativeFloor: 0.05, AbsoluteFloor: 1e-9,
			Seasonality: Daily, SeasonHalfLife: 4,
			KeepFiringFor: 4 * time.Hour,
		}, nil
	case PresetGauge:
		// Temperature, power, utilisation: both directions matter.
		return Params{
			Window: 64, MinHistory: 40, Threshold: 3.5, Direction: Both,
			Transform: Identity, HalfLife: 64, StdWeight: 1.5,
			RelativeFloor: 0.02, AbsoluteFloor: 1e-9,
			Seasonality: Daily, SeasonHalfLife: 4,
			KeepFiringFor: 4 * time.Hour,
		}, nil
	}
	return Params{}, fmt.Errorf("unknown preset %q (want one of %s)", name, strings.Join(Presets(), ", "))
}

// bucket is the effective seasonal bucket width.
func (p *Params) bucket() time.Duration {
	if p.SeasonBucket > 0 {
		return p.SeasonBucket
	}
	switch p.Seasonality {
	case Daily:
		return time.Hour
	case Weekly:
		return 4 * time.Hour
	}
	return 0
}

// seasonBuckets is the number of seasonal buckets the params need.
func (p *Params) seasonBuckets() int {
	b := p.bucket()
	if p.Seasonality == NoSeason || b <= 0 {
		return 0
	}
	return int((p.Seasonality.Period() + b - 1) / b)
}

// DetectorBytes is the memory one detector with these params holds: the
// struct, the window ring and sorted copy, and the seasonal buckets.
func (p *Params) DetectorBytes() int {
	const header = 24 * 2 // slice headers of window and season buffers
	return detectorFixedBytes + header + 2*4*p.Window + 4*p.seasonBuckets()
}

// Validate reports the first invalid field by its rule-file name.
func (p *Params) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if p.Window < 8 || p.Window > MaxWindow {
		add("window", "%d is outside 8..%d", p.Window, MaxWindow)
	}
	if p.MinHistory < 2 {
		add("min_history", "%d is below 2", p.MinHistory)
	}
	if !(p.Threshold > 0) {
		add("threshold", "%v must be positive", p.Threshold)
	}
	if !(p.HalfLife >= 1) {
		add("half_life", "%v must be at least 1 sample", p.HalfLife)
	}
	if p.StdWeight < 0 {
		add("std_weight", "%v is negative", p.StdWeight)
	}
	if p.RelativeFloor < 0 {
		add("relative_floor", "%v is negative", p.RelativeFloor)
	}
	if p.AbsoluteFloor < 0 {
		add("absolute_floor", "%v is negative", p.AbsoluteFloor)
	}
	if p.Seasonality != NoSeason {
		if b := p.bucket(); b < time.Minute || b > p.Seasonality.Period() {
			add("season_bucket", "%v is outside 1m..%v", b, p.Seasonality.Period())
		} else if p.Seasonality.Period()%b != 0 {
			add("season_bucket", "%v does not divide the %s period", b, p.Seasonality)
		}
		if !(p.SeasonHalfLife >= 1) {
			add("season_half_life", "%v must be at least 1 visit", p.SeasonHalfLife)
		}
	}
	if p.For < 0 {
		add("for", "%v is negative", p.For)
	}
	if p.KeepFiringFor < 0 {
		add("keep_firing_for", "%v is negative", p.KeepFiringFor)
	}
	if len(errs) == 0 {
		if b := p.DetectorBytes(); b > MaxDetectorBytes {
			add("window", "window %d with %d seasonal buckets needs %d bytes per series, over the %d-byte budget (shrink window or widen season_bucket)",
				p.Window, p.seasonBuckets(), b, MaxDetectorBytes)
		}
	}
	return errors.Join(errs...)
}
