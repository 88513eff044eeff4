package receivers

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"

	"gopkg.in/yaml.v3"

	"github.com/fleetwatch/fleetwatch/alerter/notify/internal/notifyutil"
	"github.com/fleetwatch/fleetwatch/alerter/notify/pagerduty"
	"github.com/fleetwatch/fleetwatch/alerter/notify/slack"
	"github.com/fleetwatch/fleetwatch/alerter/notify/webhook"
)

// Receiver is one entry of `receivers:`. A receiver with no configs is
// valid: it records the incident and notifies nobody (Alertmanager's
// "null" receiver).
type Receiver struct {
	Name             string             `yaml:"name"`
	PagerdutyConfigs []pagerduty.Config `yaml:"pagerduty_configs"`
	WebhookConfigs   []webhook.Config   `yaml:"webhook_configs"`
	SlackConfigs     []slack.Config     `yaml:"slack_configs"`
}

// unsupported are Alertmanager integrations fleetwatch does not have.
var unsupported = map[string]bool{
	"email_configs": true, "opsgenie_configs": true, "wechat_configs": true, "pushover_configs": true,
	"victorops_configs": true, "sns_configs": true, "telegram_configs": true, "webex_configs": true,
	"discord_configs": true, "msteams_configs": true, "msteamsv2_configs": true, "jira_configs": true,
	"rocketchat_configs": true, "incidentio_configs": true, "mattermost_configs": true,
}

// UnmarshalYAML refuses unknown keys with their line, and says so plainly
// for Alertmanager integrations fleetwatch does not have.
func (r *Receiver) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(node.Content); i += 2 {
			k := node.Content[i]
			if unsupported[k.Value] {
				return fmt.Errorf("line %d: receiver: %s are not supported by fleetwatch (use webhook_configs)", k.Line, k.Value)
			}
		}
	}
	// Only the receiver's own keys are checked here; each config checks
	// its own when it is decoded.
	if err := notifyutil.CheckKeys(shallow(node), reflect.TypeFor[Receiver](), "receiver", nil); err != nil {
		return err
	}
	type plain Receiver
	*r = Receiver{}
	return node.Decode((*plain)(r))
}

// shallow returns node with the values of its keys dropped, so CheckKeys
// does not descend into the integrations' lists.
func shallow(node *yaml.Node) *yaml.Node {
	if node.Kind != yaml.MappingNode {
		return node
	}
	c := *node
	c.Content = make([]*yaml.Node, 0, len(node.Content))
	for i := 0; i+1 < len(node.Content); i += 2 {
		c.Content = append(c.Content, node.Content[i], &yaml.Node{Kind: yaml.ScalarNode})
	}
	return &c
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:/-]*$`)

// Validate checks the receiver and every config, naming the receiver and
// the config (pagerduty_configs[1]) in each error.
func (r *Receiver) Validate() error {
	var errs []error
	if !nameRE.MatchString(r.Name) {
		errs = append(errs, fmt.Errorf("name %q: want letters, digits and _ . : / -", r.Name))
	}
	for i := range r.PagerdutyConfigs {
		if err := r.PagerdutyConfigs[i].Validate(); err != nil {
			errs = append(errs, fmt.Errorf("pagerduty_configs[%d]: %w", i, err))
		}
	}
	for i := range r.WebhookConfigs {
		if err := r.WebhookConfigs[i].Validate(); err != nil {
			errs = append(errs, fmt.Errorf("webhook_configs[%d]: %w", i, err))
		}
	}
	for i := range r.SlackConfigs {
		if err := r.SlackConfigs[i].Validate(); err != nil {
			errs = append(errs, fmt.Errorf("slack_configs[%d]: %w", i, err))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("receiver %q: %w", r.Name, errors.Join(errs...))
}

// Validate checks every receiver and that names are unique.
func Validate(rs []Receiver) error {
	var errs []error
	seen := map[string]bool{}
	for i := range rs {
		if seen[rs[i].Name] {
			errs = append(errs, fmt.Errorf("receiver %q: defined more than once", rs[i].Name))
		}
		seen[rs[i].Name] = true
		if err := rs[i].Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// File is a document holding `receivers:` (and other keys, ignored).
type File struct {
	Receivers []Receiver `yaml:"receivers"`
}

// Parse decodes the receivers of a YAML document and validates them.
func Parse(b []byte) ([]Receiver, error) {
	var f File
	if err := yaml.Unmarshal(b, &f); err != nil {
		return nil, err
	}
	if err := Validate(f.Receivers); err != nil {
		return nil, err
	}
	return f.Receivers, nil
}
