package fwds

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/fleetwatch/fleetwatch/alerter"
	"github.com/fleetwatch/fleetwatch/alerter/incidentapi"
	"github.com/fleetwatch/fleetwatch/alerter/notify"
	"github.com/fleetwatch/fleetwatch/alerter/store"
	"github.com/fleetwatch/fleetwatch/alerter/store/sqlstore"
)

// TestAgainstIncidentAPI runs the plugin against fleetwatch's real
// incidents API (alerter/incidentapi over the alerter engine and its
// SQLite store, a read token from a tokens file), so the plugin and the
// API cannot drift apart: two alerts become two incidents, and the plugin
// lists them, filters them, reads their timelines and passes its health
// check; a write-scope action is never attempted.
func TestAgainstIncidentAPI(t *testing.T) {
	st, err := sqlstore.OpenSQLite(filepath.Join(t.TempDir(), "a.db"), sqlstore.Options{Synchronous: sqlstore.SyncNormal})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg, err := alerter.ParseConfig("a.yml", []byte("route: {receiver: pd, group_by: [alertname], group_wait: 0s}\nreceivers: [{name: pd}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	nf := notify.NotifierFunc(func(context.Context, notify.Message) (bool, error) { return false, nil })
	logger := slog.New(slog.DiscardHandler)
	e, err := alerter.New(alerter.Options{Config: cfg, Store: st, Notifiers: map[string]notify.Notifier{"pd": nf}, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	const token = "grafana-0123456789abcdef"
	sum := sha256.Sum256([]byte(token))
	toks, err := incidentapi.ParseTokens("tokens.yml", []byte(fmt.Sprintf("tokens:\n  - {name: grafana, scope: read, token_sha256: %s}\n", hex.EncodeToString(sum[:]))))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	incidentapi.New(incidentapi.Options{Engine: e, Reader: st, Tokens: toks, Logger: logger}).Register(mux)
	mux.HandleFunc("GET /api/v1/status/buildinfo", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"status":"success","data":{"version":"contract"}}`))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	now := time.Now()
	for name, sev := range map[string]string{"FanFailed": "critical", "PortFlapping": "warning"} {
		if err := e.PostAlerts(context.Background(), []store.Alert{{Labels: map[string]string{"alertname": name, "severity": sev, "site": "dc1", "rack": "r01"}, StartsAt: now, EndsAt: now.Add(time.Hour)}}); err != nil {
			t.Fatal(err)
		}
	}

	p := startPlugin(t)
	ctx := context.Background()
	pc := pluginContext(t.Name(), srv.URL, token)
	query := func(js string) backend.DataResponse {
		t.Helper()
		resp, err := p.client.QueryData(ctx, &backend.QueryDataRequest{PluginContext: pc, Queries: []backend.DataQuery{{
			RefID: "A", JSON: json.RawMessage(js), TimeRange: backend.TimeRange{From: now.Add(-time.Hour), To: time.Now().Add(time.Minute)},
			Interval: time.Minute, MaxDataPoints: 100}}})
		if err != nil {
			t.Fatal(err)
		}
		r := resp.Responses["A"]
		if r.Error != nil {
			t.Fatalf("%s: %v", js, r.Error)
		}
		return r
	}
	// Incidents open as the engine flushes the groups.
	deadline := time.Now().Add(20 * time.Second)
	var rows int
	for {
		rows, _ = query(`{"queryType":"incidents"}`).Frames[0].RowLen()
		if rows == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if rows != 2 {
		t.Fatalf("%d incidents, want 2", rows)
	}
	fr := query(`{"queryType":"incidents","severity":"critical","site":"$__all","state":"open"}`).Frames[0]
	if n, _ := fr.RowLen(); n != 1 || fr.Fields[3].At(0) != "critical" {
		t.Errorf("critical filter: %d rows", n)
	}
	id := fr.Fields[0].At(0).(string)
	tl := query(`{"queryType":"timeline","incidentId":"` + id + `"}`).Frames[0]
	if n, _ := tl.RowLen(); n == 0 {
		t.Errorf("incident %s: empty timeline", id)
	}
	all := query(`{"queryType":"timeline","site":"dc1"}`).Frames[0]
	if n, _ := all.RowLen(); n < 2 {
		t.Errorf("timeline of dc1: %d events, want at least one per incident", n)
	}
	// The shared plugin's clock is the golden fixture's; metrics over the
	// present need a datasource on the real clock.
	factory, err := NewFactory(Options{Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	inst, err := factory(ctx, *pc.DataSourceInstanceSettings)
	if err != nil {
		t.Fatal(err)
	}
	mr, _ := inst.(*Datasource).QueryData(ctx, &backend.QueryDataRequest{PluginContext: pc, Queries: []backend.DataQuery{{
		RefID: "A", JSON: json.RawMessage(`{"queryType":"metrics"}`), TimeRange: backend.TimeRange{From: now.Add(-time.Hour), To: time.Now()},
		Interval: time.Minute, MaxDataPoints: 100}}})
	if r := mr.Responses["A"]; r.Error != nil {
		t.Errorf("metrics: %v", r.Error)
	} else if open := r.Frames[0].Fields[1]; open.Len() == 0 {
		t.Error("metrics: no points")
	} else if last := open.At(open.Len() - 1); last != int64(2) {
		t.Errorf("metrics: open count at the end %v, want 2", last)
	}
	h, err := p.client.CheckHealth(ctx, &backend.CheckHealthRequest{PluginContext: pc})
	if err != nil || h.Status != backend.HealthStatusOk {
		t.Errorf("health %v %q %v", h.Status, h.Message, err)
	}
	bad := pluginContext(t.Name()+"-bad", srv.URL, "not-the-token-at-all")
	h, err = p.client.CheckHealth(ctx, &backend.CheckHealthRequest{PluginContext: bad})
	if err != nil || h.Status != backend.HealthStatusError {
		t.Errorf("wrong token: health %v %q %v", h.Status, h.Message, err)
	}
}
