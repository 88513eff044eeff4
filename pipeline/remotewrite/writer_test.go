package remotewrite

import (
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/model/relabel"
	"github.com/prometheus/prometheus/prompb"

	"github.com/fleetwatch/fleetwatch/internal/testpeer"
)

// fastQueue sends small batches quickly so tests finish in seconds.
func fastQueue(url string) Config {
	return Config{
		URL:  url,
		Name: "test",
		QueueConfig: QueueConfig{
			MaxSamplesPerSend: 100,
			Capacity:          1000,
			MaxShards:         4,
			BatchSendDeadline: model.Duration(50 * time.Millisecond),
			MinBackoff:        model.Duration(10 * time.Millisecond),
			MaxBackoff:        model.Duration(100 * time.Millisecond),
		},
	}
}

func TestEverySampleArrivesInOrder(t *testing.T) {
	dir := t.TempDir()
	store := openStore(t, dir)
	defer store.Close()
	recv := newReceiver(t)
	w := startWriter(t, dir, nil, fastQueue(recv.url()))

	f := newFleet(500)
	t0 := time.Now().UnixMilli()
	for i := range 20 {
		f.append(t, store, t0+int64(i)*15000)
	}
	waitFor(t, 30*time.Second, "all samples", func() bool { return recv.count() >= f.total() })
	recv.check(t, f.wantKeys())
	waitFor(t, 5*time.Second, "samples_sent_total", func() bool {
		return w.metric(t, "fleetwatch_remote_write_samples_sent_total", "test") == float64(f.total())
	})
	if got, want := w.metric(t, "fleetwatch_remote_write_highest_sent_timestamp_seconds", "test"), float64(t0+19*15000)/1000; got != want {
		t.Errorf("highest_sent_timestamp_seconds = %v, want %v", got, want)
	}
	if got := w.metric(t, "fleetwatch_remote_write_samples_pending", "test"); got != 0 {
		t.Errorf("samples_pending = %v after everything arrived, want 0", got)
	}
}

func TestOutageLosesNothing(t *testing.T) {
	dir := t.TempDir()
	store := openStore(t, dir)
	defer store.Close()
	recv := newReceiver(t)
	w := startWriter(t, dir, nil, fastQueue(recv.url()))

	f := newFleet(200)
	t0 := time.Now().UnixMilli()
	f.append(t, store, t0)
	waitFor(t, 10*time.Second, "first samples", func() bool { return recv.count() == 200 })

	recv.status.Store(http.StatusServiceUnavailable)
	for i := 1; i <= 30; i++ {
		f.append(t, store, t0+int64(i)*1000)
	}
	waitFor(t, 10*time.Second, "retries during the outage", func() bool {
		return w.metric(t, "fleetwatch_remote_write_samples_retried_total", "test") > 0
	})
	recv.status.Store(0)
	waitFor(t, 30*time.Second, "all samples after the outage", func() bool { return recv.count() >= f.total() })
	recv.check(t, f.wantKeys())
	if got := w.metric(t, "fleetwatch_remote_write_samples_failed_total", "test"); got != 0 {
		t.Errorf("samples_failed_total = %v, want 0 (5xx must be retried)", got)
	}
}

// TestRestartResumes stops fleetwatch (writer and TSDB), writes more while
// the writer is down, and starts again: the receiver ends with every
// sample exactly once.
func TestRestartResumes(t *testing.T) {
	dir := t.TempDir()
	recv := newReceiver(t)
	f := newFleet(300)
	t0 := time.Now().UnixMilli()

	store := openStore(t, dir)
	w := startWriter(t, dir, nil, fastQueue(recv.url()))
	for i := range 5 {
		f.append(t, store, t0+int64(i)*1000)
	}
	waitFor(t, 10*time.Second, "first run's samples", func() bool { return recv.count() == f.total() })
	w.stop(t)
	// Written after the writer stopped: only a resume can send these.
	for i := 5; i < 10; i++ {
		f.append(t, store, t0+int64(i)*1000)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	store = openStore(t, dir)
	defer store.Close()
	startWriter(t, dir, nil, fastQueue(recv.url()))
	for i := 10; i < 15; i++ {
		f.append(t, store, t0+int64(i)*1000)
	}
	waitFor(t, 20*time.Second, "second run's samples", func() bool { return recv.count() >= f.total() })
	time.Sleep(300 * time.Millisecond) // a duplicate would arrive now
	recv.check(t, f.wantKeys())
}

// TestStopDuringOutage stops the writer while the receiver is down, with
// a short flush deadline: the unsent samples are sent by the next run.
func TestStopDuringOutage(t *testing.T) {
	dir := t.TempDir()
	recv := newReceiver(t)
	f := newFleet(100)
	t0 := time.Now().UnixMilli()
	store := openStore(t, dir)
	defer store.Close()
	o := Options{Configs: []Config{fastQueue(recv.url())}, WALDir: filepath.Join(dir, "wal"), FlushDeadline: 200 * time.Millisecond}
	w := startWriterOpts(t, o)
	f.append(t, store, t0)
	waitFor(t, 10*time.Second, "first samples", func() bool { return recv.count() == 100 })
	recv.status.Store(http.StatusBadGateway)
	for i := 1; i < 10; i++ {
		f.append(t, store, t0+int64(i)*1000)
	}
	waitFor(t, 10*time.Second, "retries", func() bool {
		return w.metric(t, "fleetwatch_remote_write_samples_retried_total", "test") > 0
	})
	w.stop(t)
	recv.status.Store(0)
	startWriterOpts(t, o)
	waitFor(t, 20*time.Second, "samples after the restart", func() bool { return recv.count() >= f.total() })
	time.Sleep(300 * time.Millisecond)
	recv.check(t, f.wantKeys())
}

func TestRejectedBatches(t *testing.T) {
	f := false
	for _, tc := range []struct {
		name        string
		status      int
		retry429    *bool
		wantFailed  bool
		wantRetried bool
	}{
		{"400 is dropped", http.StatusBadRequest, nil, true, false},
		{"429 is retried by default", http.StatusTooManyRequests, nil, false, true},
		{"429 is dropped with retry_on_http_429 false", http.StatusTooManyRequests, &f, true, false},
		{"503 is retried", http.StatusServiceUnavailable, nil, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			store := openStore(t, dir)
			defer store.Close()
			recv := newReceiver(t)
			recv.status.Store(int32(tc.status))
			cfg := fastQueue(recv.url())
			cfg.QueueConfig.RetryOnHTTP429 = tc.retry429
			w := startWriter(t, dir, nil, cfg)
			fl := newFleet(10)
			fl.append(t, store, time.Now().UnixMilli())
			waitFor(t, 10*time.Second, "a verdict", func() bool {
				return w.metric(t, "fleetwatch_remote_write_samples_failed_total", "test") > 0 ||
					w.metric(t, "fleetwatch_remote_write_samples_retried_total", "test") > 0
			})
			failed := w.metric(t, "fleetwatch_remote_write_samples_failed_total", "test")
			retried := w.metric(t, "fleetwatch_remote_write_samples_retried_total", "test")
			if (failed > 0) != tc.wantFailed || (retried > 0) != tc.wantRetried {
				t.Errorf("failed=%v retried=%v, want failed=%v retried=%v", failed, retried, tc.wantFailed, tc.wantRetried)
			}
			recv.status.Store(0)
			if tc.wantFailed {
				// The queue is not stuck: later samples go through.
				fl.append(t, store, time.Now().UnixMilli()+1000)
			}
			waitFor(t, 10*time.Second, "samples once the receiver accepts them", func() bool { return recv.count() == 10 })
		})
	}
}

func TestRelabelAndExternalLabels(t *testing.T) {
	dir := t.TempDir()
	store := openStore(t, dir)
	defer store.Close()
	recv := newReceiver(t)
	cfg := fastQueue(recv.url())
	cfg.WriteRelabelConfigs = []*relabel.Config{{
		SourceLabels:         model.LabelNames{"instance"},
		Regex:                relabel.MustNewRegexp("srv-0000[0-4]"),
		Action:               relabel.Drop,
		NameValidationScheme: model.UTF8Validation,
	}}
	w := startWriterOpts(t, Options{
		Configs:        []Config{cfg},
		WALDir:         filepath.Join(dir, "wal"),
		ExternalLabels: labels.FromStrings("site", "ams1", "job", "ignored"),
	})
	f := newFleet(10)
	f.append(t, store, time.Now().UnixMilli())
	waitFor(t, 10*time.Second, "kept samples", func() bool { return recv.count() == 5 })
	waitFor(t, 5*time.Second, "dropped count", func() bool {
		return w.metric(t, "fleetwatch_remote_write_samples_dropped_total", "test") == 5
	})
	recv.mu.Lock()
	defer recv.mu.Unlock()
	for key := range recv.samples {
		if !strings.Contains(key, "site=ams1") || !strings.Contains(key, "job=bmc") {
			t.Errorf("series %s: want site=ams1 added and job=bmc kept", key)
		}
		for i := range 5 {
			if strings.Contains(key, "srv-0000"+string(rune('0'+i))) {
				t.Errorf("series %s should have been dropped by write_relabel_configs", key)
			}
		}
	}
}

func TestCredentialsSentNeverLogged(t *testing.T) {
	const token, password = "tok-3c1f9a7e", "pw-77d2b0e4"
	secrets := t.TempDir()
	tokenFile := filepath.Join(secrets, "token")
	pwFile := filepath.Join(secrets, "password")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pwFile, []byte(password), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		set  func(*Config)
		want string
	}{
		{"bearer_token_file", func(c *Config) { c.BearerTokenFile = tokenFile }, "Bearer " + token},
		{"basic_auth", func(c *Config) { c.BasicAuth = &BasicAuth{Username: "fleet", PasswordFile: pwFile} }, "Basic ZmxlZXQ6cHctNzdkMmIwZTQ="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			store := openStore(t, dir)
			defer store.Close()
			recv := newReceiver(t)
			cfg := fastQueue(recv.url() + "?tenant=secret-query")
			cfg.Headers = map[string]string{"X-Scope-OrgID": "fleet-a"}
			tc.set(&cfg)
			var logs testpeer.Output
			logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			w := startWriter(t, dir, logger, cfg)
			f := newFleet(5)
			f.append(t, store, time.Now().UnixMilli())
			waitFor(t, 10*time.Second, "samples", func() bool { return recv.count() == 5 })
			recv.mu.Lock()
			h := recv.headers
			recv.mu.Unlock()
			for k, want := range map[string]string{
				"Authorization":                     tc.want,
				"X-Scope-Orgid":                     "fleet-a",
				"Content-Encoding":                  "snappy",
				"Content-Type":                      "application/x-protobuf",
				"X-Prometheus-Remote-Write-Version": "0.1.0",
			} {
				if got := h.Get(k); got != want {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
			// Failures are logged, with the endpoint, but never the secrets.
			recv.status.Store(http.StatusUnauthorized)
			f.append(t, store, time.Now().UnixMilli()+1000)
			waitFor(t, 10*time.Second, "a rejected batch", func() bool {
				return w.metric(t, "fleetwatch_remote_write_samples_failed_total", "test") > 0
			})
			w.stop(t)
			out := logs.String()
			if !strings.Contains(out, "401") {
				t.Errorf("the rejection is not logged:\n%s", out)
			}
			for _, s := range []string{token, password, "secret-query", "ZmxlZXQ6"} {
				if strings.Contains(out, s) {
					t.Errorf("log contains secret %q:\n%s", s, out)
				}
			}
		})
	}
}

type fakeMeta map[string][]metadata.Metadata

func (m fakeMeta) Metadata(string, int) map[string][]metadata.Metadata { return m }

func TestMetadataSent(t *testing.T) {
	dir := t.TempDir()
	store := openStore(t, dir)
	defer store.Close()
	recv := newReceiver(t)
	cfg := fastQueue(recv.url())
	cfg.MetadataConfig.SendInterval = model.Duration(time.Hour)
	cfg.MetadataConfig.MaxSamplesPerSend = 1
	w := startWriterOpts(t, Options{
		Configs: []Config{cfg},
		WALDir:  filepath.Join(dir, "wal"),
		Metadata: fakeMeta{
			"fleet_temp_celsius": {{Type: model.MetricTypeGauge, Help: "Inlet temperature.", Unit: "celsius"}},
			"fleet_power_watts":  {{Type: model.MetricTypeGauge, Help: "PSU output."}},
		},
	})
	waitFor(t, 10*time.Second, "metadata", func() bool {
		return w.metric(t, "fleetwatch_remote_write_metadata_sent_total", "test") == 2
	})
	recv.mu.Lock()
	defer recv.mu.Unlock()
	got := recv.metadata["fleet_temp_celsius"]
	if got.Type != prompb.MetricMetadata_GAUGE || got.Help != "Inlet temperature." || got.Unit != "celsius" {
		t.Errorf("metadata of fleet_temp_celsius = %+v", got)
	}
	if _, ok := recv.metadata["fleet_power_watts"]; !ok {
		t.Error("metadata of fleet_power_watts did not arrive")
	}
}

// TestApplyConfig adds a second endpoint to a running writer and removes
// the first; the new one starts at the end of the WAL and the removed one
// stops.
func TestApplyConfig(t *testing.T) {
	dir := t.TempDir()
	store := openStore(t, dir)
	defer store.Close()
	a, b := newReceiver(t), newReceiver(t)
	cfgA := fastQueue(a.url())
	cfgA.Name = "a"
	cfgB := fastQueue(b.url())
	cfgB.Name = "b"
	w := startWriter(t, dir, nil, cfgA)
	f := newFleet(10)
	t0 := time.Now().UnixMilli()
	f.append(t, store, t0)
	waitFor(t, 10*time.Second, "a's samples", func() bool { return a.count() == 10 })

	if err := w.w.ApplyConfig([]Config{cfgB, {URL: "ftp://nope"}}); err == nil {
		t.Fatal("ApplyConfig accepted an ftp URL")
	}
	if err := w.w.ApplyConfig([]Config{cfgA, cfgB}); err != nil {
		t.Fatal(err)
	}
	f.append(t, store, t0+1000)
	waitFor(t, 10*time.Second, "both receivers", func() bool { return a.count() == 20 && b.count() == 10 })
	if err := w.w.ApplyConfig([]Config{cfgB}); err != nil {
		t.Fatal(err)
	}
	f.append(t, store, t0+2000)
	waitFor(t, 10*time.Second, "b's samples", func() bool { return b.count() == 20 })
	if a.count() != 20 {
		t.Errorf("removed endpoint a received %d samples, want 20", a.count())
	}
	if got := w.metric(t, "fleetwatch_remote_write_shards", "a"); got != 0 {
		t.Errorf("removed queue a still has metrics (shards=%v)", got)
	}
}
