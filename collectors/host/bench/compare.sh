#!/bin/sh
# compare.sh: CPU per scrape of node_exporter vs CPU per collection of
# fleetwatch's host collector, for the same collectors, on the same run.
#
#   collectors/host/bench/compare.sh            # N=1000 scrapes / collections
#   N=300 PORT=19177 collectors/host/bench/compare.sh
#
# node_exporter runs with only the collectors fleetwatch implements and
# without its own go_/process_ metrics; its CPU (utime+stime from
# /proc/<pid>/stat) is read before and after N plain-text scrapes of
# /metrics over one keep-alive connection. fleetwatch's figure is the
# process CPU (getrusage) of N collections into a discarding appender.
set -eu
N=${N:-1000}
PORT=${PORT:-19177}
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d)
NE_PID=
cleanup() {
	[ -n "$NE_PID" ] && kill "$NE_PID" 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

SUBS=cpu,stat,meminfo,loadavg,diskstats,filesystem,netdev,netclass,pressure,hwmon,edac,thermal_zone,uname,time
NE_FLAGS="--collector.disable-defaults --web.disable-exporter-metrics"
for s in $(echo "$SUBS" | tr , ' '); do NE_FLAGS="$NE_FLAGS --collector.$s"; done

(cd "$HERE" && go build -o "$TMP/hostbench" .)

# shellcheck disable=SC2086
prometheus-node-exporter --web.listen-address=127.0.0.1:$PORT $NE_FLAGS >"$TMP/ne.log" 2>&1 &
NE_PID=$!
i=0
until curl -sf -o /dev/null "http://127.0.0.1:$PORT/metrics"; do
	i=$((i + 1)); [ $i -gt 100 ] && { cat "$TMP/ne.log"; exit 1; }; sleep 0.1
done
curl -s "http://127.0.0.1:$PORT/metrics?warm=[1-20]" >/dev/null
ne_series=$(curl -s "http://127.0.0.1:$PORT/metrics" | grep -vc '^#')

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
t0=$(ticks "$NE_PID")
curl -s "http://127.0.0.1:$PORT/metrics?n=[1-$N]" >/dev/null
t1=$(ticks "$NE_PID")
ne_ms=$(awk -v a="$t0" -v b="$t1" -v hz="$hz" -v n="$N" 'BEGIN{printf "%.3f", (b-a)*1000/hz/n}')

fw=$("$TMP/hostbench" -n "$N" -collectors "$SUBS")
fw_ms=$(echo "$fw" | sed 's/.*cpu_ms_per_collection=\([0-9.]*\).*/\1/')
fw_series=$(echo "$fw" | sed 's/.*series_per_collection=\([0-9]*\).*/\1/')

echo "node_exporter: ${ne_ms} ms CPU per scrape (${ne_series} series, N=$N)"
echo "fleetwatch:    ${fw_ms} ms CPU per collection (${fw_series} series, N=$N)"
awk -v f="$fw_ms" -v n="$ne_ms" 'BEGIN{printf "ratio fleetwatch/node_exporter: %.2f (goal <= 0.50)\n", f/n}'
