package bmc

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Fault is something that can go wrong with a simulated BMC.
type Fault string

// The faults.
const (
	FanStop      Fault = "fan_stop"      // the first fan of each chassis reads 0 and is Critical
	PSUFail      Fault = "psu_fail"      // the first power supply is Critical and delivers nothing
	DIMMErrors   Fault = "dimm_ue"       // the first DIMM counts uncorrectable ECC errors and logs an entry
	Hang         Fault = "hang"          // requests get no answer
	HTTP500      Fault = "http_500"      // every request answers 500
	HTMLPage     Fault = "html"          // every request answers an HTML page with status 200
	Truncated    Fault = "truncated"     // bodies are cut in half
	Malformed    Fault = "malformed"     // bodies are not JSON
	RedirectLoop Fault = "redirect_loop" // every request is redirected to itself
	SessionsFull Fault = "sessions_full" // session logins fail with SessionLimitExceeded
)

// AllFaults lists the faults the control endpoint accepts.
func AllFaults() []Fault {
	return []Fault{FanStop, PSUFail, DIMMErrors, Hang, HTTP500, HTMLPage, Truncated, Malformed, RedirectLoop, SessionsFull}
}

// HandlerOptions configure one simulated BMC.
type HandlerOptions struct {
	// Index numbers the BMC in its fleet; it makes the serial numbers and
	// the drift of readings its own. Negative serves the mockup unchanged.
	Index int
	// Username and Password are required on every request but the service
	// root; an empty Username turns authentication off.
	Username, Password string
	// MaxSessions is the number of sessions the BMC keeps (default 8).
	MaxSessions int
	// NoSessions answers 405 to session logins (basic authentication only).
	NoSessions bool
	// NoExpand ignores $expand, as BMCs without it do.
	NoExpand bool
	// Latency is added to every answer.
	Latency time.Duration
	// Drift is the relative amplitude of reading changes (0.02 = ±2%);
	// 0 keeps the mockup's readings. Ignored when Index is negative.
	Drift float64
	// Now returns the time (tests); default time.Now.
	Now func() time.Time
}

// Action is a POST or PATCH the BMC received.
type Action struct {
	Time   time.Time       `json:"time"`
	Method string          `json:"method"`
	Path   string          `json:"path"`
	Body   json.RawMessage `json:"body"`
}

// BMC is one simulated Redfish service. It is an http.Handler.
type BMC struct {
	m     *Mockup
	opts  HandlerOptions
	start time.Time
	sfx   string

	requests atomic.Int64
	logins   atomic.Int64
	logouts  atomic.Int64

	mu       sync.Mutex
	faults   map[Fault]time.Time // fault → since
	sessions map[string]string   // token → session id
	nextSess int
	actions  []Action
	patches  map[string]map[string]any // resource key → properties merged over the mockup
}

// NewBMC builds a simulated BMC serving m.
func NewBMC(m *Mockup, opts HandlerOptions) *BMC {
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = 8
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	b := &BMC{m: m, opts: opts, start: opts.Now(), faults: map[Fault]time.Time{}, sessions: map[string]string{}, patches: map[string]map[string]any{}}
	if opts.Index >= 0 {
		b.sfx = fmt.Sprintf("-%05d", opts.Index)
	} else {
		b.opts.Drift = 0
	}
	return b
}

// Mockup returns the name of the mockup served.
func (b *BMC) Mockup() string { return b.m.Name }

// SetFault turns a fault on or off.
func (b *BMC) SetFault(f Fault, on bool) error {
	known := false
	for _, k := range AllFaults() {
		known = known || k == f
	}
	if !known {
		return fmt.Errorf("unknown fault %q (known: %v)", f, AllFaults())
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !on {
		delete(b.faults, f)
		return nil
	}
	if _, ok := b.faults[f]; !ok {
		b.faults[f] = b.opts.Now()
	}
	return nil
}

// Faults returns the active faults, sorted.
func (b *BMC) Faults() []Fault {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Fault, 0, len(b.faults))
	for f := range b.faults {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// ExpireSessions forgets every session, as a BMC reboot or timeout does.
func (b *BMC) ExpireSessions() {
	b.mu.Lock()
	b.sessions = map[string]string{}
	b.mu.Unlock()
}

// Sessions is the number of open sessions.
func (b *BMC) Sessions() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.sessions)
}

// Logins and Logouts count session creations and deletions; Requests counts
// every request.
func (b *BMC) Logins() int64   { return b.logins.Load() }
func (b *BMC) Logouts() int64  { return b.logouts.Load() }
func (b *BMC) Requests() int64 { return b.requests.Load() }

// Actions returns the POST and PATCH requests received (logins excluded).
func (b *BMC) Actions() []Action {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Action(nil), b.actions...)
}

func (b *BMC) fault(f Fault) (time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.faults[f]
	return t, ok
}

func (b *BMC) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.requests.Add(1)
	if d := b.opts.Latency; d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if _, ok := b.fault(Hang); ok {
		<-r.Context().Done()
		return
	}
	if _, ok := b.fault(HTTP500); ok {
		writeError(w, 500, "Base.1.8.InternalError", "The request failed due to an internal service error.")
		return
	}
	if _, ok := b.fault(RedirectLoop); ok {
		http.Redirect(w, r, r.URL.RequestURI(), http.StatusFound)
		return
	}
	if _, ok := b.fault(HTMLPage); ok {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html><head><title>BMC busy - please log in again</title></head><body><h1>Service temporarily unavailable</h1></body></html>")
		return
	}
	key := Key(r.URL.Path)
	if key == "/redfish" {
		writeJSON(w, 200, []byte(`{"v1":"/redfish/v1/"}`))
		return
	}
	isRoot := key == "/redfish/v1"
	if strings.HasSuffix(key, "/sessionservice/sessions") && r.Method == http.MethodPost {
		b.login(w, r)
		return
	}
	if !isRoot && !b.authorized(r) {
		writeError(w, 401, "Base.1.8.NoValidSession", "There is no valid session established with the implementation.")
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		b.get(w, r, key)
	case http.MethodDelete:
		b.deleteSession(w, r, key)
	case http.MethodPost:
		b.post(w, r, key)
	case http.MethodPatch:
		b.patch(w, r, key)
	default:
		writeError(w, 405, "Base.1.8.OperationNotAllowed", "The HTTP method is not allowed on this resource.")
	}
}

func writeError(w http.ResponseWriter, status int, id, msg string) {
	body, _ := json.Marshal(map[string]any{"error": map[string]any{
		"code": id, "message": msg,
		"@Message.ExtendedInfo": []map[string]any{{"MessageId": id, "Message": msg, "Severity": "Critical"}},
	}})
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("OData-Version", "4.0")
	w.WriteHeader(status)
	w.Write(body)
}

func (b *BMC) authorized(r *http.Request) bool {
	if b.opts.Username == "" {
		return true
	}
	if tok := r.Header.Get("X-Auth-Token"); tok != "" {
		b.mu.Lock()
		_, ok := b.sessions[tok]
		b.mu.Unlock()
		return ok
	}
	u, p, ok := r.BasicAuth()
	return ok && subtle.ConstantTimeCompare([]byte(u), []byte(b.opts.Username)) == 1 &&
		subtle.ConstantTimeCompare([]byte(p), []byte(b.opts.Password)) == 1
}

func (b *BMC) login(w http.ResponseWriter, r *http.Request) {
	if b.opts.NoSessions {
		writeError(w, 405, "Base.1.8.OperationNotAllowed", "Sessions are not supported.")
		return
	}
	var req struct{ UserName, Password string }
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil {
		writeError(w, 400, "Base.1.8.MalformedJSON", "The request body submitted was malformed JSON.")
		return
	}
	if b.opts.Username != "" && (req.UserName != b.opts.Username || req.Password != b.opts.Password) {
		writeError(w, 401, "Base.1.8.NoValidSession", "Invalid user name or password.")
		return
	}
	b.mu.Lock()
	_, full := b.faults[SessionsFull]
	if full || len(b.sessions) >= b.opts.MaxSessions {
		b.mu.Unlock()
		writeError(w, 503, "Base.1.8.SessionLimitExceeded", "The session establishment failed due to the number of simultaneous sessions exceeding the limit of the implementation.")
		return
	}
	b.nextSess++
	id := fmt.Sprintf("%d", b.nextSess)
	var raw [16]byte
	_, _ = rand.Read(raw[:])
	tok := hex.EncodeToString(raw[:])
	b.sessions[tok] = id
	b.mu.Unlock()
	b.logins.Add(1)
	loc := "/redfish/v1/SessionService/Sessions/" + id
	w.Header().Set("X-Auth-Token", tok)
	w.Header().Set("Location", loc)
	body, _ := json.Marshal(map[string]any{"@odata.id": loc, "@odata.type": "#Session.v1_7_0.Session", "Id": id, "Name": "User Session", "UserName": req.UserName})
	writeJSON(w, 201, body)
}

func (b *BMC) deleteSession(w http.ResponseWriter, r *http.Request, key string) {
	prefix := "/redfish/v1/sessionservice/sessions/"
	if !strings.HasPrefix(key, prefix) {
		writeError(w, 405, "Base.1.8.OperationNotAllowed", "DELETE is not allowed on this resource.")
		return
	}
	id := strings.TrimPrefix(key, prefix)
	b.mu.Lock()
	found := false
	for tok, sid := range b.sessions {
		if sid == id {
			delete(b.sessions, tok)
			found = true
		}
	}
	b.mu.Unlock()
	if !found {
		writeError(w, 404, "Base.1.8.ResourceMissingAtURI", "The resource at the URI was not found.")
		return
	}
	b.logouts.Add(1)
	w.WriteHeader(http.StatusNoContent)
}

func (b *BMC) record(r *http.Request, body []byte) {
	b.mu.Lock()
	b.actions = append(b.actions, Action{Time: b.opts.Now(), Method: r.Method, Path: r.URL.Path, Body: append(json.RawMessage(nil), body...)})
	b.mu.Unlock()
}

// post handles ComputerSystem.Reset; other actions are recorded and accepted.
func (b *BMC) post(w http.ResponseWriter, r *http.Request, key string) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	if !json.Valid(body) {
		writeError(w, 400, "Base.1.8.MalformedJSON", "The request body submitted was malformed JSON.")
		return
	}
	const suffix = "/actions/computersystem.reset"
	if !strings.HasSuffix(key, suffix) {
		if _, ok := b.m.files[key]; !ok && !strings.Contains(key, "/actions/") {
			writeError(w, 404, "Base.1.8.ResourceMissingAtURI", "The resource at the URI was not found.")
			return
		}
		b.record(r, body)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	sys := strings.TrimSuffix(key, suffix)
	res, ok := b.m.files[sys]
	if !ok {
		writeError(w, 404, "Base.1.8.ResourceMissingAtURI", "The resource at the URI was not found.")
		return
	}
	var req struct{ ResetType string }
	_ = json.Unmarshal(body, &req)
	allowed := b.allowedResets(res)
	okType := false
	for _, a := range allowed {
		okType = okType || a == req.ResetType
	}
	if req.ResetType == "" || (len(allowed) > 0 && !okType) {
		writeError(w, 400, "Base.1.8.ActionParameterValueNotInList", fmt.Sprintf("The value %q for the parameter ResetType is not in the list of acceptable values %v.", req.ResetType, allowed))
		return
	}
	b.record(r, body)
	state := ""
	switch req.ResetType {
	case "On", "ForceOn", "GracefulRestart", "ForceRestart", "PowerCycle", "Nmi":
		state = "On"
	case "ForceOff", "GracefulShutdown", "PushPowerButton":
		state = "Off"
	}
	if state != "" {
		b.mu.Lock()
		mergePatch(b.patches, sys, map[string]any{"PowerState": state})
		b.mu.Unlock()
	}
	w.WriteHeader(http.StatusNoContent)
}

// allowedResets reads ResetType@Redfish.AllowableValues of a system, or its
// ActionInfo's parameter.
func (b *BMC) allowedResets(sys *resource) []string {
	var doc struct {
		Actions map[string]struct {
			Allowable  []string `json:"ResetType@Redfish.AllowableValues"`
			ActionInfo string   `json:"@Redfish.ActionInfo"`
		}
	}
	_ = json.Unmarshal(sys.raw, &doc)
	a := doc.Actions["#ComputerSystem.Reset"]
	if len(a.Allowable) > 0 {
		return a.Allowable
	}
	if info, ok := b.m.files[Key(a.ActionInfo)]; ok {
		var ai struct {
			Parameters []struct {
				Name            string
				AllowableValues []string
			}
		}
		_ = json.Unmarshal(info.raw, &ai)
		for _, p := range ai.Parameters {
			if p.Name == "ResetType" {
				return p.AllowableValues
			}
		}
	}
	return nil
}

func (b *BMC) patch(w http.ResponseWriter, r *http.Request, key string) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	var props map[string]any
	if err := json.Unmarshal(body, &props); err != nil {
		writeError(w, 400, "Base.1.8.MalformedJSON", "The request body submitted was malformed JSON.")
		return
	}
	if _, ok := b.m.files[key]; !ok {
		writeError(w, 404, "Base.1.8.ResourceMissingAtURI", "The resource at the URI was not found.")
		return
	}
	b.record(r, body)
	b.mu.Lock()
	mergePatch(b.patches, key, props)
	b.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func mergePatch(patches map[string]map[string]any, key string, props map[string]any) {
	dst := patches[key]
	if dst == nil {
		dst = map[string]any{}
		patches[key] = dst
	}
	deepMerge(dst, props)
}

func deepMerge(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				deepMerge(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}
