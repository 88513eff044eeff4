package amapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	amlabels "github.com/prometheus/alertmanager/pkg/labels"

	"github.com/fleetwatch/fleetwatch/alerter/store"
)

// Matcher is Alertmanager's matcher object. isEqual defaults to true when
// absent, as in Alertmanager.
type Matcher struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	IsRegex bool   `json:"isRegex"`
	IsEqual *bool  `json:"isEqual,omitempty"`
}

// PostableSilence is Alertmanager's postableSilence.
type PostableSilence struct {
	ID        string    `json:"id,omitempty"`
	Matchers  []Matcher `json:"matchers"`
	StartsAt  time.Time `json:"startsAt"`
	EndsAt    time.Time `json:"endsAt"`
	CreatedBy string    `json:"createdBy"`
	Comment   string    `json:"comment"`
}

// SilenceStatus is gettableSilence.status.
type SilenceStatus struct {
	State string `json:"state"` // active, pending, expired
}

// GettableSilence is Alertmanager's gettableSilence.
type GettableSilence struct {
	ID        string          `json:"id"`
	Status    SilenceStatus   `json:"status"`
	UpdatedAt time.Time       `json:"updatedAt"`
	Matchers  []store.Matcher `json:"matchers"`
	StartsAt  time.Time       `json:"startsAt"`
	EndsAt    time.Time       `json:"endsAt"`
	CreatedBy string          `json:"createdBy"`
	Comment   string          `json:"comment"`
}

func (a *API) gettableSilence(s store.Silence) GettableSilence {
	now := a.o.Now()
	st := "active"
	switch {
	case !s.EndsAt.After(now):
		st = "expired"
	case s.StartsAt.After(now):
		st = "pending"
	}
	return GettableSilence{ID: s.ID, Status: SilenceStatus{State: st}, UpdatedAt: s.UpdatedAt, Matchers: s.Matchers,
		StartsAt: s.StartsAt, EndsAt: s.EndsAt, CreatedBy: s.CreatedBy, Comment: s.Comment}
}

func (a *API) getSilences(w http.ResponseWriter, r *http.Request, _ string) {
	var filter []*amlabels.Matcher
	for _, s := range r.URL.Query()["filter"] {
		ms, err := amlabels.ParseMatchers(s)
		if err != nil {
			apiError(w, http.StatusBadRequest, fmt.Sprintf("filter: %q: %v", s, err))
			return
		}
		filter = append(filter, ms...)
	}
	out := []GettableSilence{}
	for _, s := range a.o.Engine.Silences() {
		if silenceHas(s, filter) {
			out = append(out, a.gettableSilence(s))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// silenceHas keeps a silence that has an equality matcher satisfying each
// filter matcher, as Alertmanager's silence filter does.
func silenceHas(s store.Silence, filter []*amlabels.Matcher) bool {
	for _, f := range filter {
		ok := false
		for _, m := range s.Matchers {
			if m.Name == f.Name && !m.IsRegex && m.IsEqual && f.Matches(m.Value) {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// DecodeSilence parses a POST /api/v2/silences body; errors name the field.
func DecodeSilence(body []byte) (store.Silence, error) {
	var p PostableSilence
	if err := json.Unmarshal(body, &p); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return store.Silence{}, fmt.Errorf("silence.%s: want %s, got %s", te.Field, te.Type, te.Value)
		}
		return store.Silence{}, fmt.Errorf("silence: %v", err)
	}
	if len(p.Matchers) == 0 {
		return store.Silence{}, errors.New("matchers: at least one is required")
	}
	s := store.Silence{ID: p.ID, StartsAt: p.StartsAt, EndsAt: p.EndsAt, CreatedBy: p.CreatedBy, Comment: p.Comment}
	for i, m := range p.Matchers {
		if m.Name == "" {
			return store.Silence{}, fmt.Errorf("matchers[%d].name: is required", i)
		}
		eq := m.IsEqual == nil || *m.IsEqual
		s.Matchers = append(s.Matchers, store.Matcher{Name: m.Name, Value: m.Value, IsRegex: m.IsRegex, IsEqual: eq})
	}
	if err := matchesSomething(s.Matchers); err != nil {
		return store.Silence{}, err
	}
	switch {
	case s.StartsAt.IsZero():
		return store.Silence{}, errors.New("startsAt: is required")
	case s.EndsAt.IsZero():
		return store.Silence{}, errors.New("endsAt: is required")
	case !s.EndsAt.After(s.StartsAt):
		return store.Silence{}, errors.New("endsAt: must be after startsAt")
	case s.CreatedBy == "":
		return store.Silence{}, errors.New("createdBy: is required")
	case s.Comment == "":
		return store.Silence{}, errors.New("comment: is required")
	}
	return s, nil
}

func (a *API) postSilence(w http.ResponseWriter, r *http.Request, who string) {
	body, ok := readBody(w, r, 1<<20)
	if !ok {
		return
	}
	s, err := DecodeSilence(body)
	if err != nil {
		apiError(w, http.StatusBadRequest, err.Error())
		return
	}
	if who != "" && who != "anonymous" {
		s.CreatedBy = who // the token's name, not what the body claims
	}
	if s.StartsAt.Before(a.o.Now()) {
		s.StartsAt = a.o.Now()
	}
	id, err := a.o.Engine.PutSilence(r.Context(), s)
	switch {
	case errors.Is(err, store.ErrNotFound):
		apiError(w, http.StatusNotFound, err.Error())
		return
	case err != nil:
		apiError(w, http.StatusBadRequest, err.Error())
		return
	}
	a.o.Logger.Info("silence saved", "silence", id, "by", who)
	writeJSON(w, http.StatusOK, map[string]string{"silenceID": id})
}

func (a *API) getSilence(w http.ResponseWriter, r *http.Request, _ string) {
	s, ok := a.o.Engine.Silence(r.PathValue("id"))
	if !ok {
		apiError(w, http.StatusNotFound, fmt.Sprintf("silence %q not found", r.PathValue("id")))
		return
	}
	writeJSON(w, http.StatusOK, a.gettableSilence(s))
}

func (a *API) deleteSilence(w http.ResponseWriter, r *http.Request, who string) {
	id := r.PathValue("id")
	if err := a.o.Engine.ExpireSilence(r.Context(), id, "api:"+who); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			apiError(w, http.StatusNotFound, err.Error())
			return
		}
		apiError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.WriteHeader(http.StatusOK)
}

// matchesSomething refuses a silence whose matchers all match the empty
// string: it would silence every alert, and Alertmanager refuses it too.
func matchesSomething(ms []store.Matcher) error {
	for i, m := range ms {
		t := amlabels.MatchEqual
		switch {
		case m.IsRegex && m.IsEqual:
			t = amlabels.MatchRegexp
		case m.IsRegex:
			t = amlabels.MatchNotRegexp
		case !m.IsEqual:
			t = amlabels.MatchNotEqual
		}
		matcher, err := amlabels.NewMatcher(t, m.Name, m.Value)
		if err != nil {
			return fmt.Errorf("matchers[%d]: %v", i, err)
		}
		if !matcher.Matches("") {
			return nil
		}
	}
	return errors.New("matchers: at least one must not match the empty string (this silence would silence every alert)")
}
