// Command synthexporter serves a synthetic exporter with a fixed number of
// series whose values change on every scrape, so fleetwatch and Prometheus can
// be measured scraping exactly the same load side by side (bench/rss.sh).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"log"
	"net/http"
	"strconv"
	"sync/atomic"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:19200", "address to serve /metrics on")
	series := flag.Int("series", 100000, "series to expose")
	families := flag.Int("families", 100, "metric families the series are spread over")
	flag.Parse()
	var scrapes atomic.Int64
	http.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		n := scrapes.Add(1)
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		bw := bufio.NewWriterSize(w, 64<<10)
		perFamily := *series / *families
		for f := range *families {
			fmt.Fprintf(bw, "# HELP synth_metric_%d A synthetic gauge.\n# TYPE synth_metric_%d gauge\n", f, f)
			for i := range perFamily {
				bw.WriteString("synth_metric_")
				bw.WriteString(strconv.Itoa(f))
				bw.WriteString(`{id="`)
				bw.WriteString(strconv.Itoa(i))
				bw.WriteString(`",rack="r`)
				bw.WriteString(strconv.Itoa(i % 40))
				bw.WriteString(`"} `)
				bw.WriteString(strconv.FormatInt(n*int64(i%7), 10))
				bw.WriteByte('\n')
			}
		}
		bw.Flush()
	})
	log.Fatal(http.ListenAndServe(*addr, nil))
}
