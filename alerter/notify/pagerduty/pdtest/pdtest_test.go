package pdtest

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

const key = "0123456789abcdef0123456789abcdef"

func post(t *testing.T, url, body string) (int, map[string]any, http.Header) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out, resp.Header
}

// TestValidation checks the fake refuses what PagerDuty documents it
// refuses, with PagerDuty's answer shape.
func TestValidation(t *testing.T) {
	trigger := `"payload":{"summary":"s","source":"h","severity":"critical"}`
	for _, tc := range []struct {
		name, path, body string
		status           int
		errHas           string
	}{
		{"trigger", "/v2/enqueue", `{"routing_key":"` + key + `","event_action":"trigger","dedup_key":"d1",` + trigger + `}`, 202, ""},
		{"trigger without key", "/v2/enqueue", `{"routing_key":"` + key + `","event_action":"trigger",` + trigger + `}`, 202, ""},
		{"short routing key", "/v2/enqueue", `{"routing_key":"abc","event_action":"trigger",` + trigger + `}`, 400, "routing_key"},
		{"bad action", "/v2/enqueue", `{"routing_key":"` + key + `","event_action":"page"}`, 400, "event_action"},
		{"no payload", "/v2/enqueue", `{"routing_key":"` + key + `","event_action":"trigger"}`, 400, "'payload' is missing"},
		{"no source", "/v2/enqueue", `{"routing_key":"` + key + `","event_action":"trigger","payload":{"summary":"s","severity":"info"}}`, 400, "payload.source"},
		{"bad severity", "/v2/enqueue", `{"routing_key":"` + key + `","event_action":"trigger","payload":{"summary":"s","source":"h","severity":"high"}}`, 400, "payload.severity"},
		{"long summary", "/v2/enqueue", `{"routing_key":"` + key + `","event_action":"trigger","payload":{"summary":"` + strings.Repeat("x", 1025) + `","source":"h","severity":"info"}}`, 400, "too long"},
		{"long dedup key", "/v2/enqueue", `{"routing_key":"` + key + `","event_action":"resolve","dedup_key":"` + strings.Repeat("k", 256) + `"}`, 400, "dedup_key"},
		{"resolve without dedup key", "/v2/enqueue", `{"routing_key":"` + key + `","event_action":"resolve"}`, 400, "dedup_key"},
		{"not json", "/v2/enqueue", `{`, 400, "not valid JSON"},
		{"change", "/v2/change/enqueue", `{"routing_key":"` + key + `","payload":{"summary":"deploy"}}`, 202, ""},
		{"change without summary", "/v2/change/enqueue", `{"routing_key":"` + key + `","payload":{}}`, 400, "payload.summary"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewServer(t)
			status, out, _ := post(t, s.URL+tc.path, tc.body)
			if status != tc.status {
				t.Fatalf("status %d, want %d (%v)", status, tc.status, out)
			}
			if status == 202 {
				if out["status"] != "success" || (tc.path == "/v2/enqueue" && out["dedup_key"] == "") {
					t.Errorf("answer %v", out)
				}
				return
			}
			errs, _ := json.Marshal(out["errors"])
			if out["status"] != "invalid event" || !strings.Contains(string(errs), tc.errHas) {
				t.Errorf("answer %v, want errors mentioning %q", out, tc.errHas)
			}
			if len(s.Accepted()) != 0 || len(s.Events()) != 1 {
				t.Errorf("accepted %d, recorded %d", len(s.Accepted()), len(s.Events()))
			}
		})
	}
}

func TestFailuresAndState(t *testing.T) {
	s := NewServer(t)
	s.FailNext(1, 429, "9")
	s.FailNext(1, 500, "")
	ev := `{"routing_key":"` + key + `","event_action":"%s","dedup_key":"inc-1","payload":{"summary":"s","source":"h","severity":"error"}}`
	for _, want := range []int{429, 500, 202} {
		status, _, h := post(t, s.EnqueueURL(), strings.Replace(ev, "%s", "trigger", 1))
		if status != want {
			t.Fatalf("status %d, want %d", status, want)
		}
		if want == 429 && h.Get("Retry-After") != "9" {
			t.Errorf("Retry-After %q", h.Get("Retry-After"))
		}
	}
	for _, a := range []string{"trigger", "acknowledge", "resolve", "trigger"} {
		post(t, s.EnqueueURL(), strings.Replace(ev, "%s", a, 1))
	}
	a, ok := s.Alert("inc-1")
	if !ok || a.State != "triggered" || a.Pages != 2 || a.Triggers != 3 {
		t.Errorf("alert %+v, want re-triggered after resolve: 2 pages, 3 triggers", a)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if got, err := s.WaitAccepted(ctx, 5); err != nil || len(got) != 5 {
		t.Errorf("WaitAccepted: %d %v", len(got), err)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel2()
	if _, err := s.WaitAccepted(short, 6); err == nil {
		t.Error("WaitAccepted returned without the 6th event")
	}
}

func TestStall(t *testing.T) {
	s := NewServer(t)
	s.Stall(2)
	ev := `{"routing_key":"` + key + `","event_action":"trigger","dedup_key":"%s","payload":{"summary":"s","source":"h","severity":"error"}}`
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	// A sender that gives up while held leaves nothing behind.
	short, cancelShort := context.WithCancel(ctx)
	gaveUp := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(short, http.MethodPost, s.EnqueueURL(), strings.NewReader(strings.Replace(ev, "%s", "gone", 1)))
		_, err := http.DefaultClient.Do(req)
		gaveUp <- err
	}()
	if err := s.WaitHeld(ctx, 1); err != nil {
		t.Fatal(err)
	}
	cancelShort()
	if err := <-gaveUp; err == nil {
		t.Fatal("a cancelled request got an answer")
	}
	waitHeld(t, s, 0)
	if len(s.Events()) != 0 {
		t.Fatalf("dropped request recorded: %+v", s.Events())
	}

	// A held request is handled once released.
	answered := make(chan int, 1)
	go func() {
		resp, err := http.Post(s.EnqueueURL(), "application/json", strings.NewReader(strings.Replace(ev, "%s", "held", 1)))
		if err != nil {
			answered <- 0
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	if err := s.WaitHeld(ctx, 1); err != nil {
		t.Fatal(err)
	}
	select {
	case st := <-answered:
		t.Fatalf("held request answered %d before Release", st)
	case <-time.After(50 * time.Millisecond):
	}
	s.Release()
	if st := <-answered; st != http.StatusAccepted {
		t.Fatalf("released request: status %d", st)
	}
	if _, ok := s.Alert("held"); !ok {
		t.Fatal("released trigger not applied")
	}
	// The stall is used up: the next request is not held.
	if status, _, _ := post(t, s.EnqueueURL(), strings.Replace(ev, "%s", "next", 1)); status != http.StatusAccepted {
		t.Fatalf("status %d", status)
	}
}

func waitHeld(t *testing.T, s *Server, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.Held() != n {
		if time.Now().After(deadline) {
			t.Fatalf("held %d, want %d", s.Held(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
