#!/usr/bin/env bash
# fleetwatch's alerter beside Debian's prometheus-alertmanager (0.25) on the
# same run: the Go benchmarks of alerter/acceptance build the fleetwatch
# binary, start both servers on loopback (Alertmanager with gossip off) and
# send both the same load from the same client.
#   bench/alertmanager.sh [intake-iterations] [latency-iterations]
# Prints, per server: alerts/s and server CPU µs per alert for 10,000
# distinct alerts in batches of 100 then the same re-sent (1 and 4 senders);
# alert → notification p50/p99 with group_wait 0; RSS with 100,000 alerts.
# The machine is shared: compare the two servers of one run, and prefer the
# CPU-per-alert figures to wall-clock ones when the load average is high.
set -euo pipefail
INTAKE=${1:-5}
LATENCY=${2:-200}
cd "$(dirname "$0")/.."
command -v prometheus-alertmanager >/dev/null || { echo "prometheus-alertmanager is not installed" >&2; exit 1; }
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
go test ./alerter/acceptance/ -run XXX -count=1 -timeout 30m \
  -bench 'PostAlerts' -benchtime "${INTAKE}x" | grep -E '^Benchmark|^ok|FAIL|_test.go:'
go test ./alerter/acceptance/ -run XXX -count=1 -timeout 30m \
  -bench 'AlertToNotification' -benchtime "${LATENCY}x" | grep -E '^Benchmark|^ok|FAIL|_test.go:'
go test ./alerter/acceptance/ -run XXX -count=1 -timeout 30m \
  -bench 'Memory100kAlerts' -benchtime 1x | grep -E '^Benchmark|^ok|FAIL|_test.go:'
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
