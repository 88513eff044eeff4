package notifyutil

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"30", 30 * time.Second},
		{" 5 ", 5 * time.Second},
		{"0", 0},
		{"-3", 0},
		{"soon", 0},
		{"999999999", 24 * time.Hour},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := ParseRetryAfter(tc.in, now); got != tc.want {
				t.Errorf("ParseRetryAfter(%q) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"30", "Sat, 14 Mar 2026 09:01:30 GMT", "", "-1", "1e9"} {
		f.Add(s)
	}
	now := time.Now()
	f.Fuzz(func(t *testing.T, s string) {
		if d := ParseRetryAfter(s, now); d < 0 {
			t.Errorf("negative wait %s for %q", d, s)
		}
	})
}

func TestURLSecrets(t *testing.T) {
	raw := "https://user:pa55w0rd-long@hooks.example/services/T0FLEET01/B0WATCH02/xoxbS3cr3t?token=abcdefgh123&x=1"
	text := "POST " + raw + " answered: bad token xoxbS3cr3t, user:pa55w0rd-long, abcdefgh123, T0FLEET01"
	got := Redact(text, URLSecrets(raw)...)
	for _, s := range []string{"xoxbS3cr3t", "pa55w0rd-long", "abcdefgh123", "T0FLEET01", "hooks.example/services"} {
		if strings.Contains(got, s) {
			t.Errorf("%q left in %q", s, got)
		}
	}
	if !strings.Contains(got, "answered: bad token") {
		t.Errorf("redaction ate the message: %q", got)
	}
}
