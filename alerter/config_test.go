package alerter

import (
	"strings"
	"testing"
)

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		name, yaml, want string
	}{
		{"unknown key with line", "route:\n  receiver: pd\n  group_bye: [a]\nreceivers: [{name: pd}]\n", "alerting.yml:3: group_bye: unknown field"},
		{"unknown receiver", "route:\n  receiver: nobody\nreceivers: [{name: pd}]\n", `alerting.yml:2: route.receiver: no receiver named "nobody"`},
		{"nested route receiver", "route:\n  receiver: pd\n  routes:\n    - receiver: x\n      matchers: ['a=\"b\"']\nreceivers: [{name: pd}]\n", `alerting.yml:4: route.routes[0].receiver: no receiver named "x"`},
		{"bad matcher", "route:\n  receiver: pd\n  routes:\n    - matchers: ['a=~\"(\"']\nreceivers: [{name: pd}]\n", "alerting.yml:4"},
		{"top route needs receiver", "receivers: [{name: pd}]\n", "route.receiver: the top route needs a receiver"},
		{"duplicate receiver", "route: {receiver: pd}\nreceivers: [{name: pd}, {name: pd}]\n", `receivers[1].name: "pd" defined twice`},
		{"group_by ... alone", "route: {receiver: pd, group_by: ['...', a]}\nreceivers: [{name: pd}]\n", "route.group_by: '...' must be alone"},
		{"bad duration", "route: {receiver: pd}\nreceivers: [{name: pd}]\nresolve_timeout: 5 minutes\n", "alerting.yml:3"},
		{"unknown time interval", "route: {receiver: pd, mute_time_intervals: [nights]}\nreceivers: [{name: pd}]\n", `no time interval named "nights"`},
		{"bad lifecycle", "route: {receiver: pd}\nreceivers: [{name: pd}]\nmaintenance: {lifecycle_states: [asleep]}\n", `maintenance.lifecycle_states: "asleep" is not one of`},
		{"rate limit for unknown receiver", "route: {receiver: pd}\nreceivers: [{name: pd}]\noutbox: {rate_limits: {slack: 1}}\n", `outbox.rate_limits.slack: no receiver named "slack"`},
		{"inhibit without target", "route: {receiver: pd}\nreceivers: [{name: pd}]\ninhibit_rules: [{source_matchers: ['a=\"b\"']}]\n", "inhibit_rules[0].target_matchers: missing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseConfig("alerting.yml", []byte(c.yaml))
			if err == nil {
				t.Fatalf("no error, want %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q\nwant it to contain %q", err, c.want)
			}
		})
	}
}

func TestConfigExample(t *testing.T) {
	cfg, err := LoadConfig("testdata/alerting.yml")
	if err != nil {
		t.Fatal(err)
	}
	r := buildRoutes(cfg.Route)
	got := r.match(map[string]string{"alertname": "HostDown", "severity": "critical", "team": "infra"})
	if len(got) != 1 || got[0].receiver != "pagerduty-infra" {
		t.Fatalf("routes: %+v", got)
	}
	if info := r.match(map[string]string{"alertname": "Info", "severity": "info"}); len(info) != 1 || info[0].receiver != "slack-ops" {
		t.Fatalf("info routes: %+v", info)
	}
	if got[0].groupWait.String() != "10s" || got[0].groupInterval.String() != "5m0s" {
		t.Fatalf("inherited timers: wait %v interval %v", got[0].groupWait, got[0].groupInterval)
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(basicConfig))
	f.Add([]byte(corrConfig))
	f.Add([]byte("route: {receiver: pd, routes: [{matchers: ['a=~\"x|y\"'], continue: true}]}\nreceivers: [{name: pd}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig("fuzz.yml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		r := buildRoutes(cfg.Route)
		r.match(map[string]string{"alertname": "X"})
	})
}
