package incidentapi

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/store"
)

// Client calls the incidents API.
type Client struct {
	// BaseURL is fleetwatch's address, e.g. http://127.0.0.1:9470.
	BaseURL string
	// Token is the bearer token ("" sends none).
	Token string
	HTTP  *http.Client
}

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+path, rd)
	if err != nil {
		return err
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if resp.StatusCode/100 != 2 {
		var e ErrorBody
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, e.Error)
		}
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// List returns incidents matching q (state, severity, site, rack,
// receiver, since, limit).
func (c *Client) List(ctx context.Context, q url.Values) ([]store.Incident, error) {
	var r ListResponse
	err := c.do(ctx, http.MethodGet, "/api/v1/incidents?"+q.Encode(), nil, &r)
	return r.Incidents, err
}

// Get returns one incident with its alerts, timeline and remediations.
func (c *Client) Get(ctx context.Context, id string) (Detail, error) {
	var d Detail
	err := c.do(ctx, http.MethodGet, "/api/v1/incidents/"+url.PathEscape(id), nil, &d)
	return d, err
}

// Ack acknowledges an incident.
func (c *Client) Ack(ctx context.Context, id string) (store.Incident, error) {
	var inc store.Incident
	err := c.do(ctx, http.MethodPost, "/api/v1/incidents/"+url.PathEscape(id)+"/ack", nil, &inc)
	return inc, err
}

// Resolve resolves an incident.
func (c *Client) Resolve(ctx context.Context, id, reason string) (store.Incident, error) {
	var inc store.Incident
	err := c.do(ctx, http.MethodPost, "/api/v1/incidents/"+url.PathEscape(id)+"/resolve", ResolveRequest{Reason: reason}, &inc)
	return inc, err
}

// Note adds a note.
func (c *Client) Note(ctx context.Context, id, text string) (store.TimelineEvent, error) {
	var ev store.TimelineEvent
	err := c.do(ctx, http.MethodPost, "/api/v1/incidents/"+url.PathEscape(id)+"/notes", NoteRequest{Text: text}, &ev)
	return ev, err
}

// Approve approves a remediation run waiting for approval.
func (c *Client) Approve(ctx context.Context, id string, run int64) error {
	return c.do(ctx, http.MethodPost, fmt.Sprintf("/api/v1/incidents/%s/remediations/%d/approve", url.PathEscape(id), run), nil, nil)
}

// RunCLI runs `fleetwatch incidents list|show|ack|resolve|note` with args
// (after "incidents") and returns the exit code: 0 done, 1 the server
// refused or failed, 2 bad usage. The token comes from --token-file or the
// FLEETWATCH_TOKEN variable, the address from --url or FLEETWATCH_URL.
func RunCLI(args []string, stdout, stderr io.Writer) int {
	usage := "usage: fleetwatch incidents list|show ID|ack ID|resolve ID|note ID TEXT [--url URL] [--token-file FILE] [--state S] [--severity S] [--site S] [--rack R] [--since 24h] [--limit N] [--reason TEXT] [--json]"
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	cmd := args[0]
	fs := flag.NewFlagSet("incidents "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	base := fs.String("url", envOr("FLEETWATCH_URL", "http://127.0.0.1:9470"), "fleetwatch's address")
	tokenFile := fs.String("token-file", "", "file holding the bearer token (default: $FLEETWATCH_TOKEN)")
	asJSON := fs.Bool("json", false, "print JSON")
	reason := fs.String("reason", "", "resolve: why")
	q := url.Values{}
	for _, k := range []string{"state", "severity", "site", "rack", "receiver", "since", "limit"} {
		fs.Func(k, "list: filter by "+k, func(v string) error { q.Add(k, v); return nil })
	}
	// Flags may come before or after the positional arguments.
	var pos []string
	rest := args[1:]
	for len(rest) > 0 {
		if err := fs.Parse(rest); err != nil {
			return 2
		}
		rest = fs.Args()
		if len(rest) > 0 {
			pos = append(pos, rest[0])
			rest = rest[1:]
		}
	}
	token := os.Getenv("FLEETWATCH_TOKEN")
	if *tokenFile != "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			fmt.Fprintf(stderr, "token file: %v\n", err)
			return 2
		}
		token = strings.TrimSpace(string(b))
	}
	c := &Client{BaseURL: *base, Token: token}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	need := map[string]int{"list": 0, "show": 1, "ack": 1, "resolve": 1, "note": 2}
	n, ok := need[cmd]
	if !ok || len(pos) < n {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	var out any
	var err error
	switch cmd {
	case "list":
		var incs []store.Incident
		incs, err = c.List(ctx, q)
		if err == nil && !*asJSON {
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATE\tSEVERITY\tALERTS\tCREATED\tTITLE")
			for _, i := range incs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%s\t%s\n", i.ID, i.State, i.Severity, i.FiringCount, i.AlertCount, i.CreatedAt.UTC().Format(time.RFC3339), i.Title)
			}
			tw.Flush()
			return 0
		}
		out = incs
	case "show":
		var d Detail
		d, err = c.Get(ctx, pos[0])
		if err == nil && !*asJSON {
			i := d.Incident
			fmt.Fprintf(stdout, "%s  %s  %s\n%s\n", i.ID, i.State, i.Severity, i.Title)
			if i.Cause != "" {
				fmt.Fprintf(stdout, "cause: %s\n", i.Cause)
			}
			fmt.Fprintf(stdout, "receiver: %s  alerts: %d firing of %d\n\ntimeline:\n", i.Receiver, i.FiringCount, i.AlertCount)
			for _, e := range d.Timeline {
				fmt.Fprintf(stdout, "  %s  %-22s %-20s %s\n", e.Time.UTC().Format(time.RFC3339), e.Kind, e.Actor, e.Summary)
			}
			return 0
		}
		out = d
	case "ack":
		out, err = c.Ack(ctx, pos[0])
	case "resolve":
		out, err = c.Resolve(ctx, pos[0], *reason)
	case "note":
		out, err = c.Note(ctx, pos[0], strings.Join(pos[1:], " "))
	}
	if err != nil {
		fmt.Fprintf(stderr, "fleetwatch incidents %s: %v\n", cmd, err)
		return 1
	}
	if !*asJSON {
		if inc, ok := out.(store.Incident); ok {
			fmt.Fprintf(stdout, "%s %s\n", inc.ID, inc.State)
			return 0
		}
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(out)
	return 0
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
