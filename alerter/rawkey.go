package alerter

import (
	"context"

	"github.com/fleetwatch/fleetwatch/alerter/store"
)

// RawKey identifies an alert by the exact bytes its sender wrote: a hash
// of its labels object and one of its annotations object, as the API
// layer computes them (hash/maphash, one seed per process). Prometheus
// re-sends every firing alert with the same bytes each evaluation, so an
// alert whose key the engine knows need not be decoded, validated or
// fingerprinted again. A key is only a shortcut: a miss costs the full
// decode, never a wrong alert (two distinct label sets share a key with
// the odds of a 64-bit collision, the same odds Alertmanager's
// fingerprints take).
type RawKey struct {
	Labels, Annotations uint64
}

// KnownAlert is what LookupRaw finds for a key.
type KnownAlert struct {
	Fingerprint string
	// Labels are the alert's labels as the engine holds them: shared and
	// read-only.
	Labels map[string]string
	// Annotations are set (shared, read-only) when the annotations key
	// matched too; nil otherwise.
	Annotations map[string]string
	// GeneratorURL is the alert's, to share the string when it is the
	// same.
	GeneratorURL string
}

// LookupRaw sets known[i] for every keys[i] the engine holds an alert
// for, and leaves the others zero. len(known) must be len(keys).
func (e *Engine) LookupRaw(keys []RawKey, known []KnownAlert) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, k := range keys {
		ent := e.byRaw[k.Labels]
		if ent == nil {
			continue
		}
		known[i] = KnownAlert{Fingerprint: ent.a.Fingerprint, Labels: ent.a.Labels, GeneratorURL: ent.a.GeneratorURL}
		if ent.rawAnn != 0 && ent.rawAnn == k.Annotations {
			known[i].Annotations = ent.a.Annotations
		}
	}
}

// PostAlertsKeyed is PostAlerts for alerts that came with their raw keys
// (keys[i] is alerts[i]'s): it records the keys for LookupRaw.
func (e *Engine) PostAlertsKeyed(ctx context.Context, alerts []store.Alert, keys []RawKey) error {
	return e.ingestKeyed(ctx, alerts, keys, "api", true)
}

// indexRaw records k as ent's raw key; call it where ent's annotations
// were just set from the alert k came with. Annotations set from an alert
// without a key (fleetwatch's rules) forget the annotations key: they are
// not the bytes it stood for.
func (e *Engine) indexRaw(ent *alertEntry, k *RawKey) {
	if k == nil || k.Labels == 0 {
		ent.rawAnn = 0
		return
	}
	if ent.rawLabels != k.Labels {
		e.unindexRaw(ent)
		ent.rawLabels = k.Labels
		e.byRaw[k.Labels] = ent
	}
	ent.rawAnn = k.Annotations
}

// unindexRaw forgets ent's raw key (ent is being dropped, or a sender
// wrote it differently).
func (e *Engine) unindexRaw(ent *alertEntry) {
	if ent.rawLabels != 0 && e.byRaw[ent.rawLabels] == ent {
		delete(e.byRaw, ent.rawLabels)
	}
	ent.rawLabels, ent.rawAnn = 0, 0
}
