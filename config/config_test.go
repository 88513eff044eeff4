package config

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

func TestExampleLoads(t *testing.T) {
	c, err := Load("../examples/fleetwatch.yml")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Jobs) != 5 || c.Jobs[0].Type != TypeHost || c.Jobs[1].Scrape == nil {
		t.Fatalf("jobs %+v", c.Jobs)
	}
	if c.Jobs[1].ScrapeInterval != model.Duration(15*time.Second) || c.Jobs[1].Scrape.MetricsPath != "/metrics" {
		t.Fatalf("job defaults not applied: %+v", c.Jobs[1])
	}
	if got := c.Resolve(c.Inventory.File); got != "../examples/inventory.yml" {
		t.Fatalf("inventory resolves to %q", got)
	}
	// Every *_file key is relative to the config file.
	for _, j := range c.Jobs {
		if j.Redfish != nil && j.Redfish.PasswordFile != "../examples/secrets/sim-bmc-password" {
			t.Fatalf("redfish password_file resolves to %q", j.Redfish.PasswordFile)
		}
	}
	if len(c.RuleFiles) == 0 || c.RuleFiles[0] != "pack:server" {
		t.Fatalf("rule_files %v: a pack name must stay as it is", c.RuleFiles)
	}
	if c.Simulate.BMCPasswordFile != "../examples/secrets/sim-bmc-password" {
		t.Fatalf("simulate.bmc_password_file resolves to %q", c.Simulate.BMCPasswordFile)
	}
}

func TestDefaults(t *testing.T) {
	for _, in := range []string{"", "global:\n  scrape_interval: 30s\n"} {
		c, err := Parse("f.yml", []byte(in))
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Jobs) != 1 || c.Jobs[0].JobName != "host" || c.Server.ListenAddress != "127.0.0.1:9470" || c.Storage.Path != "data" {
			t.Fatalf("defaults for %q: %+v", in, c)
		}
	}
	c, _ := Parse("f.yml", []byte("global:\n  scrape_interval: 30s\n"))
	if c.Jobs[0].ScrapeInterval != model.Duration(30*time.Second) || c.Jobs[0].ScrapeTimeout != model.Duration(10*time.Second) {
		t.Fatalf("job interval/timeout from global: %v %v", c.Jobs[0].ScrapeInterval, c.Jobs[0].ScrapeTimeout)
	}
	c, err := Parse("f.yml", []byte("jobs: []\n"))
	if err != nil || len(c.Jobs) != 0 {
		t.Fatalf("explicit empty jobs: %v %v", c, err)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"not yaml", "global: [", "f.yml:1: did not find expected node content"},
		{"unknown top-level key", "globl: {}\n", "f.yml:1: globl: unknown field"},
		{"unknown nested key", "server:\n  listen: x\n", "f.yml:2: listen: unknown field"},
		{"unknown job key", "jobs:\n  - job_name: a\n    type: host\n    intervall: 5s\n", "f.yml:4: intervall: unknown field"},
		{"bad duration", "global:\n  scrape_interval: soon\n", `f.yml:2: not a valid duration string: "soon"`},
		{"timeout over interval", "global:\n  scrape_interval: 5s\n  scrape_timeout: 10s\n", "f.yml: global.scrape_timeout: must be positive and at most scrape_interval (5s)"},
		{"zero evaluation interval", "global:\n  evaluation_interval: 0s\n", "global.evaluation_interval: must be positive"},
		{"bad concurrency", "global:\n  concurrency: -1\n", "global.concurrency: must be positive"},
		{"bad external label", "global:\n  external_labels: {1a: x}\n", `global.external_labels: "1a" is not a valid label name`},
		{"bad listen address", "server:\n  listen_address: nowhere\n", `server.listen_address: "nowhere"`},
		{"empty storage path", "storage:\n  path: \"\"\n", "storage.path: must not be empty"},
		{"negative retention", "storage:\n  retention_time: -1d\n", "f.yml:2: not a valid duration string"},
		{"bad size", "storage:\n  retention_size: lots\n", "f.yml:2: units: invalid lots"},
		{"bad query limits", "query:\n  max_samples: 0\n", "query: timeout, max_samples"},
		{"bad rule query url", "rule_query:\n  url: victoria:8428\n", `rule_query.url: "victoria:8428" is not an http(s) URL`},
		{"missing job name", "jobs:\n  - type: host\n", "f.yml:2: jobs[0].job_name: missing"},
		{"duplicate job name", "jobs:\n  - job_name: a\n    type: host\n  - job_name: a\n    type: host\n", `f.yml:4: jobs[1] (a).job_name: "a" already used by jobs[0]`},
		{"missing type", "jobs:\n  - job_name: a\n", "f.yml:2: jobs[0] (a).type: missing (one of host, scrape, snmp, redfish, probe)"},
		{"unknown type", "jobs:\n  - job_name: a\n    type: snmpp\n", `f.yml:3: jobs[0] (a).type: "snmpp" is not one of host, scrape, snmp, redfish, probe`},
		{"job timeout over interval", "jobs:\n  - job_name: a\n    type: host\n    scrape_interval: 5s\n    scrape_timeout: 6s\n", "f.yml:5: jobs[0] (a).scrape_timeout: 6s must be positive and at most scrape_interval (5s)"},
		{"negative sample limit", "jobs:\n  - job_name: a\n    type: host\n    sample_limit: -1\n", "f.yml:4: jobs[0] (a).sample_limit: must not be negative"},
		{"scrape block on host job", "jobs:\n  - job_name: a\n    type: host\n    scrape: {}\n", "f.yml:4: jobs[0] (a).scrape: only for type scrape"},
		{"host block on scrape job", "jobs:\n  - job_name: a\n    type: scrape\n    host: {}\n    static_configs: [{targets: [x:1]}]\n", "f.yml:4: jobs[0] (a).host: only for type host"},
		{"scrape job without targets", "jobs:\n  - job_name: a\n    type: scrape\n", "f.yml:2: jobs[0] (a): a scrape job needs static_configs or inventory"},
		{"snmp job without targets", "jobs:\n  - job_name: a\n    type: snmp\n", "f.yml:2: jobs[0] (a): a snmp job needs static_configs or inventory"},
		{"probe job without probe block", "jobs:\n  - job_name: a\n    type: probe\n    static_configs: [{targets: [x]}]\n", "f.yml:2: jobs[0] (a).probe: missing"},
		{"unknown snmp key", "jobs:\n  - job_name: a\n    type: snmp\n    snmp: {modulez: [x]}\n    static_configs: [{targets: [x]}]\n", "modulez"},
		{"bad trap listen address", "snmp_traps: {listen_address: nope}\n", "snmp_traps: snmp traps: listen_address"},
		{"redfish block on snmp job", "jobs:\n  - job_name: a\n    type: snmp\n    redfish: {}\n    static_configs: [{targets: [x]}]\n", "f.yml:4: jobs[0] (a).redfish: only for type redfish"},
		{"bad static target", "jobs:\n  - job_name: a\n    type: scrape\n    static_configs: [{targets: ['http://x/']}]\n", `f.yml:4: jobs[0] (a).static_configs[0].targets: "http://x/" is not host or host:port`},
		{"bad static label", "jobs:\n  - job_name: a\n    type: scrape\n    static_configs: [{targets: [x:1], labels: {a-b: c}}]\n", `jobs[0] (a).static_configs[0].labels: "a-b" is not a valid label name`},
		{"inventory without file", "jobs:\n  - job_name: a\n    type: scrape\n    inventory: {role: server}\n", "f.yml:4: jobs[0] (a).inventory: set, but neither inventory.file nor simulate is"},
		{"bad inventory role", "inventory: {file: i.yml}\njobs:\n  - job_name: a\n    type: scrape\n    inventory: {role: toaster}\n", `f.yml:5: jobs[0] (a).inventory: role "toaster" is not one of server, bmc, switch`},
		{"bad relabel", "jobs:\n  - job_name: a\n    type: host\n    relabel_configs:\n      - action: replace\n", "f.yml:4: jobs[0] (a).relabel_configs[0]: relabel configuration for replace action requires 'target_label' value"},
		{"bad metric relabel regex", "jobs:\n  - job_name: a\n    type: host\n    metric_relabel_configs:\n      - regex: '('\n", "f.yml:5: error parsing regexp"},
		{"bad host setting", "jobs:\n  - job_name: a\n    type: host\n    host: {procfs: relative}\n", "f.yml:4: jobs[0] (a).host: "},
		{"bad scrape setting", "jobs:\n  - job_name: a\n    type: scrape\n    scrape: {scheme: ftp}\n    static_configs: [{targets: [x:1]}]\n", "f.yml:4: jobs[0] (a).scrape: "},
		{"all problems reported", "global:\n  concurrency: 0\njobs:\n  - type: host\n", "global.concurrency: must be positive\nf.yml:4: jobs[0].job_name: missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("f.yml", []byte(tc.in))
			if err == nil {
				t.Fatalf("accepted, want error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error:\n%v\nwant it to contain:\n%s", err, tc.want)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	if _, err := Load("testdata/none.yml"); err == nil || !os.IsNotExist(err) {
		t.Fatalf("missing file: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	data, err := os.ReadFile("../examples/fleetwatch.yml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte("jobs:\n  - job_name: a\n    type: scrape\n    static_configs: [{targets: [x:1]}]\n"))
	f.Add([]byte("global: {scrape_interval: 1s, scrape_timeout: 1s}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.yml", data)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.yml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, j := range c.Jobs {
			if j.ScrapeTimeout <= 0 || j.ScrapeTimeout > j.ScrapeInterval {
				t.Fatalf("accepted job %q with timeout %v interval %v", j.JobName, j.ScrapeTimeout, j.ScrapeInterval)
			}
		}
	})
}

func TestParserPanicIsAnError(t *testing.T) {
	// yaml.v3 v3.0.1 panics on a mapping used as a key next to a merge key.
	_, err := Parse("f.yml", []byte("0: &b {0,1}\nserver: {<<, *b}\n"))
	if err == nil || !strings.Contains(err.Error(), "f.yml") {
		t.Fatalf("error %v, want one naming the file", err)
	}
}
