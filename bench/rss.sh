#!/usr/bin/env bash
# Memory with N active series: fleetwatch serve and Debian's Prometheus scrape
# the same synthetic exporter (bench/synthexporter) every 5 s for DURATION
# seconds, side by side; prints each one's RSS and their ratio.
#   bench/rss.sh [SERIES] [DURATION]
set -euo pipefail
SERIES=${1:-100000}
DURATION=${2:-120}
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
EXP=$(freeport); FW=$(freeport); PROM=$(freeport)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

go build -o "$tmp/fleetwatch" ./cmd/fleetwatch
go build -o "$tmp/synthexporter" ./bench/synthexporter
"$tmp/synthexporter" -listen 127.0.0.1:$EXP -series "$SERIES" & pids+=($!)

cat > "$tmp/fw.yml" <<YML
global: {scrape_interval: 5s, scrape_timeout: 5s}
server: {listen_address: 127.0.0.1:$FW}
storage: {path: $tmp/fw-data}
jobs:
  - job_name: synth
    type: scrape
    static_configs: [{targets: [127.0.0.1:$EXP]}]
YML
cat > "$tmp/prom.yml" <<YML
global: {scrape_interval: 5s, scrape_timeout: 5s}
scrape_configs:
  - job_name: synth
    static_configs: [{targets: [127.0.0.1:$EXP]}]
YML
"$tmp/fleetwatch" serve --config.file="$tmp/fw.yml" --log.level=warn & pids+=($!); fw=$!
prometheus --config.file="$tmp/prom.yml" --storage.tsdb.path="$tmp/prom-data" \
  --web.listen-address=127.0.0.1:$PROM --log.level=warn & pids+=($!); prom=$!

sleep "$DURATION"
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
series() { curl -s "$1" --data-urlencode 'query=count({__name__=~"synth_metric_.*"})' | sed -E 's/.*"value":\[[^,]*,"([0-9]+)".*/\1/'; }
fw_rss=$(rss $fw); prom_rss=$(rss $prom)
echo "series: fleetwatch $(series http://127.0.0.1:$FW/api/v1/query), prometheus $(series http://127.0.0.1:$PROM/api/v1/query)"
echo "RSS after ${DURATION}s: fleetwatch $((fw_rss/1024)) MiB, prometheus $((prom_rss/1024)) MiB, ratio $(awk "BEGIN {printf \"%.2f\", $fw_rss/$prom_rss}")"
