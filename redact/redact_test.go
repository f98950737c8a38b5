package redact_test

import (
	"net/url"
	"testing"

	"github.com/nipa-gpu/gpumeter/redact"
)

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"clickhouse://gm:s3cret@db:9000/metering":                 "clickhouse://gm:xxxxx@db:9000/metering",
		"clickhouse://db:9000/metering?password=s3cret&secure=1":  "clickhouse://db:9000/metering?password=xxxxx&secure=1",
		"https://u:p@portal.example/hook?token=abc&Key=k&other=v": "https://u:xxxxx@portal.example/hook?token=xxxxx&Key=xxxxx&other=v",
		"chdb://./data": "chdb://./data",
		"not a url":     "not a url",
	} {
		if got := redact.Secrets(in); got != want {
			t.Errorf("Secrets(%q) = %q, want %q", in, got, want)
		}
	}
}

// Whatever the secret, in the user info or a query parameter, escaped as a
// URL carries it or not, Secrets' answer does not depend on it: the same as
// for any other secret there. Secrets never panics, and redacting twice
// changes nothing more.
func FuzzRedact(f *testing.F) {
	f.Add("s3cret", "db:9000", "metering")
	f.Add("p@ss/w?rd#", "host", "db?secure=true")
	f.Add("", "", "")
	f.Fuzz(func(t *testing.T, secret, host, path string) {
		once := redact.Secrets(host + path)
		if redact.Secrets(once) != once {
			t.Fatalf("Secrets is not idempotent on %q", host+path)
		}
		for _, c := range []struct {
			before, after string
			escape        func(string) string
		}{
			{"clickhouse://gm:", "@" + host + "/" + path, url.PathEscape},
			{"clickhouse://gm:", "@" + host + "/" + path, func(s string) string { return s }},
			{"https://" + host + "/" + path + "?token=", "", url.QueryEscape},
			{"clickhouse://" + host + "/" + path + "?secure=1&password=", "&x=1", url.QueryEscape},
		} {
			got := redact.Secrets(c.before + c.escape(secret) + c.after)
			if other := redact.Secrets(c.before + c.escape("zzzz") + c.after); got != other {
				t.Fatalf("Secrets(%q) = %q, but with another secret %q: the secret shows", c.before+c.escape(secret)+c.after, got, other)
			}
		}
	})
}
