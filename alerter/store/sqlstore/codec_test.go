package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/store"
)

func TestLabelsJSON(t *testing.T) {
	tests := []struct {
		name string
		in   map[string]string
		want string
	}{
		{"nil", nil, `null`},
		{"empty", map[string]string{}, `{}`},
		{"sorted keys", map[string]string{"b": "2", "a": "1"}, `{"a":"1","b":"2"}`},
		{"escapes", map[string]string{"q": "\"\\\n\r\t\x01"}, `{"q":"\"\\\n\r\t\u0001"}`},
		{"unicode kept", map[string]string{"site": "東京 🚒"}, `{"site":"東京 🚒"}`},
		{"invalid UTF-8 replaced", map[string]string{"k": "a\xffb"}, `{"k":"a\ufffdb"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := labelsJSON(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("labelsJSON = %s, want %s", got, tc.want)
			}
		})
	}
}

// FuzzLabelsJSON: the label encoder writes valid JSON that decodes to what
// encoding/json's own encoding decodes to, for any key and value.
func FuzzLabelsJSON(f *testing.F) {
	for _, s := range [][2]string{{"alertname", "HostDown"}, {"", ""}, {"a\"b", "c\\d\n"}, {"\x00", "\xff\xfe"}, {"\u2028", "東京"}} {
		f.Add(s[0], s[1], "rack", "R12")
	}
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		m := map[string]string{k1: v1, k2: v2}
		got, err := labelsJSON(m)
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid([]byte(got)) {
			t.Fatalf("invalid JSON %q for %q", got, m)
		}
		ref, _ := json.Marshal(m)
		var a, b map[string]string
		if err := json.Unmarshal([]byte(got), &a); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(ref, &b); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("decodes to %q, encoding/json's to %q", a, b)
		}
	})
}

// FuzzStoreRoundTrip: through a real SQLite store, labels come back as they
// went in (valid UTF-8) and event data is kept byte for byte, or refused
// with nothing stored when it is not JSON.
func FuzzStoreRoundTrip(f *testing.F) {
	f.Add("instance", "srv-001:9100", []byte(`{"a":1}`))
	f.Add("", "", []byte(``))
	f.Add("ключ", "значение", []byte(`[1, "x" , null]`))
	f.Add("k", "v", []byte(`{"broken":`))
	s, err := OpenSQLite(filepath.Join(f.TempDir(), "fuzz.db"), Options{Synchronous: SyncNormal})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	n := 0
	f.Fuzz(func(t *testing.T, k, v string, data []byte) {
		n++
		ctx := context.Background()
		id := fmt.Sprintf("fuzz-%d", n)
		labels := map[string]string{k: v}
		// Invalid UTF-8 comes back replaced, as JSON does.
		var want map[string]string
		b, _ := json.Marshal(labels)
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatal(err)
		}
		err := s.Update(ctx, func(tx store.Tx) error {
			_, err := tx.AddEvent(ctx, store.TimelineEvent{IncidentID: id, Time: time.Unix(1, 0), Kind: "note", Labels: labels, Data: data})
			return err
		})
		evs, lerr := s.ListEvents(ctx, store.EventFilter{IncidentID: id})
		if lerr != nil {
			t.Fatal(lerr)
		}
		if len(data) > 0 && !json.Valid(data) {
			if err == nil || len(evs) != 0 {
				t.Fatalf("invalid data %q: err %v, %d stored", data, err, len(evs))
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 1 {
			t.Fatalf("%d events stored", len(evs))
		}
		if !reflect.DeepEqual(evs[0].Labels, want) {
			t.Errorf("labels %q, want %q", evs[0].Labels, want)
		}
		if string(evs[0].Data) != string(data) {
			t.Errorf("data %q, want %q", evs[0].Data, data)
		}
	})
}
