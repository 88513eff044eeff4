package notify

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestRetryAfter(t *testing.T) {
	base := errors.New("HTTP 429")
	for _, tc := range []struct {
		name string
		err  error
		want time.Duration
	}{
		{"nil", nil, 0},
		{"plain", base, 0},
		{"direct", WithRetryAfter(base, 7*time.Second), 7 * time.Second},
		{"wrapped", fmt.Errorf("pagerduty: %w", WithRetryAfter(base, 3*time.Second)), 3 * time.Second},
		{"zero wait", WithRetryAfter(base, 0), 0},
		{"joined, longest", errors.Join(WithRetryAfter(base, time.Second), errors.New("x"),
			fmt.Errorf("y: %w", WithRetryAfter(base, time.Minute))), time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := RetryAfter(tc.err); got != tc.want {
				t.Errorf("RetryAfter = %s, want %s", got, tc.want)
			}
		})
	}
	if WithRetryAfter(nil, time.Second) != nil {
		t.Error("WithRetryAfter(nil) is not nil")
	}
	if err := WithRetryAfter(base, time.Second); !errors.Is(err, base) || err.Error() != "HTTP 429" {
		t.Errorf("wrapping changed the error: %v", err)
	}
}

func TestSeverityRank(t *testing.T) {
	order := []string{"", SeverityInfo, SeverityWarning, SeverityError, SeverityCritical}
	for i := 1; i < len(order); i++ {
		if SeverityRank(order[i]) <= SeverityRank(order[i-1]) {
			t.Errorf("%q does not rank above %q", order[i], order[i-1])
		}
	}
}

func TestMetricsTwice(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	a, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewMetrics(reg)
	if err != nil {
		t.Fatalf("second registration: %v", err)
	}
	a.Observe("r", "webhook", ResultSent, time.Millisecond)
	b.Observe("r", "webhook", ResultSent, time.Millisecond)
	b.Observe("r", "webhook", ResultSkipped, 0)
	if got := testutil.ToFloat64(a.requests.WithLabelValues("r", "webhook", ResultSent)); got != 2 {
		t.Errorf("sent = %v, want 2 (shared series)", got)
	}
	if n := testutil.CollectAndCount(reg, "fleetwatch_notify_request_duration_seconds"); n != 1 {
		t.Errorf("%d duration series, want 1", n)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
	var nilMetrics *Metrics
	nilMetrics.Observe("r", "x", ResultSent, 0) // must not panic
}

func TestResult(t *testing.T) {
	e := errors.New("x")
	for _, tc := range []struct {
		retry bool
		err   error
		want  string
	}{{false, nil, ResultSent}, {true, e, ResultRetry}, {false, e, ResultFailed}} {
		if got := Result(tc.retry, tc.err); got != tc.want {
			t.Errorf("Result(%v, %v) = %s, want %s", tc.retry, tc.err, got, tc.want)
		}
	}
}
