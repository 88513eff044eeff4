package incidentapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter"
	"github.com/fleetwatch/fleetwatch/alerter/notify"
	"github.com/fleetwatch/fleetwatch/alerter/store"
	"github.com/fleetwatch/fleetwatch/alerter/store/sqlstore"
)

const (
	writeToken = "w-0123456789abcdef-secret"
	readToken  = "r-0123456789abcdef-secret"
)

func setup(t *testing.T) (*httptest.Server, *alerter.Engine, *bytes.Buffer) {
	t.Helper()
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
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e, err := alerter.New(alerter.Options{Config: cfg, Store: st, Notifiers: map[string]notify.Notifier{"pd": nf}, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(readToken))
	toks, err := ParseTokens("tokens.yml", []byte(fmt.Sprintf("tokens:\n  - {name: oncall, scope: write, token: %q}\n  - {name: grafana, scope: read, token_sha256: %s}\n", writeToken, hex.EncodeToString(sum[:]))))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	New(Options{Engine: e, Reader: st, Tokens: toks, Logger: logger}).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	now := time.Now()
	for _, name := range []string{"DiskFull", "HostDown"} {
		sev := map[string]string{"DiskFull": "warning", "HostDown": "critical"}[name]
		if err := e.PostAlerts(context.Background(), []store.Alert{{Labels: map[string]string{"alertname": name, "severity": sev, "site": "dc1"}, StartsAt: now, EndsAt: now.Add(time.Hour)}}); err != nil {
			t.Fatal(err)
		}
	}
	return srv, e, &logs
}

func TestAuth(t *testing.T) {
	srv, _, logs := setup(t)
	cases := []struct {
		name, method, path, token string
		want                      int
	}{
		{"no token", "GET", "/api/v1/incidents", "", 401},
		{"unknown token", "GET", "/api/v1/incidents", "nope-nope-nope-nope", 401},
		{"read token reads", "GET", "/api/v1/incidents", readToken, 200},
		{"read token may not ack", "POST", "/api/v1/incidents/x/ack", readToken, 403},
		{"write token acks unknown incident", "POST", "/api/v1/incidents/x/ack", writeToken, 404},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, srv.URL+c.path, nil)
			if c.token != "" {
				req.Header.Set("Authorization", "Bearer "+c.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.want)
			}
		})
	}
	if strings.Contains(logs.String(), readToken) || strings.Contains(logs.String(), writeToken) {
		t.Fatal("a token was logged")
	}
}

func TestIncidentLifecycleThroughClient(t *testing.T) {
	srv, _, _ := setup(t)
	ctx := context.Background()
	c := &Client{BaseURL: srv.URL, Token: writeToken}
	incs, err := c.List(ctx, url.Values{"severity": {"critical"}})
	if err != nil || len(incs) != 1 || incs[0].Title != "HostDown (site=dc1)" && !strings.Contains(incs[0].Title, "HostDown") {
		t.Fatalf("list critical: %+v %v", incs, err)
	}
	all, err := c.List(ctx, url.Values{"state": {"open"}, "site": {"dc1"}})
	if err != nil || len(all) != 2 {
		t.Fatalf("list open in dc1: %d %v", len(all), err)
	}
	if _, err := c.List(ctx, url.Values{"state": {"sleeping"}}); err == nil || !strings.Contains(err.Error(), "state") {
		t.Fatalf("bad state filter: %v", err)
	}
	id := incs[0].ID
	if inc, err := c.Ack(ctx, id); err != nil || inc.State != store.Acknowledged {
		t.Fatalf("ack: %+v %v", inc, err)
	}
	if _, err := c.Note(ctx, id, "looking at the PSU"); err != nil {
		t.Fatal(err)
	}
	if inc, err := c.Resolve(ctx, id, "PSU replaced"); err != nil || inc.State != store.Resolved {
		t.Fatalf("resolve: %+v %v", inc, err)
	}
	if _, err := c.Ack(ctx, id); err == nil || !strings.Contains(err.Error(), "409") {
		t.Fatalf("ack after resolve: %v", err)
	}
	d, err := c.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range d.Timeline {
		kinds = append(kinds, e.Kind)
	}
	joined := strings.Join(kinds, ",")
	for _, want := range []string{store.EventIncidentCreated, store.EventAcknowledged, store.EventNote, store.EventResolved} {
		if !strings.Contains(joined, want) {
			t.Errorf("timeline %s lacks %s", joined, want)
		}
	}
	for _, e := range d.Timeline {
		if e.Kind == store.EventAcknowledged && e.Actor != "api:oncall" {
			t.Errorf("ack actor %q", e.Actor)
		}
	}
}

func TestCLI(t *testing.T) {
	srv, _, _ := setup(t)
	tok := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tok, []byte(writeToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := RunCLI([]string{"list", "--url", srv.URL, "--token-file", tok, "--severity", "warning"}, &out, &errb); code != 0 {
		t.Fatalf("list: %d %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], "DiskFull") {
		t.Fatalf("list output:\n%s", out.String())
	}
	id := strings.Fields(lines[1])[0]
	out.Reset()
	if code := RunCLI([]string{"ack", id, "--url", srv.URL, "--token-file", tok}, &out, &errb); code != 0 || !strings.Contains(out.String(), "acknowledged") {
		t.Fatalf("ack: %d %s %s", code, out.String(), errb.String())
	}
	out.Reset()
	if code := RunCLI([]string{"show", id, "--url", srv.URL, "--token-file", tok}, &out, &errb); code != 0 || !strings.Contains(out.String(), "acknowledged by api:oncall") {
		t.Fatalf("show: %d\n%s", code, out.String())
	}
	if code := RunCLI([]string{"resolve"}, &out, &errb); code != 2 {
		t.Fatalf("resolve without ID: exit %d, want 2", code)
	}
	errb.Reset()
	if code := RunCLI([]string{"ack", "nope", "--url", srv.URL, "--token-file", tok}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "404") {
		t.Fatalf("ack unknown: %d %s", code, errb.String())
	}
}

func FuzzParseTokens(f *testing.F) {
	f.Add([]byte("tokens:\n  - {name: a, scope: read, token: 0123456789abcdef0}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ts, err := ParseTokens("t.yml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "t.yml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, tok := range ts.list {
			if tok.Token != "" {
				t.Fatal("the token is kept in memory in clear")
			}
		}
	})
}
