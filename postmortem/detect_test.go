package postmortem

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/store"
	"github.com/fleetwatch/fleetwatch/pipeline/promapi"
)

// putIncident stores an incident with one alert that started at alertAt.
func putIncident(t testing.TB, st store.Store, id string, ls map[string]string, alertAt time.Time) {
	t.Helper()
	ctx := context.Background()
	err := st.Update(ctx, func(tx store.Tx) error {
		inc := store.Incident{ID: id, GroupKey: id, Route: "/", Receiver: "r", Title: ls["alertname"], Severity: "critical",
			State: store.Triggered, CreatedAt: alertAt.Add(30 * time.Second), UpdatedAt: alertAt.Add(30 * time.Second)}
		if err := tx.CreateIncident(ctx, inc); err != nil {
			return err
		}
		if err := tx.PutAlert(ctx, store.Alert{Fingerprint: id, Labels: ls, StartsAt: alertAt, UpdatedAt: alertAt, IncidentID: id}); err != nil {
			return err
		}
		_, err := tx.AddEvent(ctx, store.TimelineEvent{IncidentID: id, Time: alertAt.Add(30 * time.Second), Kind: store.EventAlertFiring,
			Actor: "fleetwatch", Summary: "alert firing", Labels: ls})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestTimeToDetectFromTSDB loads a TSDB with known anomaly onsets and checks
// that the time to detect runs from the first anomalous sample to the alert.
func TestTimeToDetectFromTSDB(t *testing.T) {
	st := openStore(t)
	db := openTSDB(t)
	start, end := at("15:00:00"), at("19:00:00")
	series := func(server string, step time.Duration, onsetAt time.Time, value float64) {
		appendSeries(t, db, map[string]string{"__name__": "node_hwmon_temp_celsius", "server": server, "sensor": "cpu0"}, start, end, step,
			func(ts time.Time) (float64, bool) {
				if !ts.Before(onsetAt) {
					return value, true
				}
				return 55, true
			})
	}
	// srv-a: scraped every 15 s, hot from 17:00:00; the rule (for 5m) fired at 17:05:30.
	series("srv-a", 15*time.Second, at("17:00:00"), 95)
	// srv-b: scraped every 10 s, hot from 17:01:50 (between two 15 s steps); fired at 17:07:00.
	series("srv-b", 10*time.Second, at("17:01:50"), 95)
	// srv-c: hot since before the window.
	series("srv-c", 15*time.Second, at("15:00:00"), 95)
	// srv-d: never hot.
	series("srv-d", 15*time.Second, at("23:00:00"), 95)
	rule := Rule{Name: "CPUTooHot", Expr: `node_hwmon_temp_celsius > 85`, For: 5 * time.Minute, Labels: map[string]string{"severity": "critical"}}
	alert := func(server string) map[string]string {
		return map[string]string{"alertname": "CPUTooHot", "server": server, "sensor": "cpu0", "severity": "critical"}
	}
	putIncident(t, st, "inc-a", alert("srv-a"), at("17:05:30"))
	putIncident(t, st, "inc-b", alert("srv-b"), at("17:07:00"))
	putIncident(t, st, "inc-c", alert("srv-c"), at("17:05:00"))
	putIncident(t, st, "inc-d", alert("srv-d"), at("17:05:00"))
	eng := promapi.NewEngine(promapi.EngineOptions{}, slog.New(slog.DiscardHandler), nil)
	full := Sources{Store: st, Queryable: db, Engine: eng, Rules: RulesFromList([]Rule{rule}), Now: func() time.Time { return testNow }}
	noRules, noTSDB, otherRules := full, full, full
	noRules.Rules = nil
	noTSDB.Queryable, noTSDB.Engine = nil, nil
	otherRules.Rules = RulesFromList([]Rule{{Name: "SomethingElse", Expr: "up == 0"}})

	cases := []struct {
		name      string
		src       Sources
		incident  string
		opts      DetectOptions
		wantKnown bool
		wantOnset time.Time
		wantTTD   time.Duration
		basis     string
	}{
		{"onset on a step", full, "inc-a", DetectOptions{}, true, at("17:00:00"), 5*time.Minute + 30*time.Second, "refined to the second"},
		{"onset between steps is refined to the sample", full, "inc-b", DetectOptions{}, true, at("17:01:50"), 5*time.Minute + 10*time.Second, "refined to the second"},
		{"anomalous before the window: a lower bound", full, "inc-c", DetectOptions{Window: 30 * time.Minute}, true, at("16:35:00"), 30 * time.Minute, "at least"},
		{"condition never held", full, "inc-d", DetectOptions{}, false, time.Time{}, 0, "did not hold"},
		{"no rule files", noRules, "inc-a", DetectOptions{}, false, time.Time{}, 0, "no rule files"},
		{"rule not in the files", otherRules, "inc-a", DetectOptions{}, false, time.Time{}, 0, `"CPUTooHot" not found`},
		{"no TSDB", noTSDB, "inc-a", DetectOptions{}, false, time.Time{}, 0, "no TSDB"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := MetricsWith(context.Background(), c.src, c.incident, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			got := m.TimeToDetect
			if got.Known != c.wantKnown || !strings.Contains(got.Basis, c.basis) {
				t.Fatalf("time to detect = %+v, want known=%v with basis containing %q", got, c.wantKnown, c.basis)
			}
			if !c.wantKnown {
				if !m.Onset.IsZero() {
					t.Errorf("onset %v without a known time to detect", m.Onset)
				}
				return
			}
			if !m.Onset.Equal(c.wantOnset) {
				t.Errorf("onset = %v, want %v", m.Onset, c.wantOnset)
			}
			if got.Duration() != c.wantTTD {
				t.Errorf("time to detect = %v, want %v", got.Duration(), c.wantTTD)
			}
		})
	}
}

func TestUnknownIncident(t *testing.T) {
	src := Sources{Store: openStore(t), Now: func() time.Time { return testNow }}
	ctx := context.Background()
	_, err1 := BuildTimeline(ctx, src, Selection{IncidentID: "inc-nope"})
	_, err2 := BuildReport(ctx, src, "inc-nope", ReportOptions{})
	_, err3 := Metrics(ctx, src, "inc-nope")
	for i, err := range []error{err1, err2, err3} {
		if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `"inc-nope"`) {
			t.Errorf("call %d: error %v, want not found naming the incident", i+1, err)
		}
	}
}
