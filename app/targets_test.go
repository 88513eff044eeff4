package app

import (
	"fmt"
	"testing"

	"github.com/fleetwatch/fleetwatch/collectors/scrape"
	"github.com/fleetwatch/fleetwatch/config"
)

func TestShardingSplitsTargetsExactlyOnce(t *testing.T) {
	jc := config.JobConfig{JobName: "snmp", Type: config.TypeSNMP}
	for i := range 1000 {
		jc.StaticConfigs = append(jc.StaticConfigs, config.StaticConfig{Targets: []string{fmt.Sprintf("10.0.%d.%d:161", i/250, i%250)}})
	}
	for _, shards := range []int{1, 2, 3, 7} {
		owner := map[string]int{}
		for shard := range shards {
			ts := jobTargets(jc, nil, config.ShardingConfig{Shards: shards, Shard: shard})
			if shards > 1 && (len(ts) < 1000/shards/2 || len(ts) > 2*1000/shards) {
				t.Errorf("%d shards: shard %d has %d of 1000 targets", shards, shard, len(ts))
			}
			for _, tg := range ts {
				if prev, dup := owner[tg.Address]; dup {
					t.Fatalf("%d shards: %s collected by shards %d and %d", shards, tg.Address, prev, shard)
				}
				owner[tg.Address] = shard
			}
		}
		if len(owner) != 1000 {
			t.Fatalf("%d shards: %d of 1000 targets collected", shards, len(owner))
		}
	}
	// The host job is every instance's own machine.
	host := config.JobConfig{JobName: "node", Type: config.TypeHost}
	if ts := jobTargets(host, nil, config.ShardingConfig{Shards: 3, Shard: 2}); len(ts) != 1 {
		t.Fatalf("host job under sharding: %d targets", len(ts))
	}
}

func TestStaticLabelsSetCollectorParams(t *testing.T) {
	sc := scrape.DefaultConfig()
	jc := config.JobConfig{JobName: "x", Type: config.TypeScrape, Scrape: &sc, StaticConfigs: []config.StaticConfig{
		{Targets: []string{"a:1"}, Labels: map[string]string{"__metrics_path__": "/probe", "rack": "r1"}},
		{Targets: []string{"b:1"}},
	}}
	ts := jobTargets(jc, nil, config.ShardingConfig{})
	if len(ts) != 2 || ts[0].Params["__metrics_path__"] != "/probe" || ts[1].Params["__metrics_path__"] != "/metrics" {
		t.Fatalf("targets %+v", ts)
	}
	if ts[0].Labels.Get("rack") != "r1" || ts[0].Labels.Has("__metrics_path__") {
		t.Fatalf("labels %v", ts[0].Labels)
	}
}
