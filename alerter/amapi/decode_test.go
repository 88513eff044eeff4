package amapi

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
)

// decodeV1 is DecodeAlerts with encoding/json only: the reference the
// faster path must agree with.
func decodeV1(body []byte) ([]alertOrErr, error) {
	var in []PostableAlert
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, err
	}
	out := make([]alertOrErr, 0, len(in))
	for i := range in {
		a, err := convertAlert(&in[i])
		if err != nil {
			return nil, fmt.Errorf("alerts[%d].%w", i, err)
		}
		out = append(out, alertOrErr{a.Labels, a.Annotations, a.StartsAt.String(), a.EndsAt.String(), a.GeneratorURL})
	}
	return out, nil
}

type alertOrErr struct {
	Labels, Annotations map[string]string
	StartsAt, EndsAt    string
	GeneratorURL        string
}

func decodeFast(body []byte) ([]alertOrErr, error) {
	as, err := DecodeAlerts(body)
	if err != nil {
		return nil, err
	}
	out := make([]alertOrErr, 0, len(as))
	for _, a := range as {
		out = append(out, alertOrErr{a.Labels, a.Annotations, a.StartsAt.String(), a.EndsAt.String(), a.GeneratorURL})
	}
	return out, nil
}

var decodeCases = []struct{ name, body string }{
	{"plain", `[{"labels": {"alertname": "X", "instance": "h1"}, "annotations": {"summary": "s"}, "startsAt": "2026-01-01T00:00:00Z", "endsAt": "2026-01-01T01:00:00.5Z", "generatorURL": "http://p"}]`},
	{"names in another case", `[{"Labels": {"alertname": "X"}, "ANNOTATIONS": {"a": "b"}}]`},
	{"duplicate names", `[{"labels": {"alertname": "X"}, "labels": {"alertname": "Y", "alertname": "Z"}}]`},
	{"duplicate label names", `[{"labels": {"alertname": "Y", "alertname": "Z"}, "annotations": {"a": "1", "a": "2"}}]`},
	{"escaped times and URL", `[{"labels": {"alertname": "X"}, "startsAt": "2026-01-01T00:00:00\u005a", "generatorURL": "http://p/\u0067"}]`},
	{"invalid UTF-8", "[{\"labels\": {\"alertname\": \"X\xff\"}}]"},
	{"unknown field", `[{"labels": {"alertname": "X"}, "status": {"state": "active"}}]`},
	{"null fields", `[{"labels": {"alertname": "X"}, "annotations": null, "startsAt": null}]`},
	{"empty label value", `[{"labels": {"alertname": "X", "env": ""}}]`},
	{"escapes", `[{"labels": {"alertname": "X\u00e9\n\"q\""}}]`},
	{"empty array", `[]`},
	{"null", `null`},
}

// TestDecodeAgreesWithEncodingJSON: the fast path gives what
// encoding/json gives, accepted or refused, on the bodies where the two
// decoders' defaults differ.
func TestDecodeAgreesWithEncodingJSON(t *testing.T) {
	for _, c := range decodeCases {
		t.Run(c.name, func(t *testing.T) {
			checkSameDecode(t, []byte(c.body))
		})
	}
}

func checkSameDecode(t *testing.T, body []byte) {
	want, werr := decodeV1(body)
	got, gerr := decodeFast(body)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("encoding/json: %v, DecodeAlerts: %v, body %q", werr, gerr, body)
	}
	if werr == nil && !reflect.DeepEqual(want, got) {
		t.Fatalf("body %q:\nencoding/json %+v\nDecodeAlerts  %+v", body, want, got)
	}
}

func FuzzDecodeAgreesWithEncodingJSON(f *testing.F) {
	for _, c := range decodeCases {
		f.Add([]byte(c.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkSameDecode(t, body) })
}

func BenchmarkDecodeAlerts(b *testing.B) {
	body := batches(b, 100)[0]
	b.ReportAllocs()
	for range b.N {
		if _, err := DecodeAlerts(body); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(100*b.N)/b.Elapsed().Seconds(), "alerts/s")
}
