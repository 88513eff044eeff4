package anomaly

import (
	"os"
	"testing"
	"time"

	"github.com/fleetwatch/fleetwatch/rules/anomaly/internal/nab"
)

// TestNABSweep prints the NAB score over a grid of parameters; it runs only
// with FLEETWATCH_NAB_SWEEP=1 and is how the presets were tuned.
func TestNABSweep(t *testing.T) {
	if os.Getenv("FLEETWATCH_NAB_SWEEP") != "1" {
		t.Skip("set FLEETWATCH_NAB_SWEEP=1 to sweep parameters")
	}
	for _, th := range []float64{2.5, 3, 3.5} {
		for _, kf := range []time.Duration{3 * time.Hour, 4 * time.Hour, 6 * time.Hour} {
			for _, win := range []int{32, 64} {
				for _, sw := range []float64{1, 1.5} {
					for _, se := range []Seasonality{Daily, Weekly} {
						opt := WithParams(func(p *Params) {
							p.Threshold, p.KeepFiringFor, p.Window, p.StdWeight, p.Seasonality = th, kf, win, sw, se
						})
						s, tot, _ := nabCorpus(t, nab.Standard, opt)
						t.Logf("th %4.1f keep %5v win %3d sw %.1f season %v: score %6.1f recall %.2f tp %d fp %d", th, kf, win, sw, se, s, tot.Recall(), tot.TP, tot.FP)
					}
				}
			}
		}
	}
}
