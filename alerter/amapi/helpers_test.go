package amapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetwatch/fleetwatch/alerter"
	"github.com/fleetwatch/fleetwatch/alerter/notify"
	"github.com/fleetwatch/fleetwatch/alerter/notify/pagerduty"
	"github.com/fleetwatch/fleetwatch/alerter/notify/pagerduty/pdtest"
	"github.com/fleetwatch/fleetwatch/alerter/store"
	"github.com/fleetwatch/fleetwatch/alerter/store/sqlstore"
)

// routingKey is a made-up PagerDuty integration key; tests grep for it.
const routingKey = "R0UT1NGKEYs3cr3tR0UT1NGKEYs3cr3t"

type fixture struct {
	engine *alerter.Engine
	store  store.Store
	srv    *httptest.Server
	pd     *pdtest.Server
	logs   *logBuffer
}

// start runs an engine on SQLite with one PagerDuty receiver "pd" posting
// to a pdtest endpoint, serves the API on a loopback httptest server, and
// stops everything when the test ends.
func start(t testing.TB, cfgYAML string) *fixture {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlstore.OpenSQLite(filepath.Join(dir, "alerter.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg, err := alerter.ParseConfig("alerting.yml", []byte(cfgYAML))
	if err != nil {
		t.Fatal(err)
	}
	pd := pdtest.NewServer(t)
	keyFile := filepath.Join(dir, "pd.key")
	if err := os.WriteFile(keyFile, []byte(routingKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	logger := logs.logger()
	pcfg := pagerduty.DefaultConfig()
	pcfg.RoutingKeyFile = keyFile
	pcfg.URL = pd.EnqueueURL()
	pn, err := pagerduty.New(pcfg, logger, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	e, err := alerter.New(alerter.Options{Config: cfg, Store: st, Notifiers: map[string]notify.Notifier{"pd": pn},
		Logger: logger, Registerer: prometheus.NewRegistry(), ExternalURL: "http://fleetwatch.test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := e.Load(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("engine did not stop")
		}
	})
	mux := http.NewServeMux()
	New(Options{Engine: e, Logger: logger}).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &fixture{engine: e, store: st, srv: srv, pd: pd, logs: logs}
}
