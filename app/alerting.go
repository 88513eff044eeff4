package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetwatch/fleetwatch/alerter"
	"github.com/fleetwatch/fleetwatch/alerter/incidentapi"
	"github.com/fleetwatch/fleetwatch/alerter/notify"
	"github.com/fleetwatch/fleetwatch/alerter/notify/receivers"
	"github.com/fleetwatch/fleetwatch/alerter/remediate"
	"github.com/fleetwatch/fleetwatch/alerter/store"
	"github.com/fleetwatch/fleetwatch/alerter/store/sqlstore"
	"github.com/fleetwatch/fleetwatch/collectors/redfish"
	"github.com/fleetwatch/fleetwatch/collectors/redfish/action"
	"github.com/fleetwatch/fleetwatch/collectors/redfish/client"
	"github.com/fleetwatch/fleetwatch/config"
	"github.com/fleetwatch/fleetwatch/inventory"
)

// defaultAlerting is used when alerting.config_file is not set: every alert
// becomes part of an incident, grouped by alert name and place, and nobody
// is paged.
const defaultAlerting = `
route:
  receiver: fleetwatch
  group_by: [alertname, site, rack]
receivers:
  - name: fleetwatch
`

// alerting is the running alerter: its store, engine, remediation and the
// API tokens, rebuilt in part on every reload.
type alerting struct {
	store     *sqlstore.Store
	engine    *alerter.Engine
	remediate *remediate.Engine
	tokens    *incidentapi.Tokens // nil: no token needed
	logger    *slog.Logger
	// lifecycle holds lifecycle states set by remediation, over the
	// inventory's (until the inventory itself changes them).
	lifecycle *lifecycleOverrides
}

// openAlerting opens the store and builds the engines for cfg.
func openAlerting(ctx context.Context, cfg *config.Config, inv func() *inventory.Inventory, logger *slog.Logger, reg prometheus.Registerer) (*alerting, error) {
	a := &alerting{logger: logger, lifecycle: &lifecycleOverrides{states: map[string]inventory.Lifecycle{}}}
	st, err := openAlertStore(ctx, cfg, logger, reg)
	if err != nil {
		return nil, err
	}
	a.store = st
	ok := false
	defer func() {
		if !ok {
			_ = st.Close()
		}
	}()
	acfg, notifiers, remCfg, tokens, err := loadAlerting(cfg, logger, reg)
	if err != nil {
		return nil, err
	}
	a.tokens = tokens
	a.remediate, err = remediate.New(remediate.Options{
		Store: st, Config: remCfg, Fleet: remediate.NewInventoryFleet(a.lifecycle.apply(inv())),
		Redfish: &redfishActuator{cfg: redfishJobConfig(cfg)}, Lifecycle: a.lifecycle,
		Registerer: reg, Logger: logger.With("component", "remediate"),
	})
	if err != nil {
		return nil, err
	}
	extURL, err := externalURL(cfg)
	if err != nil {
		return nil, err
	}
	a.engine, err = alerter.New(alerter.Options{
		Config: acfg, Store: st, Notifiers: notifiers,
		Inventory:   func() *inventory.Inventory { return a.lifecycle.apply(inv()) },
		Remediator:  a.remediate,
		ExternalURL: strings.TrimSuffix(extURL.String(), "/"),
		// Instances name each other by the URL an operator can reach.
		Owner: strings.TrimSuffix(extURL.String(), "/"),
		HA: alerter.HAOptions{
			Disabled: cfg.Alerting.HA.Disabled, LeaseTTL: time.Duration(cfg.Alerting.HA.LeaseTTL),
			RetryInterval: time.Duration(cfg.Alerting.HA.RetryInterval),
		},
		Logger: logger.With("component", "alerter"), Registerer: reg,
	})
	if err != nil {
		return nil, err
	}
	// Runs that start and finish are change events for the incident's
	// receiver.
	a.remediate.SetChanges(a.engine)
	ok = true
	return a, nil
}

func openAlertStore(ctx context.Context, cfg *config.Config, logger *slog.Logger, reg prometheus.Registerer) (*sqlstore.Store, error) {
	sc := cfg.Alerting.Store
	opts := sqlstore.Options{Logger: logger.With("component", "store"), Registerer: reg}
	if sc.PostgresDSNFile != "" {
		dsn, err := os.ReadFile(sc.PostgresDSNFile)
		if err != nil {
			return nil, fmt.Errorf("alerting.store.postgres_dsn_file: %w", err)
		}
		return sqlstore.OpenPostgres(ctx, strings.TrimSpace(string(dsn)), opts)
	}
	path := sc.Path
	if path == "" {
		path = filepath.Join(cfg.Storage.Path, "alerter.db")
	} else {
		path = cfg.Resolve(path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	if sc.Synchronous == "normal" {
		opts.Synchronous = sqlstore.SyncNormal
	}
	return sqlstore.OpenSQLite(path, opts)
}

// loadAlerting reads the alerting files of cfg and builds the receivers.
func loadAlerting(cfg *config.Config, logger *slog.Logger, reg prometheus.Registerer) (*alerter.Config, map[string]notify.Notifier, *remediate.Config, *incidentapi.Tokens, error) {
	var (
		acfg *alerter.Config
		data []byte
		err  error
	)
	if f := cfg.Alerting.ConfigFile; f != "" {
		if data, err = os.ReadFile(f); err != nil {
			return nil, nil, nil, nil, err
		}
		acfg, err = alerter.ParseConfig(f, data)
	} else {
		data = []byte(defaultAlerting)
		acfg, err = alerter.ParseConfig("(default alerting)", data)
	}
	if err != nil {
		return nil, nil, nil, nil, err
	}
	rs, err := receivers.Parse(data)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("%s: receivers: %w", cfg.Alerting.ConfigFile, err)
	}
	registry, err := receivers.New(rs, logger.With("component", "notify"), reg)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	remCfg := &remediate.Config{}
	if f := cfg.Alerting.RemediationFile; f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		if remCfg, err = remediate.Parse(f, b); err != nil {
			return nil, nil, nil, nil, err
		}
	}
	var tokens *incidentapi.Tokens
	if f := cfg.Alerting.TokensFile; f != "" {
		if tokens, err = incidentapi.LoadTokens(f); err != nil {
			return nil, nil, nil, nil, err
		}
	}
	return acfg, registry.Map(), remCfg, tokens, nil
}

// apply swaps in the alerting part of a reloaded config.
func (a *alerting) apply(cfg *config.Config, inv *inventory.Inventory, logger *slog.Logger, reg prometheus.Registerer) error {
	// API tokens are read at start only: incidentapi and the UI hold them.
	acfg, notifiers, remCfg, _, err := loadAlerting(cfg, logger, reg)
	if err != nil {
		return err
	}
	if err := a.engine.ApplyConfig(acfg, notifiers); err != nil {
		return err
	}
	a.remediate.SetConfig(remCfg)
	return nil
}

// setInventory gives remediation the fleet it decides on.
func (a *alerting) setInventory(inv *inventory.Inventory) {
	a.remediate.SetFleet(remediate.NewInventoryFleet(a.lifecycle.apply(inv)))
}

// run runs the engines and prunes the store hourly until ctx ends.
func (a *alerting) run(ctx context.Context, retention time.Duration) error {
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	for _, f := range []func(context.Context) error{a.engine.Run, a.remediate.Run} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil && !errors.Is(err, context.Canceled) {
				errc <- err
			}
		}()
	}
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			cut := time.Now().Add(-retention)
			if _, err := a.store.Prune(ctx, sqlstore.Retention{Events: cut, Alerts: cut, Notifications: cut, RemediationRuns: cut, Silences: cut}); err != nil {
				a.logger.Warn("pruning the alert store", "err", err)
			}
		case err := <-errc:
			wg.Wait()
			return err
		case <-ctx.Done():
			wg.Wait()
			return nil
		}
	}
}

// redfishJobConfig returns the settings of the first redfish job, which the
// redfish remediation action logs in with.
func redfishJobConfig(cfg *config.Config) redfish.Config {
	for _, j := range cfg.Jobs {
		if j.Type == config.TypeRedfish && j.Redfish != nil {
			return *j.Redfish
		}
	}
	return redfish.DefaultConfig()
}

// redfishActuator resets or PXE-boots a server through its BMC, for the
// redfish remediation action.
type redfishActuator struct{ cfg redfish.Config }

func (r *redfishActuator) do(ctx context.Context, bmc string, f func(cl *clientWithSystem) error) error {
	c, err := redfish.New(r.cfg, nil, nil, nil)
	if err != nil {
		return err
	}
	cl, err := c.NewClient(bmc)
	if err != nil {
		return err
	}
	defer func() { _ = cl.Logout(context.WithoutCancel(ctx)) }()
	var systems struct {
		Members []struct {
			ID string `json:"@odata.id"`
		} `json:"Members"`
	}
	if err := cl.GetJSON(ctx, "/redfish/v1/Systems", &systems); err != nil {
		return fmt.Errorf("BMC %s: %w", bmc, err)
	}
	if len(systems.Members) == 0 {
		return fmt.Errorf("BMC %s: no computer system", bmc)
	}
	return f(&clientWithSystem{cl: cl, system: systems.Members[0].ID})
}

type clientWithSystem struct {
	cl     *client.Client
	system string
}

func (r *redfishActuator) Reset(ctx context.Context, bmc, resetType string) error {
	return r.do(ctx, bmc, func(c *clientWithSystem) error { return action.Reset(ctx, c.cl, c.system, resetType) })
}

func (r *redfishActuator) PXEBootOnce(ctx context.Context, bmc string) error {
	return r.do(ctx, bmc, func(c *clientWithSystem) error { return action.PXEBootOnce(ctx, c.cl, c.system) })
}

// lifecycleOverrides are lifecycle states set by remediation (e.g. a server
// sent to repair), laid over the inventory until it says otherwise.
type lifecycleOverrides struct {
	mu     sync.Mutex
	states map[string]inventory.Lifecycle
	// The last result of apply, returned again while neither the
	// inventory nor the overrides change: the alerter indexes the
	// inventory it is given and re-reads every alert's suppression when
	// that pointer changes, so a fresh copy per call would cost every
	// alert a lookup.
	lastIn, lastOut *inventory.Inventory
	empty           *inventory.Inventory
}

// SetLifecycle implements remediate.LifecycleSetter.
func (l *lifecycleOverrides) SetLifecycle(_ context.Context, hostname string, state inventory.Lifecycle, _ string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.states[hostname] = state
	l.lastIn, l.lastOut = nil, nil
	return nil
}

// apply returns inv with the overrides laid over it (an empty inventory
// for none); the same pointer for the same inventory and overrides.
func (l *lifecycleOverrides) apply(inv *inventory.Inventory) *inventory.Inventory {
	l.mu.Lock()
	defer l.mu.Unlock()
	if inv == nil {
		if l.empty == nil {
			l.empty = &inventory.Inventory{}
		}
		inv = l.empty
	}
	if len(l.states) == 0 {
		return inv
	}
	if l.lastIn == inv && l.lastOut != nil {
		return l.lastOut
	}
	out := &inventory.Inventory{Servers: append([]inventory.Server(nil), inv.Servers...), Switches: inv.Switches}
	for i, s := range out.Servers {
		if st, ok := l.states[s.Hostname]; ok {
			out.Servers[i].Lifecycle = st
		}
	}
	l.lastIn, l.lastOut = inv, out
	return out
}

var (
	_ store.Store               = (*sqlstore.Store)(nil)
	_ remediate.LifecycleSetter = (*lifecycleOverrides)(nil)
)
