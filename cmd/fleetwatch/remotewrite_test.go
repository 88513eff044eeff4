package main

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetwatch/fleetwatch/internal/testpeer"
)

// TestRemoteWriteToVictoriaMetrics runs the binary with remote_write to
// Debian's VictoriaMetrics: the host job's series arrive there.
func TestRemoteWriteToVictoriaMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary and VictoriaMetrics")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	vmAddr := fmt.Sprintf("127.0.0.1:%d", testpeer.FreePort(t))
	testpeer.Start(t, "victoria-metrics", "-storageDataPath="+filepath.Join(dir, "vm"), "-httpListenAddr="+vmAddr,
		"-retentionPeriod=1", "-search.latencyOffset=0s")
	testpeer.WaitHTTP(t, "http://"+vmAddr+"/health", 30*time.Second)

	port := testpeer.FreePort(t)
	cfg := filepath.Join(dir, "fleetwatch.yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`
global: {scrape_interval: 1s, scrape_timeout: 1s}
server: {listen_address: 127.0.0.1:%d}
storage: {path: data}
remote_write:
  - url: http://%s/api/v1/write
    queue_config: {batch_send_deadline: 1s}
jobs:
  - job_name: node
    type: host
`, port, vmAddr)), 0o644); err != nil {
		t.Fatal(err)
	}
	startServe(t, bin, cfg)
	vmQuery := "http://" + vmAddr + "/api/v1/query?query=" + url.QueryEscape(`node_memory_MemTotal_bytes{job="node"}`)
	waitFor(t, 40*time.Second, "node_memory_MemTotal_bytes in VictoriaMetrics", func() bool {
		_, body := get(t, vmQuery)
		return strings.Contains(body, `"job":"node"`)
	})
	_, metrics := get(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if !strings.Contains(metrics, "fleetwatch_remote_write_") {
		t.Error("/metrics has no fleetwatch_remote_write_ metrics")
	}
}
