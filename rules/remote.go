package rules

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	promrules "github.com/prometheus/prometheus/rules"
)

// maxRemoteResponse bounds the body read from a remote query endpoint.
const maxRemoteResponse = 256 << 20

// RemoteQueryFunc returns a Prometheus rules.QueryFunc that sends each
// instant query to <baseURL>/api/v1/query (Prometheus, VictoriaMetrics,
// Mimir and Thanos all serve it) as a form POST and decodes the vector or
// scalar result. Errors name the endpoint and carry the server's errorType
// and message. client nil means http.DefaultClient. The query's context
// (deadline included) is the request's.
func RemoteQueryFunc(baseURL string, client *http.Client) promrules.QueryFunc {
	if client == nil {
		client = http.DefaultClient
	}
	endpoint := strings.TrimRight(baseURL, "/") + "/api/v1/query"
	return func(ctx context.Context, q string, t time.Time) (promql.Vector, error) {
		form := url.Values{}
		form.Set("query", q)
		form.Set("time", strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', -1, 64))
		if dl, ok := ctx.Deadline(); ok {
			if d := time.Until(dl); d > 0 {
				form.Set("timeout", d.Truncate(time.Millisecond).String())
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
		if err != nil {
			return nil, fmt.Errorf("remote query %s: %w", endpoint, err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("remote query %s: %w", endpoint, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxRemoteResponse))
		if err != nil {
			return nil, fmt.Errorf("remote query %s: reading response: %w", endpoint, err)
		}
		v, err := DecodeQueryResponse(body)
		if err != nil {
			return nil, fmt.Errorf("remote query %s (HTTP %d): %w", endpoint, resp.StatusCode, err)
		}
		return v, nil
	}
}

type queryResponse struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
}

type vectorSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// DecodeQueryResponse decodes the JSON of a Prometheus /api/v1/query answer
// into a vector; a scalar becomes one sample without labels, as in
// rules.EngineQueryFunc. Native-histogram samples are not supported.
func DecodeQueryResponse(body []byte) (promql.Vector, error) {
	var r queryResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("decoding response: %w", err)
	}
	if r.Status != "success" {
		if r.Status == "" {
			return nil, fmt.Errorf("not a Prometheus API response: %.200q", body)
		}
		return nil, fmt.Errorf("%s: %s", r.ErrorType, r.Error)
	}
	switch r.Data.ResultType {
	case "vector":
		var samples []vectorSample
		if err := json.Unmarshal(r.Data.Result, &samples); err != nil {
			return nil, fmt.Errorf("decoding vector: %w", err)
		}
		out := make(promql.Vector, 0, len(samples))
		for i, s := range samples {
			t, f, err := decodePoint(s.Value)
			if err != nil {
				return nil, fmt.Errorf("sample %d: %w", i, err)
			}
			out = append(out, promql.Sample{Metric: labels.FromMap(s.Metric), T: t, F: f})
		}
		return out, nil
	case "scalar":
		var p [2]any
		if err := json.Unmarshal(r.Data.Result, &p); err != nil {
			return nil, fmt.Errorf("decoding scalar: %w", err)
		}
		t, f, err := decodePoint(p)
		if err != nil {
			return nil, err
		}
		return promql.Vector{{Metric: labels.EmptyLabels(), T: t, F: f}}, nil
	default:
		return nil, fmt.Errorf("rule result is not a vector or scalar (got %q)", r.Data.ResultType)
	}
}

// decodePoint decodes [<unix seconds>, "<value>"].
func decodePoint(p [2]any) (int64, float64, error) {
	ts, ok := p[0].(float64)
	if !ok {
		return 0, 0, fmt.Errorf("bad timestamp %v", p[0])
	}
	vs, ok := p[1].(string)
	if !ok {
		return 0, 0, fmt.Errorf("bad value %v", p[1])
	}
	f, err := strconv.ParseFloat(vs, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("bad value %q: %w", vs, err)
	}
	return int64(math.Round(ts * 1000)), f, nil
}
