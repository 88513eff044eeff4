package web

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/store"
)

//go:embed templates static
var assets embed.FS

// pageNames are the templates under templates/, each rendered inside
// layout.html.
var pageNames = []string{"incidents", "incident", "silences", "fleet", "targets", "login", "error"}

func parsePages() (map[string]*template.Template, error) {
	out := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		t, err := template.New("layout.html").Funcs(funcs()).ParseFS(assets, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

// view is what every page template gets.
type view struct {
	Page  string
	Title string
	User  principal
	// CanAct shows action buttons (an Actions implementation is wired and
	// the user's token is not read-only).
	CanAct     bool
	AuthOn     bool
	Now        time.Time
	D          any
	StatusCode int
}

func (u *UI) render(w http.ResponseWriter, r *http.Request, code int, page string, p principal, data any) {
	t := u.pages[page]
	title := page
	if tp, ok := data.(interface{ title() string }); ok {
		title = tp.title()
	}
	v := view{
		Page: page, Title: title, User: p, CanAct: u.o.Actions != nil && !p.ReadOnly && p.Name != "",
		AuthOn: u.o.Auth != nil, Now: u.now(), D: data, StatusCode: code,
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", v); err != nil {
		u.log.Error("rendering page", "page", page, "err", err)
		http.Error(w, "fleetwatch: rendering "+page+" failed; see the server log", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

type errorData struct {
	Code    int
	Message string
}

func (e errorData) title() string { return http.StatusText(e.Code) }

func (u *UI) errorPage(w http.ResponseWriter, r *http.Request, p principal, code int, msg string) {
	u.render(w, r, code, "error", p, errorData{Code: code, Message: msg})
}

// actionError turns an Actions error into the right page.
func (u *UI) actionError(w http.ResponseWriter, r *http.Request, p principal, what string, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, store.ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, store.ErrConflict):
		code = http.StatusConflict
	case errors.Is(err, ErrInvalid):
		code = http.StatusBadRequest
	}
	if code == http.StatusInternalServerError {
		u.log.Error("action failed", "action", what, "user", p.Name, "err", err)
	}
	u.errorPage(w, r, p, code, fmt.Sprintf("%s failed: %v", what, err))
}

func funcs() template.FuncMap {
	return template.FuncMap{
		"ts":      fmtTime,
		"ago":     ago,
		"dur":     fmtDuration,
		"since":   func(a, b time.Time) string { return fmtDuration(b.Sub(a)) },
		"labels":  sortedLabels,
		"isZero":  func(t time.Time) bool { return t.IsZero() },
		"lower":   strings.ToLower,
		"healthy": func(h string) bool { return h == "up" },
		"list":    func(s ...string) []string { return s },
		"minus":   func(a, b int) int { return b - a },
		"dict": func(kv ...any) (map[string]any, error) {
			if len(kv)%2 != 0 {
				return nil, errors.New("dict: odd number of arguments")
			}
			m := make(map[string]any, len(kv)/2)
			for i := 0; i < len(kv); i += 2 {
				k, ok := kv[i].(string)
				if !ok {
					return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
				}
				m[k] = kv[i+1]
			}
			return m, nil
		},
	}
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// ago says how long before now t was, coarsely ("3m", "2h5m", "4d").
func ago(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return fmtDuration(now.Sub(t))
}

func fmtDuration(d time.Duration) string {
	neg := d < 0
	if neg {
		d = -d
	}
	var s string
	switch {
	case d < time.Second:
		s = d.Round(time.Millisecond).String()
	case d < time.Minute:
		s = fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		s = fmt.Sprintf("%dm%ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		s = fmt.Sprintf("%dh%dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		s = fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
	}
	if neg {
		return "-" + s
	}
	return s
}

// kv is one label pair for templates.
type kv struct{ K, V string }

func sortedLabels(m map[string]string) []kv {
	out := make([]kv, 0, len(m))
	for k, v := range m {
		out = append(out, kv{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].K < out[j].K })
	return out
}
