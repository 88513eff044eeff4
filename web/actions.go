package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	amlabels "github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/common/model"

	"github.com/fleetwatch/fleetwatch/alerter/store"
)

const (
	maxNoteLen          = 4000
	maxCommentLen       = 1000
	maxSilenceDuration  = 30 * 24 * time.Hour
	defaultSilenceUntil = 2 * time.Hour
)

// haveActions answers 501 when no Actions implementation is wired.
func (u *UI) haveActions(w http.ResponseWriter, r *http.Request, p principal) bool {
	if u.o.Actions == nil {
		u.errorPage(w, r, p, http.StatusNotImplemented, "This fleetwatch has no alerter wired to the UI: actions are not available.")
		return false
	}
	return true
}

func (u *UI) done(w http.ResponseWriter, r *http.Request, path, key string) {
	http.Redirect(w, r, path+"?done="+url.QueryEscape(key), http.StatusSeeOther)
}

func incidentPath(id string) string { return "/incidents/" + url.PathEscape(id) }

func (u *UI) simple(name string, call func(r *http.Request, id, actor string) error) func(http.ResponseWriter, *http.Request, principal) {
	return func(w http.ResponseWriter, r *http.Request, p principal) {
		if !u.haveActions(w, r, p) {
			return
		}
		id := r.PathValue("id")
		err := call(r, id, p.actor())
		u.countAction(name, err)
		if err != nil {
			u.actionError(w, r, p, fmt.Sprintf("%s of incident %q", name, id), err)
			return
		}
		u.log.Info("incident action", "action", name, "incident", id, "user", p.Name)
		u.done(w, r, incidentPath(id), name)
	}
}

func (u *UI) ackAction(w http.ResponseWriter, r *http.Request, p principal) {
	u.simple("ack", func(r *http.Request, id, actor string) error { return u.o.Actions.Ack(r.Context(), id, actor) })(w, r, p)
}

func (u *UI) resolveAction(w http.ResponseWriter, r *http.Request, p principal) {
	u.simple("resolve", func(r *http.Request, id, actor string) error { return u.o.Actions.Resolve(r.Context(), id, actor) })(w, r, p)
}

func (u *UI) noteAction(w http.ResponseWriter, r *http.Request, p principal) {
	u.simple("note", func(r *http.Request, id, actor string) error {
		text := strings.TrimSpace(r.PostFormValue("text"))
		if text == "" {
			return fmt.Errorf("%w: field text: the note is empty", ErrInvalid)
		}
		if utf8.RuneCountInString(text) > maxNoteLen {
			return fmt.Errorf("%w: field text: the note is longer than %d characters", ErrInvalid, maxNoteLen)
		}
		return u.o.Actions.AddNote(r.Context(), id, actor, text)
	})(w, r, p)
}

func runParam(r *http.Request) (int64, error) {
	s := r.PathValue("run")
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%w: remediation run %q is not a run number", ErrInvalid, s)
	}
	return n, nil
}

func (u *UI) approveAction(w http.ResponseWriter, r *http.Request, p principal) {
	u.simple("approve", func(r *http.Request, id, actor string) error {
		run, err := runParam(r)
		if err != nil {
			return err
		}
		return u.o.Actions.ApproveRemediation(r.Context(), id, run, actor)
	})(w, r, p)
}

func (u *UI) rejectAction(w http.ResponseWriter, r *http.Request, p principal) {
	u.simple("reject", func(r *http.Request, id, actor string) error {
		run, err := runParam(r)
		if err != nil {
			return err
		}
		reason := strings.TrimSpace(r.PostFormValue("reason"))
		if reason == "" {
			reason = "rejected in the UI"
		}
		return u.o.Actions.RejectRemediation(r.Context(), id, run, actor, reason)
	})(w, r, p)
}

// parseSilenceForm reads a silence from the form fields matchers
// (Alertmanager's syntax: {alertname="X", site=~"dc2|dc3"}), duration
// (30m, 2h, 1d) or ends (RFC 3339), and comment. Errors name the field.
func parseSilenceForm(form url.Values, now time.Time) (store.Silence, error) {
	var s store.Silence
	raw := strings.TrimSpace(form.Get("matchers"))
	if raw == "" || raw == "{}" {
		return s, errors.New("field matchers: at least one matcher is needed, such as {alertname=\"NodeDown\"}")
	}
	ms, err := amlabels.ParseMatchers(raw)
	if err != nil {
		return s, fmt.Errorf("field matchers: %w", err)
	}
	matchesEmpty := true
	for _, m := range ms {
		if !model.LabelName(m.Name).IsValid() {
			return s, fmt.Errorf("field matchers: %q is not a valid label name", m.Name)
		}
		s.Matchers = append(s.Matchers, store.Matcher{
			Name: m.Name, Value: m.Value,
			IsRegex: m.Type == amlabels.MatchRegexp || m.Type == amlabels.MatchNotRegexp,
			IsEqual: m.Type == amlabels.MatchEqual || m.Type == amlabels.MatchRegexp,
		})
		if !m.Matches("") {
			matchesEmpty = false
		}
	}
	if matchesEmpty {
		return s, errors.New("field matchers: the matchers match every alert; name at least one label value")
	}
	s.StartsAt = now
	switch dur, ends := strings.TrimSpace(form.Get("duration")), strings.TrimSpace(form.Get("ends")); {
	case ends != "":
		t, err := time.Parse(time.RFC3339, ends)
		if err != nil {
			return s, fmt.Errorf("field ends: %q is not an RFC 3339 time such as 2026-01-02T15:04:05Z", ends)
		}
		s.EndsAt = t
	case dur != "":
		d, err := model.ParseDuration(dur)
		if err != nil || d <= 0 {
			return s, fmt.Errorf("field duration: %q is not a duration such as 30m, 2h or 1d", dur)
		}
		s.EndsAt = now.Add(time.Duration(d))
	default:
		s.EndsAt = now.Add(defaultSilenceUntil)
	}
	if !s.EndsAt.After(now) {
		return s, errors.New("field ends: the silence would end before it starts")
	}
	if s.EndsAt.Sub(now) > maxSilenceDuration {
		return s, fmt.Errorf("field duration: longer than %s; use a maintenance state for long absences", fmtDuration(maxSilenceDuration))
	}
	s.Comment = strings.TrimSpace(form.Get("comment"))
	if s.Comment == "" {
		return s, errors.New("field comment: say why (the comment is shown to whoever wonders why alerts are quiet)")
	}
	if utf8.RuneCountInString(s.Comment) > maxCommentLen {
		return s, fmt.Errorf("field comment: longer than %d characters", maxCommentLen)
	}
	return s, nil
}

func (u *UI) createSilence(w http.ResponseWriter, r *http.Request, p principal, back string) {
	if !u.haveActions(w, r, p) {
		return
	}
	s, err := parseSilenceForm(r.PostForm, u.now())
	if err != nil {
		u.countAction("silence", err)
		u.errorPage(w, r, p, http.StatusBadRequest, "Silence not created: "+err.Error())
		return
	}
	s.CreatedBy = p.Name
	id, err := u.o.Actions.CreateSilence(r.Context(), s, p.actor())
	u.countAction("silence", err)
	if err != nil {
		u.actionError(w, r, p, "creating the silence", err)
		return
	}
	u.log.Info("silence created", "silence", id, "user", p.Name)
	u.done(w, r, back, "silence")
}

func (u *UI) incidentSilenceAction(w http.ResponseWriter, r *http.Request, p principal) {
	u.createSilence(w, r, p, incidentPath(r.PathValue("id")))
}

func (u *UI) createSilenceAction(w http.ResponseWriter, r *http.Request, p principal) {
	u.createSilence(w, r, p, "/silences")
}

func (u *UI) expireSilenceAction(w http.ResponseWriter, r *http.Request, p principal) {
	if !u.haveActions(w, r, p) {
		return
	}
	id := r.PathValue("sid")
	err := u.o.Actions.ExpireSilence(r.Context(), id, p.actor())
	u.countAction("expire", err)
	if err != nil {
		u.actionError(w, r, p, fmt.Sprintf("expiring silence %q", id), err)
		return
	}
	u.log.Info("silence expired", "silence", id, "user", p.Name)
	u.done(w, r, "/silences", "expire")
}
