#!/bin/sh
# remote_write throughput: samples per CPU-second that fleetwatch spends
# sending 10k series x 100 samples from its TSDB's WAL to VictoriaMetrics,
# against Debian's Prometheus 2.42 forwarding the same samples to the same
# VictoriaMetrics (its CPU with remote_write minus its CPU without, read
# from /proc/<pid>/stat). Needs victoria-metrics and prometheus installed.
# Usage: bench/remote_write.sh [series] [samples] [count]
set -eu
cd "$(dirname "$0")/.."
SERIES=${1:-10000}
SAMPLES=${2:-100}
COUNT=${3:-3}
go test -run XXX -bench 'RemoteWriteVictoriaMetrics|PrometheusRemoteWrite' -benchtime 1x -count "$COUNT" \
	./pipeline/remotewrite/ -args -bench.series="$SERIES" -bench.samples="$SAMPLES" | tee /tmp/remote_write_bench.txt
awk '
/^BenchmarkRemoteWriteVictoriaMetrics/ { for (i = 1; i < NF; i++) if ($(i+1) == "samples/cpu-s") fw[++nf] = $i }
/^BenchmarkPrometheusRemoteWrite/      { for (i = 1; i < NF; i++) if ($(i+1) == "samples/cpu-s") pr[++np] = $i }
function median(a, n,   i, j, t) {
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
END {
	if (nf == 0 || np == 0) { print "missing figures"; exit 1 }
	f = median(fw, nf); p = median(pr, np)
	printf "fleetwatch %.0f samples/cpu-s, Prometheus 2.42 %.0f samples/cpu-s (medians), ratio %.2f\n", f, p, f / p
}' /tmp/remote_write_bench.txt
