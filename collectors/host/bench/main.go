// Command bench measures the CPU time one host collection costs: it runs N
// full collections of this machine into an appender that drops samples and
// prints the process' user+system CPU per collection, the figure
// compare.sh puts next to node_exporter's CPU per scrape.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"
	"golang.org/x/sys/unix"

	"github.com/fleetwatch/fleetwatch/collectors"
	"github.com/fleetwatch/fleetwatch/collectors/host"
)

type discard struct{ series int }

func (d *discard) Append(labels.Labels, int64, float64) error { d.series++; return nil }
func (d *discard) SetMetadata(string, metadata.Metadata)      {}

func cpuTime() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func main() {
	n := flag.Int("n", 1000, "number of collections")
	subs := flag.String("collectors", "", "comma-separated sub-collectors (default: all)")
	flag.Parse()
	cfg := host.Config{}
	if *subs != "" {
		cfg.Collectors = strings.Split(*subs, ",")
	}
	c, err := host.New(cfg, nil, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx := context.Background()
	app := &discard{}
	for range 20 { // warm up caches and the read buffers
		if err := c.Collect(ctx, collectors.Target{}, app); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	app.series = 0
	start, wall := cpuTime(), time.Now()
	for range *n {
		if err := c.Collect(ctx, collectors.Target{}, app); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	cpu := cpuTime() - start
	fmt.Printf("collections=%d series_per_collection=%d cpu_ms_per_collection=%.3f wall_ms_per_collection=%.3f\n",
		*n, app.series / *n, float64(cpu.Microseconds())/1000/float64(*n), float64(time.Since(wall).Microseconds())/1000/float64(*n))
}
