package fwds

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/fleetwatch/fleetwatch/internal/testpeer"
)

// TestIncidentsDashboardLive runs the plugin panels and the annotation of
// dashboards/grafana/fleetwatch-incidents.json, as Grafana would send them
// with every variable on "All", against a live fleetwatch collecting the
// simulated datacenter with a DIMM failing (an alert without `for`, so an
// incident opens within a minute) and a read token: every one returns rows.
func TestIncidentsDashboardLive(t *testing.T) {
	repo, _ := filepath.Abs("../../..")
	bin := os.Getenv("FLEETWATCH_BIN")
	if bin == "" {
		bin = filepath.Join(t.TempDir(), "fleetwatch")
		cmd := exec.Command("go", "build", "-o", bin, "./cmd/fleetwatch")
		cmd.Dir = repo
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build ./cmd/fleetwatch: %v\n%s", err, out)
		}
	}
	dir := t.TempDir()
	const token = "grafana-live-0123456789"
	sum := sha256.Sum256([]byte(token))
	files := map[string]string{
		"bmc-password": "simulated-bmc\n",
		"tokens.yml":   fmt.Sprintf("tokens:\n  - {name: grafana, scope: read, token_sha256: %s}\n", hex.EncodeToString(sum[:])),
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	listen := "127.0.0.1:" + strconv.Itoa(testpeer.FreePort(t))
	control := "127.0.0.1:" + strconv.Itoa(testpeer.FreePort(t))
	var cfg bytes.Buffer
	// The dashboards' live-test configuration, plus the token file.
	tmpl := template.Must(template.ParseFiles(filepath.Join(repo, "dashboards/testdata/fleetwatch.yml")))
	if err := tmpl.Execute(&cfg, map[string]string{
		"Listen": listen, "Control": control, "Traps": "127.0.0.1:" + strconv.Itoa(testpeer.FreePort(t)),
		"Dir": dir, "Testdata": filepath.Join(repo, "dashboards/testdata"), "Repo": repo,
		"Extra": "alerting:\n  tokens_file: " + filepath.Join(dir, "tokens.yml") + "\n",
	}); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "fleetwatch.yml")
	if err := os.WriteFile(cfgPath, cfg.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	testpeer.Start(t, bin, "serve", "--config.file="+cfgPath, "--log.level=warn")
	base := "http://" + listen
	testpeer.WaitHTTP(t, base+"/-/ready", 60*time.Second)
	resp, err := http.Post("http://"+control+"/faults?bmc=1&fault=dimm_ue", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	factory, err := NewFactory(Options{Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	settings := backend.DataSourceInstanceSettings{UID: "live", Name: "fleetwatch incidents", URL: base,
		JSONData: []byte(`{}`), DecryptedSecureJSONData: map[string]string{"token": token}}
	inst, err := factory(context.Background(), settings)
	if err != nil {
		t.Fatal(err)
	}
	ds := inst.(*Datasource)
	ctx := context.Background()

	// Incidents open after the alert's first evaluation and group_wait.
	deadline := time.Now().Add(3 * time.Minute)
	for {
		incs, err := ds.client.incidents(ctx, Filter{Limit: 10})
		if err == nil && len(incs) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no incident after 3 minutes (last error: %v)", err)
		}
		time.Sleep(2 * time.Second)
	}
	health, err := ds.CheckHealth(ctx, &backend.CheckHealthRequest{})
	if err != nil || health.Status != backend.HealthStatusOk {
		t.Errorf("health: %v %q %v", health.Status, health.Message, err)
	}

	raw, err := os.ReadFile(filepath.Join(repo, "dashboards/grafana/fleetwatch-incidents.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Annotations struct {
			List []struct {
				Datasource struct{ Type string } `json:"datasource"`
				Target     json.RawMessage       `json:"target"`
			} `json:"list"`
		} `json:"annotations"`
		Panels []struct {
			Title      string
			Datasource struct{ Type string } `json:"datasource"`
			Targets    []json.RawMessage     `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
	type q struct {
		name string
		js   json.RawMessage
	}
	var queries []q
	for _, p := range dash.Panels {
		if p.Datasource.Type == PluginID {
			for _, tg := range p.Targets {
				queries = append(queries, q{"panel " + p.Title, tg})
			}
		}
	}
	for _, a := range dash.Annotations.List {
		if a.Datasource.Type == PluginID {
			queries = append(queries, q{"annotation", a.Target})
		}
	}
	if len(queries) < 4 {
		t.Fatalf("%d plugin queries in the incidents dashboard, want the 3 panels and the annotation", len(queries))
	}
	tr := backend.TimeRange{From: time.Now().Add(-time.Hour), To: time.Now()}
	for _, x := range queries {
		t.Run(x.name, func(t *testing.T) {
			// Grafana's applyTemplateVariables with every variable on All.
			js := strings.NewReplacer("$site", ".*", "$rack", ".*", "$severity", ".*").Replace(string(x.js))
			res, _ := ds.QueryData(ctx, &backend.QueryDataRequest{Queries: []backend.DataQuery{{
				RefID: "A", JSON: json.RawMessage(js), TimeRange: tr, Interval: time.Minute, MaxDataPoints: 500}}})
			r := res.Responses["A"]
			if r.Error != nil {
				t.Fatalf("%s: %v", js, r.Error)
			}
			if len(r.Frames) != 1 {
				t.Fatalf("%d frames", len(r.Frames))
			}
			fr := r.Frames[0]
			if n, _ := fr.RowLen(); n == 0 {
				t.Fatalf("%s: no rows", js)
			}
			if fr.Name == "incident metrics" {
				open := fr.Fields[1]
				if last := open.At(open.Len() - 1).(int64); last < 1 {
					t.Errorf("open incidents at the end of the range: %d, want at least 1", last)
				}
			}
		})
	}
}
