package scrape

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestDocsExample parses the example jobs of docs/collectors/scrape.md: each
// job, less the scheduler's keys, must be a valid scrape config (the files it
// names replaced by one that exists).
func TestDocsExample(t *testing.T) {
	raw, err := os.ReadFile("../../docs/collectors/scrape.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(raw), -1)
	if len(blocks) == 0 {
		t.Fatal("no yaml example in the docs")
	}
	file := writeFile(t, "secret", "x")
	example := regexp.MustCompile(`/etc/fleetwatch/\S+`).ReplaceAllString(blocks[0][1], file)
	var doc struct {
		ScrapeConfigs []map[string]any `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal([]byte(example), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.ScrapeConfigs) < 2 {
		t.Fatalf("want at least 2 example jobs, got %d", len(doc.ScrapeConfigs))
	}
	documented := string(raw)
	for _, job := range doc.ScrapeConfigs {
		name, _ := job["job_name"].(string)
		t.Run(name, func(t *testing.T) {
			for _, k := range []string{"job_name", "scrape_interval", "scrape_timeout"} {
				delete(job, k)
			}
			b, err := yaml.Marshal(job)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ParseConfig(b); err != nil {
				t.Fatalf("example job %s: %v", name, err)
			}
		})
	}
	// Every key of Config is documented.
	for _, key := range []string{"metrics_path", "scheme", "params", "honor_timestamps", "body_size_limit",
		"sample_limit", "label_limit", "label_name_length_limit", "label_value_length_limit",
		"basic_auth.username", "basic_auth.password_file", "bearer_token_file", "tls_config.ca_file",
		"tls_config.cert_file", "tls_config.key_file", "tls_config.server_name",
		"tls_config.insecure_skip_verify", "enable_compression", "fallback_scrape_protocol",
		"fleetwatch_scrape_bytes_total", "fleetwatch_scrape_samples_total",
		"fleetwatch_scrape_duplicate_samples_total", "fleetwatch_scrape_errors_total"} {
		if !strings.Contains(documented, "`"+key+"`") {
			t.Errorf("%s is not documented", key)
		}
	}
}
