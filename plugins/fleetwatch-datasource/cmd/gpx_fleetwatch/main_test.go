package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	goplugin "github.com/hashicorp/go-plugin"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/grpcplugin"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
)

func buildPlugin(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gpx_fleetwatch_"+runtime.GOOS+"_"+runtime.GOARCH)
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// fleetwatchStub answers what CheckHealth and an incidents query read.
func fleetwatchStub(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/api/v1/status/buildinfo":
			_, _ = w.Write([]byte(`{"status":"success","data":{"version":"0.1.0"}}`))
		case r.URL.Path == "/api/v1/incidents" && r.Header.Get("Authorization") == "Bearer tok":
			_, _ = w.Write([]byte(`{"incidents":[{"id":"019a","title":"FanFailed","state":"triggered","severity":"critical","labels":{"site":"dc1"},"createdAt":"2026-03-01T10:00:00Z"}]}`))
		default:
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"token"}`))
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestHandshake starts the binary as Grafana's plugin loader does
// (hashicorp/go-plugin, the SDK's handshake config, gRPC only, the plugin
// set of protocol version 2) and calls CheckHealth and QueryData over it.
func TestHandshake(t *testing.T) {
	bin := buildPlugin(t)
	fw := fleetwatchStub(t)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "GF_VERSION=11.6.0", "GF_EDITION=oss")
	client := goplugin.NewClient(&goplugin.ClientConfig{
		Cmd: cmd,
		HandshakeConfig: goplugin.HandshakeConfig{
			ProtocolVersion: grpcplugin.ProtocolVersion, MagicCookieKey: grpcplugin.MagicCookieKey, MagicCookieValue: grpcplugin.MagicCookieValue,
		},
		VersionedPlugins: map[int]goplugin.PluginSet{
			grpcplugin.ProtocolVersion: {
				"diagnostics": &grpcplugin.DiagnosticsGRPCPlugin{},
				"resource":    &grpcplugin.ResourceGRPCPlugin{},
				"data":        &grpcplugin.DataGRPCPlugin{},
				"stream":      &grpcplugin.StreamGRPCPlugin{},
			},
		},
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		StartTimeout:     30 * time.Second,
	})
	t.Cleanup(client.Kill)
	rpc, err := client.Client()
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	if v := client.NegotiatedVersion(); v != grpcplugin.ProtocolVersion {
		t.Errorf("negotiated protocol %d, want %d", v, grpcplugin.ProtocolVersion)
	}
	raw, err := rpc.Dispense("diagnostics")
	if err != nil {
		t.Fatal(err)
	}
	pctx := backend.ToProto().PluginContext(backend.PluginContext{
		PluginID: "fleetwatch-incidents-datasource",
		DataSourceInstanceSettings: &backend.DataSourceInstanceSettings{
			UID: "fw", Name: "fleetwatch incidents", URL: fw.URL, JSONData: []byte(`{}`),
			DecryptedSecureJSONData: map[string]string{"token": "tok"},
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	health, err := raw.(grpcplugin.DiagnosticsClient).CheckHealth(ctx, &pluginv2.CheckHealthRequest{PluginContext: pctx})
	if err != nil {
		t.Fatal(err)
	}
	if health.Status != pluginv2.CheckHealthResponse_OK || !strings.Contains(health.Message, "fleetwatch 0.1.0") {
		t.Errorf("health %v %q", health.Status, health.Message)
	}
	raw, err = rpc.Dispense("data")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := raw.(grpcplugin.DataClient).QueryData(ctx, &pluginv2.QueryDataRequest{
		PluginContext: pctx,
		Queries: []*pluginv2.DataQuery{{RefId: "A", Json: []byte(`{"queryType":"incidents"}`),
			TimeRange: &pluginv2.TimeRange{FromEpochMS: 0, ToEpochMS: time.Now().UnixMilli()}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	qr, err := backend.FromProto().QueryDataResponse(resp)
	if err != nil {
		t.Fatal(err)
	}
	a := qr.Responses["A"]
	if a.Error != nil || len(a.Frames) != 1 {
		t.Fatalf("query: %+v", a)
	}
	if n, _ := a.Frames[0].RowLen(); n != 1 || a.Frames[0].Fields[0].At(0) != "019a" {
		b, _ := json.Marshal(a.Frames[0])
		t.Errorf("frame %s, want the one incident", b)
	}
}

// TestNotStartedByHand: run without Grafana's magic cookie the binary says
// what it is and exits, as every Grafana plugin does.
func TestNotStartedByHand(t *testing.T) {
	bin := buildPlugin(t)
	cmd := exec.Command(bin)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	out, _ := cmd.CombinedOutput()
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	var text strings.Builder
	for sc.Scan() {
		text.WriteString(sc.Text())
	}
	if !strings.Contains(text.String(), "plugin") {
		t.Errorf("output %q does not say it is a plugin", out)
	}
}
